// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket-layer connect capture: cgroup sock_addr programs (connect4,
 * connect6, sendmsg4, sendmsg6) attached to the root of the cgroup v2
 * hierarchy, so they run for every IPv4 and IPv6 socket on the host
 * whatever cgroup or namespace it belongs to.
 *
 * They see what the connect syscall tracepoint cannot:
 *
 *   - 32-bit (compat) connect(2) and i386 socketcall(2): the syscall
 *     tracepoints skip compat tasks;
 *   - io_uring IORING_OP_CONNECT, issued inline from io_uring_enter(2),
 *     from an io-wq worker (IOSQE_ASYNC) or from an SQPOLL thread;
 *   - TCP Fast Open through sendto/sendmsg(MSG_FASTOPEN), which connects
 *     inside the send call;
 *   - datagrams sent with an explicit destination on UDP sockets
 *     (sendto, sendmsg, sendmmsg): one record per (socket, destination),
 *     the first time; later datagrams to it only count in
 *     STAT_DATAGRAM_FOLDED.
 *
 * A connect4/6 hook runs before the connection is attempted, so its
 * records carry CONNECT_SUBMITTED: the result is not known. The 64-bit
 * connect(2) syscall passes through here too; its record is left to the
 * sys_exit_connect hook (connect.bpf.c), which has the result, so each
 * attempt gives one record. How a call is recognised as that syscall:
 *
 *   default (the kernel lets sock_addr programs call bpf_task_pt_regs and
 *   bpf_get_current_task_btf): the syscall number in the task's saved user
 *   registers is the native connect, and the task is neither a kernel
 *   thread nor an io_uring worker.
 *
 *   ARGUS_LEGACY: the legacy connect object's sys_enter_connect stash
 *   (pending_connects, shared by the loader) holds an entry for this
 *   thread. The syscall number, which names the operation, is then read
 *   from the saved registers at the top of the kernel stack on x86-64
 *   (see syscall_nr); where it cannot be, the operation is VIA_UNKNOWN.
 *
 * Attribution: an io_uring worker or SQPOLL thread is, since 5.12, a
 * thread of the process that owns the ring (PF_IO_WORKER), so its tgid is
 * that process. Before 5.12 they were kernel threads borrowing the
 * owner's mm; the record is then attributed to mm->owner
 * (CONNECT_OWNER_FROM_MM). A kernel thread with no mm is reported as
 * itself with CONNECT_KERNEL_THREAD.
 *
 * DNS: a socket that connects or sends to port 53 is noted in dns_socks
 * (dns.h) with the process behind it, before anything else is decided,
 * so the DNS response hook (dns.bpf.c) can name the querying process of
 * the answers it sees.
 *
 * Every program returns 1: the sensor observes, it never blocks or
 * rewrites a connection.
 */
#include "common.h"
#include "sock.h"
#include "dns.h"

#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000

/* Syscall numbers (asm-generic numbering for io_uring_enter everywhere). */
#define NR_IO_URING_ENTER 426
#if defined(__TARGET_ARCH_x86)
#define NR_CONNECT 42
#define NR_SENDTO 44
#define NR_SENDMSG 46
#define NR_SENDMMSG 307
#define NR32_SOCKETCALL 102
#define NR32_SENDTO 369
#define NR32_SENDMSG 370
#define NR32_SENDMMSG 345
#define TS_COMPAT 0x0002
#define X32_SYSCALL_BIT 0x40000000
#elif defined(__TARGET_ARCH_arm64)
#define NR_CONNECT 203
#define NR_SENDTO 206
#define NR_SENDMSG 211
#define NR_SENDMMSG 269
#define NR32_SOCKETCALL (-1) /* aarch32 EABI has no socketcall */
#define NR32_SENDTO 290
#define NR32_SENDMSG 296
#define NR32_SENDMMSG 374
#define TIF_32BIT 22
#endif

/* A (socket, destination) pair that has had its datagram record. */
struct dgram_key {
	__u64 cookie; /* socket cookie: never reused while the host runs */
	__u8 daddr[16];
	__u16 dport;
	__u16 family;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dgram_key);
	__type(value, __u64); /* datagrams after the first */
} dgram_seen SEC(".maps");


