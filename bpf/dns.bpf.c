// SPDX-License-Identifier: GPL-2.0-only
/*
 * Passive DNS: a cgroup skb ingress program on the root of the cgroup v2
 * hierarchy sees every packet as it is delivered to a socket on the host,
 * whatever cgroup, container or network namespace the socket is in
 * (cgroup membership does not depend on the network namespace). From
 * those it copies the DNS responses: UDP datagrams from port 53, and TCP
 * segments from port 53 that hold one whole length-prefixed message,
 * bounded at DNS_PAYLOAD_MAX bytes (DNS_TRUNCATED says the message was
 * longer). Answers a local stub (systemd-resolved on 127.0.0.53, dnsmasq)
 * relays reach their client over loopback and are seen there too, as are
 * the stub's own upstream answers.
 *
 * Why here: it sees exactly what was delivered (not what was sent, not
 * what a firewall dropped), in every namespace, with the receiving socket
 * at hand, and it needs no per-interface attachment (a TC or XDP program
 * would need one per device, in every namespace, as they come and go).
 * It runs in softirq, where the current task is whoever was interrupted:
 * the querying process comes from dns_socks (dns.h), which the socket
 * address hooks fill when the socket sends to port 53, read by the
 * receiving socket's cookie.
 *
 * A global token bucket (dns_limit) bounds the responses copied per
 * second; the rest are only counted (STAT_DNS_RATE_LIMITED), so a busy
 * resolver cannot flood the ring. DNS over TLS (853) or HTTPS is
 * encrypted and cannot be read here.
 *
 * The program returns 1: the sensor observes, it never drops a packet.
 */
#include "common.h"
#include "dns.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define DNS_HEADER_LEN 12

/* Set by the loader: the rate limit, a token bucket counted in
 * nanoseconds of credit. */
volatile const __u64 dns_cost_ns;  /* credit one response costs (1e9 / rate); 0: no limit */
volatile const __u64 dns_burst_ns; /* most credit the bucket holds (burst * cost) */

struct dns_bucket {
	struct bpf_spin_lock lock;
	__u32 _pad;
	__u64 credit; /* ns */
	__u64 last;   /* bpf_ktime_get_ns of the last refill */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_bucket);
} dns_limit SEC(".maps");

/* dns_allow takes one response's credit from the bucket, if it holds it. */
static __always_inline bool dns_allow(void)
{
	struct dns_bucket *b;
	__u32 zero = 0;
	__u64 now, credit;
	bool ok = false;

	if (!dns_cost_ns)
		return true;
	b = bpf_map_lookup_elem(&dns_limit, &zero);
	if (!b)
		return false;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&b->lock);
	credit = b->credit;
	/* The bucket starts full. Another CPU may have refilled at a later
	 * now: never go back. */
	if (!b->last) {
		credit = dns_burst_ns;
		b->last = now;
	} else if (now > b->last) {
		credit += now - b->last;
		b->last = now;
	}
	if (credit > dns_burst_ns)
		credit = dns_burst_ns;
	if (credit >= dns_cost_ns) {
		credit -= dns_cost_ns;
		ok = true;
	}
	b->credit = credit;
	bpf_spin_unlock(&b->lock);
	return ok;
}

/* Keeps the record's type in the object's BTF for bpf2go (-type): the
 * program only reaches it through ring buffer memory. */
const struct dns_event *dns_event_type __attribute__((unused));
const enum dns_flag *dns_flag_type __attribute__((unused));

static __always_inline __u16 be16(const __u8 *p)
{
	return ((__u16)p[0] << 8) | p[1];
}

