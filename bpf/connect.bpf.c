// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connect capture: syscalls:sys_exit_connect (and, on old kernels,
 * syscalls:sys_enter_connect).
 *
 * A record is made when connect(2) returns, so it carries the result: 0,
 * -EINPROGRESS (non-blocking, under way) or -errno. Only sockets whose
 * family is AF_INET or AF_INET6 are reported.
 *
 * Where the call succeeded or is in progress, the destination and source
 * are read back from the kernel socket, so a thread that rewrites the
 * caller's buffer after the kernel copied it cannot make the record lie.
 * Where it failed, the destination is the caller's sockaddr.
 *
 * Two builds of this file:
 *
 *   default (Linux 5.15+): one program on sys_exit_connect. The call's fd
 *   and sockaddr pointer are still in the task's saved user registers
 *   (bpf_task_pt_regs), so nothing is stashed at entry and there is no
 *   entry program at all; task fields load directly through
 *   bpf_get_current_task_btf().
 *
 *   ARGUS_LEGACY (5.8 to 5.14): sys_enter_connect stashes the fd and a
 *   copy of the sockaddr per thread in an LRU hash; sys_exit_connect takes
 *   it. Kernel memory is read with helper calls.
 *
 * A blocking connect interrupted by a signal returns a kernel-internal
 * restart code (-ERESTARTSYS and kin) and is usually restarted by the kernel
 * as the very same call. That record is still emitted, with the restart code
 * as its result, so an interrupted attempt is never lost; userspace folds it
 * into the restarted call's record when one follows.
 *
 * Folding: an attempt identical to one reported within fold_ns (same
 * process, address space, namespace, destination, protocol and result) is
 * not sent; it is counted in an entry in connect_folds, made by the first
 * repeat, and userspace reports the count, with the first and last folded
 * attempt's times, when the entry expires (see emit_connect). The first
 * attempt is always sent at once, so nothing waits on the fold; attempts
 * that do not repeat touch no hash map.
 *
 * Where the calling code lives (default build, with bpf_find_vma: 5.17+):
 * the mapping holding the syscall's user instruction pointer is looked up
 * for each record sent. Code in anonymous memory (shellcode: injected,
 * unpacked, or copied there by an implant that unmapped its own file) and
 * a file's text that has been written to (code injected over a trusted
 * program's text) mark the record. Only the instruction that made the
 * system call is looked at: injected code that calls libc's connect() is
 * not told from libc.
 *
 * Not seen here: io_uring IORING_OP_CONNECT and 32-bit socketcall(2), which
 * do not pass through these tracepoints.
 */
#include "common.h"
#include "sock.h"

/* Referenced so the record type reaches BTF and bpf2go generates its Go type. */
const struct connect_event *unused_connect_event __attribute__((unused));

#define EBADF 9
#define ENOTSOCK 88
#define EINPROGRESS 115

/* fd_sock returns the socket behind fd in task's file table, or 0. */
static __always_inline struct sock *fd_sock(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = RD(task, files, fdt);
	struct file **fds = RD(fdt, fd);
	struct file *file;
	struct socket *sock;

	struct inode *inode;

	if (fd >= RD(fdt, max_fds))
		return 0;
	/* A variable index into the fd array: a helper read either way. */
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	/* private_data and f_inode sit side by side in every struct file
	 * since 5.8 (and a load-time constant says so): one read for both. */
	if (bpf_core_field_offset(struct file, f_inode) == bpf_core_field_offset(struct file, private_data) + 8) {
		void *pair[2];

		if (bpf_probe_read_kernel(pair, sizeof(pair), (void *)file + bpf_core_field_offset(struct file, private_data)))
			return 0;
		sock = pair[0];
		inode = pair[1];
	} else {
		sock = BPF_CORE_READ(file, private_data);
		inode = BPF_CORE_READ(file, f_inode);
	}
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	return BPF_CORE_READ(sock, sk);
}

/* Set by the loader: how long identical connects after a reported one are
 * folded into its count (ns); 0: every attempt is reported. */
volatile const __u64 fold_ns;
/* Set by the loader when the kernel has bpf_find_vma (5.17+); without it
 * the call below is dead code, which the verifier never checks. */