static __always_inline struct task_struct *current_task(void)
{
#ifdef ARGUS_LEGACY
	return (struct task_struct *)bpf_get_current_task();
#else
	return bpf_get_current_task_btf();
#endif
}

static __always_inline bool task_compat(struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	return RD(task, thread_info.status) & TS_COMPAT;
#else
	return RD(task, thread_info.flags) & (1UL << TIF_32BIT);
#endif
}

/*
 * who finds the process a connect belongs to and adds the flags that say
 * how: for a kernel thread borrowing a process's mm (io_uring before
 * 5.12), that mm's owner.
 */
static __always_inline struct task_struct *who(struct task_struct *task, __u32 tflags, __u16 *flags)
{
	if (tflags & PF_IO_WORKER) {
		*flags |= CONNECT_IO_URING;
		return task;
	}
	if (tflags & PF_KTHREAD) {
		struct mm_struct *mm = RD(task, mm);

		if (mm && bpf_core_field_exists(mm->owner)) {
			struct task_struct *owner = RD(mm, owner);

			if (owner) {
				*flags |= CONNECT_OWNER_FROM_MM | CONNECT_IO_URING;
				return owner;
			}
		}
		*flags |= CONNECT_KERNEL_THREAD;
	}
	return task;
}

/*
 * user_ip is where the current task's system call was made from, for a
 * task in one of its own (not io_uring's, not a kernel thread's); 0
 * otherwise, and in the legacy build.
 */
static __always_inline __u64 user_ip(struct task_struct *task, __u32 tflags, __u16 flags)
{
#ifndef ARGUS_LEGACY
	if (!(tflags & (PF_KTHREAD | PF_IO_WORKER)) && !(flags & CONNECT_IO_URING))
		return USER_IP((struct pt_regs *)bpf_task_pt_regs(task));
#endif
	return 0;
}

/* emit_sockaddr reports a connection seen by a sock_addr program. */
static __always_inline void emit_sockaddr(struct bpf_sock_addr *ctx, bool v6, struct task_struct *task,
					  __u16 flags, __u16 via, __u64 ip)
{
	struct connect_event ev = {};
	struct sk_addrs sa = {};
	struct sock *sk = 0;
	__u32 family = v6 ? AF_INET6 : AF_INET;

	fill_header(&ev.hdr, EVENT_CONNECT);
	if (task != current_task()) {
		ev.hdr.tid = RD(task, pid);
		ev.hdr.tgid = RD(task, tgid);
	}
	fill_task(&ev.task, task);
	if (flags & CONNECT_OWNER_FROM_MM)
		bpf_probe_read_kernel(ev.task.comm, sizeof(ev.task.comm), &task->comm);
	{
		struct mm_struct *mm = RD(task, mm);

		if (mm) {
			fill_file(&ev.exe, RD(mm, exe_file), false);
			check_relabel(&ev, RD(task, tgid));
		}
	}

	ev.family = family;
	ev.protocol = ctx->protocol;
	ev.sock_type = ctx->type;
	ev.dport = __builtin_bswap16((__u16)ctx->user_port);
	/* user_ip6 may only be read by the v6 hooks, user_ip4 by the v4 ones. */
	if (v6) {
		__u32 a[4];

		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
		__builtin_memcpy(ev.daddr, a, 16);
	} else {
		__u32 a = ctx->user_ip4;

		__builtin_memcpy(ev.daddr, &a, 4);
	}

	/* The kernel socket: local address and port if bound, and its netns
	 * (the caller's may be a kernel thread's). */
	bpf_probe_read_kernel(&sk, sizeof(sk), (void *)ctx + bpf_core_field_offset(struct bpf_sock_addr_kern, sk));
	if (sk) {
		struct net *net = 0;

		read_addrs(sk, &sa, true);
		ev.sport = sa.sport;
		__builtin_memcpy(ev.saddr, sa.saddr, 16);
		bpf_probe_read_kernel(&net, sizeof(net), (void *)sk + bpf_core_field_offset(struct sock, __sk_common.skc_net));
		if (net)
			ev.netns = BPF_CORE_READ(net, ns.inum);
	}
	ev.result = 0;
	ev.fd = ~0ULL;
	ev.flags |= flags | CONNECT_SUBMITTED; /* check_relabel may have set one */
	ev.via = via;
	ev.user_ip = ip;
	emit(&ev, sizeof(ev), STAT_CONNECT_EMITTED, STAT_CONNECT_LOST);
}

