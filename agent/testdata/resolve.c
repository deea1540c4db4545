/*
 * The passive DNS implant: resolve NAME with getaddrinfo(3), as any
 * program linked against libc does (glibc sends the A and AAAA queries to
 * the resolv.conf server), then connect to PORT on every address it got,
 * printing each. Built by the agent tests into a temporary directory.
 *
 *   resolve NAME PORT
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct addrinfo hints, *res, *ai;
	char host[NI_MAXHOST];
	int rc, connected = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: resolve NAME PORT\n");
		return 2;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(argv[1], argv[2], &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "getaddrinfo %s: %s\n", argv[1], gai_strerror(rc));
		return 1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

		if (fd < 0)
			continue;
		getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			printf("connected %s\n", host);
			connected++;
		} else {
			perror(host);
		}
		close(fd);
	}
	freeaddrinfo(res);
	return connected ? 0 : 1;
}