SEC("cgroup_skb/ingress")
int dns_ingress(struct __sk_buff *skb)
{
	__u8 ip[40], l4[20];
	__u8 saddr[16] = {}, daddr[16] = {};
	struct dns_event *ev;
	struct dns_owner *o;
	__u32 len = skb->len, off, msg_len, copy;
	__u16 family, proto, sport, dport, flags = 0;
	__u64 cookie;

	/* The packet starts at its network header. */
	if (bpf_skb_load_bytes(skb, 0, ip, 20))
		return 1;
	if ((ip[0] >> 4) == 4) {
		off = (ip[0] & 0xf) * 4;
		if (off < 20)
			return 1;
		family = AF_INET;
		proto = ip[9];
		__builtin_memcpy(saddr, &ip[12], 4);
		__builtin_memcpy(daddr, &ip[16], 4);
	} else if ((ip[0] >> 4) == 6) {
		/* Extension headers are not followed: DNS answers carry none. */
		if (bpf_skb_load_bytes(skb, 0, ip, 40))
			return 1;
		off = 40;
		family = AF_INET6;
		proto = ip[6];
		__builtin_memcpy(saddr, &ip[8], 16);
		__builtin_memcpy(daddr, &ip[24], 16);
	} else {
		return 1;
	}

	if (proto == IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, off, l4, 8))
			return 1;
		sport = be16(&l4[0]);
		if (sport != DNS_PORT)
			return 1;
		dport = be16(&l4[2]);
		off += 8;
		if (len <= off)
			return 1;
		msg_len = len - off;
	} else if (proto == IPPROTO_TCP) {
		__u8 pfx[2];
		__u32 doff, seg;

		if (bpf_skb_load_bytes(skb, off, l4, 20))
			return 1;
		sport = be16(&l4[0]);
		if (sport != DNS_PORT)
			return 1;
		dport = be16(&l4[2]);
		doff = (l4[12] >> 4) * 4;
		if (doff < 20)
			return 1;
		off += doff;
		if (len <= off)
			return 1; /* a bare ACK, SYN-ACK or FIN: no data */
		seg = len - off;
		/* Only a segment holding one whole message, length prefix
		 * included: anything else would need reassembly. */
		if (seg < 2 || bpf_skb_load_bytes(skb, off, pfx, 2) || be16(pfx) + 2 != seg) {
			stat_inc(STAT_DNS_SKIPPED);
			return 1;
		}
		off += 2;
		msg_len = seg - 2;
		flags |= DNS_TCP;
	} else {
		return 1;
	}
	if (msg_len < DNS_HEADER_LEN)
		return 1;

	cookie = bpf_get_socket_cookie(skb);
	o = bpf_map_lookup_elem(&dns_socks, &cookie);
	if (o && o->tgid == self_tgid)
		return 1; /* the sensor's own lookups (an output's host name) */
	if (!dns_allow()) {
		stat_inc(STAT_DNS_RATE_LIMITED);
		return 1;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(STAT_DNS_LOST);
		return 1;
	}
	copy = msg_len;
	if (copy > DNS_PAYLOAD_MAX) {
		copy = DNS_PAYLOAD_MAX;
		flags |= DNS_TRUNCATED;
	}
	/* copy is 12..512 already; the verifier needs the bounds (1..512)
	 * on the very register the helper gets. */
	copy = ((copy - 1) & (DNS_PAYLOAD_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(skb, off, ev->payload, copy)) {
		bpf_ringbuf_discard(ev, 0);
		return 1;
	}

	ev->hdr.type = EVENT_DNS;
	ev->hdr.cpu = bpf_get_smp_processor_id();
	ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
	if (o) {
		ev->hdr.tid = o->tid;
		ev->hdr.tgid = o->tgid;
		ev->owner_start_ns = o->start_ns;
		__builtin_memcpy(ev->owner_comm, o->comm, sizeof(ev->owner_comm));
		flags |= DNS_OWNER;
	} else {
		ev->hdr.tid = 0;
		ev->hdr.tgid = 0;
		ev->owner_start_ns = 0;
		__builtin_memset(ev->owner_comm, 0, sizeof(ev->owner_comm));
	}
	ev->cookie = cookie;
	ev->family = family;
	ev->protocol = proto;
	ev->sport = sport;
	ev->dport = dport;
	__builtin_memcpy(ev->saddr, saddr, 16);
	__builtin_memcpy(ev->daddr, daddr, 16);
	ev->flags = flags;
	ev->payload_len = copy;
	ev->msg_len = msg_len > 0xffff ? 0xffff : msg_len;
	ev->_pad = 0;
	bpf_ringbuf_submit(ev, ring_flags());
	stat_inc(STAT_DNS_EMITTED);
	return 1;
}