/*
 * note_dns_socket remembers who owns a socket sending to port 53, keyed by
 * its cookie: for a connected socket (glibc, Go, most stubs) its connect,
 * for an unconnected one (sendto) each datagram, the latest sender
 * winning.
 */
static __always_inline void note_dns_socket(struct bpf_sock_addr *ctx)
{
	struct dns_owner o = {};
	struct task_struct *task, *owner;
	__u64 cookie;
	__u16 dummy = 0;

	if (__builtin_bswap16((__u16)ctx->user_port) != DNS_PORT)
		return;
	cookie = bpf_get_socket_cookie(ctx);
	task = current_task();
	owner = who(task, RD(task, flags), &dummy);
	o.tgid = RD(owner, tgid);
	o.tid = RD(owner, pid);
	o.start_ns = task_start_ns(owner);
	if (owner == task)
		bpf_get_current_comm(o.comm, sizeof(o.comm));
	else
		bpf_probe_read_kernel(o.comm, sizeof(o.comm), &owner->comm);
	bpf_map_update_elem(&dns_socks, &cookie, &o, BPF_ANY);
}

#define NR_NONE (-1L)

/*
 * syscall_nr is the number of the system call task is in, NR_NONE when it
 * cannot be read. The default build asks bpf_task_pt_regs. The legacy one
 * finds the saved user registers where x86-64 keeps them, at the top of
 * the task's kernel stack, and believes them only if their code and stack
 * segments are user ones; arm64 legacy kernels get NR_NONE.
 */
static __always_inline long syscall_nr(struct task_struct *task)
{
#ifndef ARGUS_LEGACY
	return SYSCALL_NR((struct pt_regs *)bpf_task_pt_regs(task));
#elif defined(__TARGET_ARCH_x86)
	void *stack = BPF_CORE_READ(task, stack);
	__u32 size = bpf_core_type_size(struct pt_regs);
	__u32 off = bpf_core_field_offset(struct pt_regs, orig_ax);
	unsigned long cs = 0, ss = 0;
	long nr = NR_NONE;

	/* THREAD_SIZE is 16 KiB, or 32 KiB with KASAN. */
	for (int i = 0; i < 2; i++) {
		void *regs = stack + ((16 << 10) << i) - size;

		if (bpf_probe_read_kernel(&cs, sizeof(cs), regs + bpf_core_field_offset(struct pt_regs, cs)) ||
		    bpf_probe_read_kernel(&ss, sizeof(ss), regs + bpf_core_field_offset(struct pt_regs, ss)))
			continue;
		/* __USER_CS / __USER32_CS, __USER_DS (RPL 3). */
		if ((cs == 0x33 || cs == 0x23) && ss == 0x2b) {
			bpf_probe_read_kernel(&nr, sizeof(nr), regs + off);
			return nr;
		}
	}
	return NR_NONE;
#else
	return NR_NONE;
#endif
}

