/*
 * atomic_custom_tool: the stand-in for a custom implant in the T1587
 * atomics. It connects to HOST:PORT over TCP, optionally holds the
 * connection, and exits 0 when the connection was made, 1 otherwise.
 *
 *   atomic_custom_tool [-d] [-l] [-t] [-w SECONDS] HOST PORT
 *
 *   -d  delete its own executable before connecting (an implant that
 *       removes itself from disk once it runs)
 *   -t  touch its own executable before connecting (utimensat on
 *       /proc/self/exe: an implant that moves its file's times to break
 *       the identity a sensor recorded at exec)
 *   -l  serve itself: listen on HOST:PORT first (PORT 0 for any free
 *       port), then connect to it (a test binary calling a local test
 *       server)
 *   -w  keep the connection open for SECONDS before exiting (default 1)
 *
 * Build with -DTAG=name to give each copy its own content and so its own
 * sha256: the detection rule correlates by digest, and two atomics sharing
 * one would share one detection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef TAG
#define TAG default
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

/* Kept in the binary so the tag changes its digest. */
volatile const char tool_tag[] = "argus-atomic-tool:" STR(TAG);

static int self_delete(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		perror("readlink /proc/self/exe");
		return -1;
	}
	self[n] = 0;
	if (unlink(self) != 0) {
		perror("unlink self");
		return -1;
	}
	printf("deleted %s\n", self);
	return 0;
}

int main(int argc, char **argv)
{
	int opt, del = 0, serve = 0, touch = 0, wait = 1;
	while ((opt = getopt(argc, argv, "dltw:")) != -1) {
		switch (opt) {
		case 'd': del = 1; break;
		case 't': touch = 1; break;
		case 'l': serve = 1; break;
		case 'w': wait = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-d] [-l] [-t] [-w SECONDS] HOST PORT\n", argv[0]);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: %s [-d] [-l] [-t] [-w SECONDS] HOST PORT\n", argv[0]);
		return 2;
	}
	const char *host = argv[optind], *port = argv[optind + 1];
	if (touch && utimensat(AT_FDCWD, "/proc/self/exe", NULL, 0) != 0) {
		perror("touch /proc/self/exe");
		return 1;
	}
	if (del && self_delete() != 0)
		return 1;

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int err = getaddrinfo(host, port, &hints, &ai);
	if (err != 0) {
		fprintf(stderr, "resolve %s:%s: %s\n", host, port, gai_strerror(err));
		return 1;
	}
	struct sockaddr_storage dst;
	socklen_t dstlen = ai->ai_addrlen;
	memcpy(&dst, ai->ai_addr, ai->ai_addrlen);
	int lfd = -1;
	if (serve) {
		int one = 1;
		lfd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(lfd, 1) != 0 ||
		    getsockname(lfd, (struct sockaddr *)&dst, &dstlen) != 0) {
			perror("listen");
			return 1;
		}
	}
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 5};
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&dst, dstlen) != 0) {
		fprintf(stderr, "connect %s:%s: %s\n", host, port, strerror(errno));
		return 1;
	}
	char shown[INET6_ADDRSTRLEN] = "?";
	int shownport = 0;
	if (dst.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&dst;
		inet_ntop(AF_INET, &in->sin_addr, shown, sizeof(shown));
		shownport = ntohs(in->sin_port);
	} else if (dst.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&dst;
		inet_ntop(AF_INET6, &in6->sin6_addr, shown, sizeof(shown));
		shownport = ntohs(in6->sin6_port);
	}
	printf("%s connected to %s port %d\n", tool_tag, shown, shownport);
	fflush(stdout);
	if (wait > 0)
		sleep(wait);
	close(fd);
	if (lfd >= 0)
		close(lfd);
	freeaddrinfo(ai);
	return 0;
}
