/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sockets that sent to port 53, and the process behind each: the
 * socket address hooks (sockaddr.bpf.c) fill it when a socket connects or
 * sends to port 53, the DNS response hook (dns.bpf.c) reads it by the
 * receiving socket's cookie. The loader hands the socket address object's
 * map to the DNS object, so the two share one.
 */
#ifndef ARGUS_DNS_H
#define ARGUS_DNS_H

#define DNS_PORT 53

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie: never reused while the host runs */
	__type(value, struct dns_owner);
} dns_socks SEC(".maps");

#endif /* ARGUS_DNS_H */