static __always_inline int on_connect(struct bpf_sock_addr *ctx, bool v6)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task, *owner;
	__u32 tflags;
	__u16 flags = 0, via = VIA_CONNECT;

	note_dns_socket(ctx); /* the sensor's own too: the DNS hook skips them */
	if ((id >> 32) == self_tgid)
		return 1;
	task = current_task();
	tflags = RD(task, flags);
	if (!(tflags & (PF_KTHREAD | PF_IO_WORKER))) {
		bool compat;
		long nr;

		/* First the common case, a 64-bit connect(2), which the syscall
		 * hooks report with its result. (No 32-bit call numbered like the
		 * native connect reaches a connect hook.) */
#ifdef ARGUS_LEGACY
		if (bpf_map_lookup_elem(&pending_connects, &id))
			return 1;
		nr = syscall_nr(task);
#else
		nr = syscall_nr(task);
		if (nr == NR_CONNECT)
			return 1;
#endif
		compat = task_compat(task);
#if defined(__TARGET_ARCH_x86)
		if (nr != NR_NONE && (nr & X32_SYSCALL_BIT)) {
			/* x32 ABI: skipped by the syscall tracepoints too. */
			compat = false;
			flags |= CONNECT_COMPAT;
			nr &= ~X32_SYSCALL_BIT;
			if (nr == NR_CONNECT)
				nr = -2; /* a connect, not the native one */
		}
#endif
		if (compat) {
			flags |= CONNECT_COMPAT;
			if (nr == NR32_SOCKETCALL)
				via = VIA_SOCKETCALL;
			else if (nr == NR32_SENDTO || nr == NR32_SENDMSG || nr == NR32_SENDMMSG)
				via = VIA_FASTOPEN;
			else if (nr == NR_IO_URING_ENTER)
				flags |= CONNECT_IO_URING;
			else if (nr == NR_NONE)
				via = VIA_UNKNOWN;
		} else if (nr == NR_CONNECT) {
			/* legacy: a connect(2) not in the stash (its entry was pushed
			 * out): report it here rather than lose it */
		} else if (nr == NR_SENDTO || nr == NR_SENDMSG || nr == NR_SENDMMSG) {
			via = VIA_FASTOPEN;
		} else if (nr == NR_IO_URING_ENTER) {
			flags |= CONNECT_IO_URING; /* submitted inline */
		} else if (nr != -2) {
			via = VIA_UNKNOWN;
		}
	}
	owner = who(task, tflags, &flags);
	emit_sockaddr(ctx, v6, owner, flags, via, user_ip(task, tflags, flags));
	return 1;
}

static __always_inline int on_sendmsg(struct bpf_sock_addr *ctx, bool v6)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct dgram_key key = {};
	struct task_struct *task, *owner;
	__u64 zero = 0, *seen;
	__u32 tflags;
	__u16 flags = 0;

	note_dns_socket(ctx); /* the sensor's own too: the DNS hook skips them */
	if ((id >> 32) == self_tgid)
		return 1;
	key.cookie = bpf_get_socket_cookie(ctx);
	key.family = v6 ? AF_INET6 : AF_INET;
	key.dport = (__u16)ctx->user_port;
	if (v6) {
		__u32 a[4];

		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
		__builtin_memcpy(key.daddr, a, 16);
	} else {
		__u32 a = ctx->user_ip4;

		__builtin_memcpy(key.daddr, &a, 4);
	}
	seen = bpf_map_lookup_elem(&dgram_seen, &key);
	if (seen) {
		__sync_fetch_and_add(seen, 1);
		stat_inc(STAT_DATAGRAM_FOLDED);
		return 1;
	}
	if (bpf_map_update_elem(&dgram_seen, &key, &zero, BPF_NOEXIST)) {
		stat_inc(STAT_DATAGRAM_FOLDED); /* another CPU reported it first */
		return 1;
	}
	task = current_task();
	tflags = RD(task, flags);
	owner = who(task, tflags, &flags);
	if (!(tflags & (PF_KTHREAD | PF_IO_WORKER))) {
		if (task_compat(task))
			flags |= CONNECT_COMPAT;
		else if (syscall_nr(task) == NR_IO_URING_ENTER)
			flags |= CONNECT_IO_URING;
	}
	emit_sockaddr(ctx, v6, owner, flags, VIA_SENDMSG, user_ip(task, tflags, flags));
	return 1;
}

SEC("cgroup/connect4")
int sockaddr_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, false);
}

SEC("cgroup/connect6")
int sockaddr_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, true);
}

SEC("cgroup/sendmsg4")
int sockaddr_sendmsg4(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, false);
}

SEC("cgroup/sendmsg6")
int sockaddr_sendmsg6(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, true);
}
