/*
 * escape: makes outbound connections the ways a syscall-hook sensor does
 * not see, for the socket address hook tests. Build it 64-bit with liburing
 * (-DHAVE_LIBURING ... -luring) and 32-bit (-m32 -static), and run:
 *
 *   escape connect HOST PORT            connect(2) (the i386 connect syscall when built -m32)
 *   escape socketcall HOST PORT         i386 socketcall(SYS_CONNECT) (-m32 only)
 *   escape uring MODE HOST PORT         IORING_OP_CONNECT; MODE inline, async
 *                                       (IOSQE_ASYNC: an io-wq worker) or sqpoll
 *   escape udp CALL N HOST PORT HOST2 PORT2
 *                                       N datagrams alternating between two
 *                                       destinations from one unconnected UDP
 *                                       socket, with CALL sendto, sendmsg or
 *                                       sendmmsg (a batch of two per call)
 *   escape tfo-sendto HOST PORT         TCP Fast Open: sendto(MSG_FASTOPEN)
 *   escape tfo-connect HOST PORT        TCP Fast Open: TCP_FASTOPEN_CONNECT, connect, write
 *
 * Build with -DTAG=name to give each copy its own content and sha256 (the
 * T1587 atomics correlate by digest).
 *
 * HOST is a numeric IPv4 or IPv6 address. It prints "pid PID" first and,
 * with ESCAPE_WAIT_STDIN set, waits for a line on stdin before acting, so a
 * test can know its pid before any of its records; and exits 0 when every call was made (a
 * refused or unanswered connection is still a made attempt), 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#ifndef TAG
#define TAG default
#endif
#define STR2(x) #x
#define STR(x) STR2(x)
/* Kept in the binary so the tag changes its digest. */
volatile const char tool_tag[] = "argus-escape:" STR(TAG);

static socklen_t parse(const char *host, const char *port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(atoi(port));
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(port));
		return sizeof(*in6);
	}
	fprintf(stderr, "not a numeric address: %s\n", host);
	exit(2);
}

static int do_connect(struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
#if defined(__i386__) && defined(SYS_connect)
	/* i386 glibc may route connect() through socketcall: call the direct
	 * 32-bit connect syscall, so both have a test of their own. */
#define connect(fd, sa, len) syscall(SYS_connect, fd, sa, len)
#endif
	if (fd < 0 || connect(fd, (struct sockaddr *)ss, len) != 0) {
		perror("connect");
		return 1;
	}
	close(fd);
	return 0;
}

static int do_socketcall(struct sockaddr_storage *ss, socklen_t len)
{
#if defined(__i386__) && defined(SYS_socketcall)
	long sargs[3] = {AF_INET, SOCK_STREAM, 0};
	sargs[0] = ss->ss_family;
	long fd = syscall(SYS_socketcall, 1 /* SYS_SOCKET */, sargs);
	if (fd < 0) {
		perror("socketcall socket");
		return 1;
	}
	long cargs[3] = {fd, (long)ss, (long)len};
	if (syscall(SYS_socketcall, 3 /* SYS_CONNECT */, cargs) != 0) {
		perror("socketcall connect");
		return 1;
	}
	close(fd);
	return 0;
#else
	(void)ss;
	(void)len;
	fprintf(stderr, "socketcall: build with -m32\n");
	return 2;
#endif
}

static int do_uring(const char *mode, struct sockaddr_storage *ss, socklen_t len)
{
#ifdef HAVE_LIBURING
	struct io_uring ring;
	struct io_uring_params p = {0};
	if (strcmp(mode, "sqpoll") == 0) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;
	}
	int err = io_uring_queue_init_params(4, &ring, &p);
	if (err < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-err));
		return 1;
	}
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)ss, len);
	if (strcmp(mode, "async") == 0)
		sqe->flags |= IOSQE_ASYNC;
	if ((err = io_uring_submit(&ring)) < 0) {
		fprintf(stderr, "io_uring_submit: %s\n", strerror(-err));
		return 1;
	}
	struct io_uring_cqe *cqe;
	if ((err = io_uring_wait_cqe(&ring, &cqe)) < 0) {
		fprintf(stderr, "io_uring_wait_cqe: %s\n", strerror(-err));
		return 1;
	}
	printf("res %d\n", cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
	return 0;
#else
	(void)mode;
	(void)ss;
	(void)len;
	fprintf(stderr, "uring: build with -DHAVE_LIBURING -luring\n");
	return 2;
#endif
}