volatile const __u32 have_find_vma;

/* One entry per reported attempt that later ones may fold into. A full
 * map folds nothing more until userspace's flush deletes expired entries:
 * attempts are then reported one by one (STAT_CONNECT_UNFOLDED). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct connect_fold_key);
	__type(value, struct connect_fold);
} connect_folds SEC(".maps");

/* Where a record is built: it does not fit on the stack beside the fold
 * key, and the fold entry is made from the same bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connect_fold);
} connect_scratch SEC(".maps");

/* The last attempt each CPU reported per slot (a direct-mapped cache keyed
 * by a hash of the fold key): an entry in connect_folds is made only for an
 * attempt that repeats one this CPU reported within fold_ns. A storm to
 * distinct destinations then costs a slot write per attempt, not a hash map
 * insert and a flush per destination. An attempt whose earlier twin ran on
 * another CPU, or was pushed out of its slot, is reported: never less. */
#define FOLD_RECENT_SLOTS 64
struct fold_recent {
	struct connect_fold_key key;
	__u64 ts_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FOLD_RECENT_SLOTS);
	__type(key, __u32);
	__type(value, struct fold_recent);
} connect_fold_recent SEC(".maps");

static __always_inline __u32 fold_slot(const struct connect_fold_key *k)
{
	__u32 h = k->tgid * 2654435761u;
	__u32 a0, a3;

	__builtin_memcpy(&a0, k->daddr, 4);
	__builtin_memcpy(&a3, k->daddr + 12, 4);
	h ^= a0 ^ a3 ^ ((__u32)k->dport << 16) ^ (__u32)k->result;
	h ^= h >> 15;
	h *= 2246822519u;
	h ^= h >> 13;
	return h & (FOLD_RECENT_SLOTS - 1);
}

