/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Socket reads shared by the connect hooks (connect.bpf.c) and the socket
 * address hooks (sockaddr.bpf.c).
 */
#ifndef ARGUS_SOCK_H
#define ARGUS_SOCK_H

/*
 * Socket fields are read in blocks rather than one helper call each: the
 * CO-RE offsets of the wanted members are relocated at load time, and when
 * they fall inside one small span (as they do in every kernel since 5.8:
 * the address and port pairs open sock_common) one read covers them all.
 */
#define SKC_OFF(f) bpf_core_field_offset(struct sock_common, f)
#define SKC_BLOCK 24

struct sk_addrs {
	__u16 family;
	__u16 dport; /* host order */
	__u16 sport;
	__u8 daddr[16];
	__u8 saddr[16];
};

static __always_inline void read_addrs(struct sock *sk, struct sk_addrs *a, bool want_addrs)
{
	__u8 blk[SKC_BLOCK] = {};

	if (SKC_OFF(skc_daddr) + 4 <= SKC_BLOCK && SKC_OFF(skc_rcv_saddr) + 4 <= SKC_BLOCK &&
	    SKC_OFF(skc_dport) + 2 <= SKC_BLOCK && SKC_OFF(skc_num) + 2 <= SKC_BLOCK &&
	    SKC_OFF(skc_family) + 2 <= SKC_BLOCK) {
		bpf_probe_read_kernel(blk, sizeof(blk), sk);
		__builtin_memcpy(&a->family, &blk[SKC_OFF(skc_family)], 2);
		__builtin_memcpy(&a->sport, &blk[SKC_OFF(skc_num)], 2);
		__builtin_memcpy(&a->dport, &blk[SKC_OFF(skc_dport)], 2);
		__builtin_memcpy(a->daddr, &blk[SKC_OFF(skc_daddr)], 4);
		__builtin_memcpy(a->saddr, &blk[SKC_OFF(skc_rcv_saddr)], 4);
	} else {
		a->family = BPF_CORE_READ(sk, __sk_common.skc_family);
		a->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		a->dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
		BPF_CORE_READ_INTO((__u32 *)a->daddr, sk, __sk_common.skc_daddr);
		BPF_CORE_READ_INTO((__u32 *)a->saddr, sk, __sk_common.skc_rcv_saddr);
	}
	a->dport = __builtin_bswap16(a->dport);
	if (want_addrs && a->family == AF_INET6) {
		if (SKC_OFF(skc_v6_rcv_saddr) == SKC_OFF(skc_v6_daddr) + 16) {
			__u8 v6[32];

			bpf_probe_read_kernel(v6, sizeof(v6), (void *)sk + SKC_OFF(skc_v6_daddr));
			__builtin_memcpy(a->daddr, v6, 16);
			__builtin_memcpy(a->saddr, &v6[16], 16);
		} else {
			BPF_CORE_READ_INTO(&a->daddr, sk, __sk_common.skc_v6_daddr);
			BPF_CORE_READ_INTO(&a->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		}
	}
}

/* read_proto returns sk_protocol and sk_type, in one read when adjacent. */
static __always_inline void read_proto(struct sock *sk, __u16 *protocol, __u16 *type)
{
	if (bpf_core_field_offset(struct sock, sk_type) == bpf_core_field_offset(struct sock, sk_protocol) + 2 &&
	    bpf_core_field_size(struct sock, sk_protocol) == 2) {
		__u16 pt[2];

		bpf_probe_read_kernel(pt, sizeof(pt), (void *)sk + bpf_core_field_offset(struct sock, sk_protocol));
		*protocol = pt[0];
		*type = pt[1];
	} else {
		*protocol = BPF_CORE_READ(sk, sk_protocol);
		*type = BPF_CORE_READ(sk, sk_type);
	}
}

struct sockaddr_any {
	__u16 family;
	__be16 port;
	union {
		__be32 v4; /* sockaddr_in.sin_addr */
		struct {
			__u32 flowinfo;
			__u8 v6[16]; /* sockaddr_in6.sin6_addr */
		};
	};
};

#ifdef ARGUS_LEGACY
/*
 * The legacy connect hooks' per-thread stash: sys_enter_connect puts the
 * call's fd and sockaddr here, sys_exit_connect takes them. The socket
 * address hooks share it (the loader hands them the connect object's
 * map) to tell a connect(2) the syscall hooks will report.
 */
struct pending_connect {
	struct sockaddr_any addr;
	__u64 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending_connect);
} pending_connects SEC(".maps");

#endif

#endif /* ARGUS_SOCK_H */