static int do_udp(const char *call, int n, struct sockaddr_storage dst[2], socklen_t len[2])
{
	int fd = socket(dst[0].ss_family, SOCK_DGRAM, 0);
	char buf[8] = "argus";
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	for (int i = 0; i < n;) {
		int k = i % 2;
		ssize_t r;
		if (strcmp(call, "sendto") == 0) {
			r = sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&dst[k], len[k]);
			i++;
		} else if (strcmp(call, "sendmsg") == 0) {
			struct iovec iov = {buf, sizeof(buf)};
			struct msghdr m = {.msg_name = &dst[k], .msg_namelen = len[k], .msg_iov = &iov, .msg_iovlen = 1};
			r = sendmsg(fd, &m, 0);
			i++;
		} else if (strcmp(call, "sendmmsg") == 0) {
			struct iovec iov = {buf, sizeof(buf)};
			struct mmsghdr mm[2];
			memset(mm, 0, sizeof(mm));
			for (int j = 0; j < 2; j++) {
				mm[j].msg_hdr.msg_name = &dst[j];
				mm[j].msg_hdr.msg_namelen = len[j];
				mm[j].msg_hdr.msg_iov = &iov;
				mm[j].msg_hdr.msg_iovlen = 1;
			}
			r = sendmmsg(fd, mm, 2, 0);
			if (r != 2) {
				perror("sendmmsg");
				return 1;
			}
			i += 2;
		} else {
			fprintf(stderr, "unknown call %s\n", call);
			return 2;
		}
		if (r < 0) {
			perror(call);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static int do_tfo(int use_connect, struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	const char msg[] = "argus-tfo";
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (use_connect) {
		int one = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) != 0 ||
		    connect(fd, (struct sockaddr *)ss, len) != 0 || write(fd, msg, sizeof(msg)) < 0) {
			perror("tfo connect");
			return 1;
		}
	} else if (sendto(fd, msg, sizeof(msg), MSG_FASTOPEN, (struct sockaddr *)ss, len) < 0) {
		perror("sendto MSG_FASTOPEN");
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	printf("pid %d %s\n", getpid(), (const char *)tool_tag);
	fflush(stdout);
	if (getenv("ESCAPE_WAIT_STDIN")) {
		/* The test learns the pid before anything happens. */
		char line[8];
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	const char *mode = argv[1];
	struct sockaddr_storage ss[2];
	socklen_t len[2];
	if (strcmp(mode, "connect") == 0 && argc == 4) {
		len[0] = parse(argv[2], argv[3], &ss[0]);
		return do_connect(&ss[0], len[0]);
	}
	if (strcmp(mode, "socketcall") == 0 && argc == 4) {
		len[0] = parse(argv[2], argv[3], &ss[0]);
		return do_socketcall(&ss[0], len[0]);
	}
	if (strcmp(mode, "uring") == 0 && argc == 5) {
		len[0] = parse(argv[3], argv[4], &ss[0]);
		return do_uring(argv[2], &ss[0], len[0]);
	}
	if (strcmp(mode, "udp") == 0 && argc == 8) {
		len[0] = parse(argv[4], argv[5], &ss[0]);
		len[1] = parse(argv[6], argv[7], &ss[1]);
		return do_udp(argv[2], atoi(argv[3]), ss, len);
	}
	if ((strcmp(mode, "tfo-sendto") == 0 || strcmp(mode, "tfo-connect") == 0) && argc == 4) {
		len[0] = parse(argv[2], argv[3], &ss[0]);
		return do_tfo(strcmp(mode, "tfo-connect") == 0, &ss[0], len[0]);
	}
usage:
	fprintf(stderr, "usage: see the comment at the top of escape.c\n");
	return 2;
}