static __always_inline bool fold_key_equal(const struct connect_fold_key *a, const struct connect_fold_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

#pragma unroll
	for (int i = 0; i < sizeof(*a) / 8; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* recent returns key's slot in this CPU's connect_fold_recent, and how
 * long ago (ns) this CPU last reported key, or ~0 when the slot holds
 * another key. */
static __always_inline struct fold_recent *recent(const struct connect_fold_key *key, __u64 now, __u64 *ago)
{
	__u32 slot = fold_slot(key);
	struct fold_recent *r = bpf_map_lookup_elem(&connect_fold_recent, &slot);

	*ago = r && fold_key_equal(&r->key, key) ? now - r->ts_ns : ~0ULL;
	return r;
}

/* While the fold map is full, inserts are not tried until this time (boot
 * ns): a failing insert costs as much as the rest of the program, and
 * userspace frees entries only every half interval. Attempts meanwhile are
 * reported one by one, as with a full map. */
#define E2BIG 7
__u64 fold_full_until;

/* A kernel restart code (-ERESTARTSYS to -ERESTART_RESTARTBLOCK): the call
 * is normally restarted as the same call. Never folded: userspace pairs it
 * with the restarted call's record. */
static __always_inline bool restart_code(long ret)
{
	return ret <= -512 && ret >= -516;
}

/*
 * emit_connect reports a connect on fd with result ret. uaddr is the
 * caller's sockaddr (user memory), or 0 when ucopy already holds a copy.
 *
 * Folding: the attempt's key (struct connect_fold_key) is made first, from
 * the reads the record needs anyway, and looked up in this CPU's slot of
 * recent keys. Only a key this CPU reported within 2 * fold_ns is looked
 * up in connect_folds (an entry lives fold_ns, and up to half as long
 * again until userspace's flush): if an entry exists, the attempt only
 * adds to its count, and the process, file and header reads are skipped.
 * Otherwise the record is built; if this CPU reported the key within
 * fold_ns (a repeat), the record becomes a new entry with a count of one,
 * this attempt, and is not sent: the earlier one was. Any other attempt
 * is sent at once, without a hash lookup: a storm to distinct
 * destinations costs a slot read per connect, not a hash map miss. Userspace's
 * flush, once an entry is fold_ns old, deletes it and reports its count as
 * one summary record, made from the entry's copy of the record.
 */
#ifndef ARGUS_LEGACY
struct code_ctx {
	__u16 flags;
};

/* mm_has_uprobes: uprobes have written breakpoints into mm's text. */
static __always_inline bool mm_has_uprobes(struct mm_struct *mm)
{
	unsigned long f;

	if (bpf_core_field_exists(((struct mm_struct___flags_bitmap *)mm)->flags.__mm_flags))
		f = BPF_CORE_READ((struct mm_struct___flags_bitmap *)mm, flags.__mm_flags[0]);
	else
		f = BPF_CORE_READ((struct mm_struct___flags_word *)mm, flags);
	return f & (1UL << MMF_HAS_UPROBES);
}

/*
 * A file's text with a private copy of a page (anon_vma) was written to.
 * So are uprobes' breakpoints, which tracing tools put in libc, libssl or
 * a Go binary's text: in an address space with uprobes the write tells
 * nothing, and the origin is unknown.
 */
static long code_vma(struct task_struct *task, struct vm_area_struct *vma, struct code_ctx *c)
{
	if (!vma->vm_file)
		c->flags = CONNECT_CODE_ANONYMOUS;
	else if (vma->anon_vma)
		c->flags = mm_has_uprobes(vma->vm_mm) ? CONNECT_CODE_UNKNOWN : CONNECT_CODE_WRITTEN;
	return 0;
}

/* check_code marks where the code that made the call lives. */
static __always_inline void check_code(struct task_struct *task, struct pt_regs *regs, struct connect_event *ev)
{
	struct code_ctx c = {};

	if (!have_find_vma)
		return;
	if (bpf_find_vma(task, USER_IP(regs), code_vma, &c, 0))
		c.flags = CONNECT_CODE_UNKNOWN;
	ev->flags |= c.flags;
}
#endif

static __always_inline void emit_connect(struct task_struct *task, struct pt_regs *regs, __u64 fd, long ret,
					 void *uaddr, struct sockaddr_any *ucopy)
{
	struct connect_fold_key key = {};
	struct connect_event *ev;
	struct connect_fold *f;
	struct sk_addrs sa = {};
	struct fold_recent *r = 0;
	struct sock *sk;
	__u16 protocol, sock_type;
	__u32 zero = 0;
	__u64 now = 0, ago = ~0ULL;
	bool connected = ret == 0 || ret == -EINPROGRESS;
	bool foldable = fold_ns && !restart_code(ret);

	if (ret == -EBADF || ret == -ENOTSOCK)
		return;
	sk = fd_sock(task, fd);
	if (!sk)
		return; /* not a socket, or the fd was closed under us */
	read_addrs(sk, &sa, connected);
	if (sa.family != AF_INET && sa.family != AF_INET6)
		return;

	if (connected) {
		key.family = sa.family;
		key.dport = sa.dport;
		__builtin_memcpy(key.daddr, sa.daddr, 16);
	} else {
		struct sockaddr_any a;

		if (ucopy)
			a = *ucopy;
		else if (bpf_probe_read_user(&a, sizeof(a), uaddr))
			return;
		if (a.family == AF_INET6) {
			__builtin_memcpy(key.daddr, a.v6, 16);
		} else if (a.family == AF_INET) {
			__builtin_memcpy(key.daddr, &a.v4, 4);
		} else {
			return; /* AF_UNSPEC (disassociate) or garbage: not a connection */
		}
		key.family = a.family;
		key.dport = __builtin_bswap16(a.port);
	}
	read_proto(sk, &protocol, &sock_type);
	/* The caller's network namespace, by direct loads: the namespace the
	 * connect was made from. (A socket created in another namespace and
	 * passed over is the rare exception.) */
	key.netns = RD(task, nsproxy, net_ns, ns.inum);

	if (foldable) {
		key.mm = (__u64)RD(task, mm);
		key.start_ns = task_start_ns(task);
		key.tgid = bpf_get_current_pid_tgid() >> 32;
		key.result = ret;
		key.protocol = protocol;
		now = bpf_ktime_get_boot_ns();
		r = recent(&key, now, &ago);
		f = ago < 2 * fold_ns ? bpf_map_lookup_elem(&connect_folds, &key) : 0;
		if (f) {
			/* Two CPUs folding at once may both see count 0 and
			 * both set fold_first_ns: a few ns apart, harmless. */
			if (!f->count)
				f->fold_first_ns = now;
			__sync_fetch_and_add(&f->count, 1);
			f->last_ns = now;
			stat_inc(STAT_CONNECT_FOLDED);
			return;
		}
	}

	f = bpf_map_lookup_elem(&connect_scratch, &zero);
	if (!f) {
		stat_inc(STAT_SCRATCH_MISSING);
		return;
	}
	__builtin_memset(f, 0, sizeof(*f));
	ev = &f->ev;
	ev->sport = sa.sport;
	ev->dport = key.dport;
	__builtin_memcpy(ev->daddr, key.daddr, 16);
	if (connected) {
		ev->flags = CONNECT_ADDR_FROM_SOCKET;
		__builtin_memcpy(ev->saddr, sa.saddr, 16);
	}
	fill_header_at(&ev->hdr, EVENT_CONNECT, foldable ? now : bpf_ktime_get_boot_ns());
	fill_task(&ev->task, task);
	/* The memfd and internal-mount flags come from the exec record. */
	fill_file(&ev->exe, RD(task, mm, exe_file), false);
	check_relabel(ev, bpf_get_current_pid_tgid() >> 32);
#ifndef ARGUS_LEGACY
	check_code(task, regs, ev);
#endif
	ev->result = ret;
	ev->fd = fd;
	ev->family = key.family;
	ev->protocol = protocol;
	ev->sock_type = sock_type;
	ev->netns = key.netns;
	if (r) {
		r->key = key;
		r->ts_ns = now;
	}
	if (ago < fold_ns) {
		long err;

		f->first_ns = now;
		f->fold_first_ns = now;
		f->last_ns = now;
		f->count = 1;
		/* Fails when the map is full, or when another CPU made this
		 * entry since the lookup: this record is then sent unfolded. */
		if (now < fold_full_until) {
			stat_inc(STAT_CONNECT_UNFOLDED);
		} else if ((err = bpf_map_update_elem(&connect_folds, &key, f, BPF_NOEXIST))) {
			stat_inc(STAT_CONNECT_UNFOLDED);
			if (err == -E2BIG)
				fold_full_until = now + fold_ns / 4;
		} else {
			stat_inc(STAT_CONNECT_FOLDED);
			return;
		}
	}
	emit(ev, sizeof(*ev), STAT_CONNECT_EMITTED, STAT_CONNECT_LOST);
}

#ifndef ARGUS_LEGACY

SEC("tracepoint/syscalls/sys_exit_connect")
int handle_connect_exit(struct syscall_exit_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;

	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	emit_connect(task, regs, SYSCALL_ARG0(regs), ctx->ret, (void *)SYSCALL_ARG1(regs), 0);
	return 0;
}

#else /* ARGUS_LEGACY */

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect_enter(struct syscall_enter_ctx *ctx)
{
	struct pending_connect p = {};
	__u64 id = bpf_get_current_pid_tgid();

	if ((id >> 32) == self_tgid)
		return 0;
	if (bpf_probe_read_user(&p.addr, sizeof(p.addr), (void *)ctx->args[1]) != 0)
		return 0; /* the syscall will fail with EFAULT too */
	if (p.addr.family != AF_INET && p.addr.family != AF_INET6)
		return 0;
	p.fd = ctx->args[0];
	if (bpf_map_update_elem(&pending_connects, &id, &p, BPF_ANY))
		stat_inc(STAT_CONNECT_PENDING_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int handle_connect_exit(struct syscall_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_connect *p;

	p = bpf_map_lookup_elem(&pending_connects, &id);
	if (!p)
		return 0;
	emit_connect((struct task_struct *)bpf_get_current_task(), 0, p->fd, ctx->ret, 0, &p->addr);
	bpf_map_delete_elem(&pending_connects, &id);
	return 0;
}

#endif /* ARGUS_LEGACY */
