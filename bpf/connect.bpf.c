// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connect capture: syscalls:sys_enter_connect and syscalls:sys_exit_connect.
 *
 * Enter stashes the fd and a copy of the caller's sockaddr, keyed by thread,
 * for AF_INET and AF_INET6 only (AF_UNIX traffic never reaches the stash).
 * Exit takes the stash, adds the syscall's result (0, -EINPROGRESS or
 * -errno), and reports it. When the socket ended up with a peer (success or
 * a connect in progress) the destination is re-read from the kernel socket,
 * so a thread that rewrites the user buffer after the kernel copied it
 * cannot make the record lie; otherwise the copy taken at enter is used.
 *
 * A blocking connect interrupted by a signal leaves the syscall with a
 * kernel-internal restart code (-ERESTARTSYS and kin). Usually the kernel
 * restarts the very same call after the handler, so nothing is reported
 * then: the stash is kept, marked interrupted, and the restarted call
 * reports once. If instead the thread's next connect is a different one
 * (the interrupted call came back to userspace as EINTR), the interrupted
 * attempt is reported first, with -EINTR.
 *
 * Not seen here: io_uring IORING_OP_CONNECT and 32-bit socketcall(2), which
 * do not pass through these tracepoints, and an interrupted connect that is
 * never followed by another connect from the same thread.
 */
#include "common.h"

/* Referenced so the record type reaches BTF and bpf2go generates its Go type. */
const struct connect_event *unused_connect_event __attribute__((unused));

struct sockaddr_any {
	__u16 family;
	__be16 port;
	union {
		__be32 v4;            /* sockaddr_in.sin_addr */
		struct {
			__u32 flowinfo;
			__u8 v6[16];  /* sockaddr_in6.sin6_addr */
		};
	};
};

struct pending_connect {
	struct sockaddr_any addr;
	__u64 fd;
	__u32 interrupted;
	__u32 _pad;
};

#define EINTR 4
#define EINPROGRESS 115
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending_connect);
} pending_connects SEC(".maps");

static __always_inline struct sock *fd_sock(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file;
	struct socket *sock;

	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* emit_connect reports the connect stashed in p with syscall result ret. */
static __always_inline void emit_connect(struct pending_connect *p, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct connect_event ev = {};
	struct sock *sk;

	sk = fd_sock(task, p->fd);
	if (!sk)
		return; /* not a socket, or the fd was closed under us */

	fill_header(&ev.hdr, EVENT_CONNECT);
	fill_task(&ev.task, task);
	fill_file(&ev.exe, BPF_CORE_READ(task, mm, exe_file));
	ev.result = ret;
	ev.family = p->addr.family;
	ev.protocol = BPF_CORE_READ(sk, sk_protocol);
	ev.sock_type = BPF_CORE_READ(sk, sk_type);
	ev.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	ev.sport = BPF_CORE_READ(sk, __sk_common.skc_num);

	if (ret == 0 || ret == -EINPROGRESS) {
		__u16 skfam = BPF_CORE_READ(sk, __sk_common.skc_family);

		ev.flags |= CONNECT_ADDR_FROM_SOCKET;
		ev.family = skfam;
		ev.dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (skfam == AF_INET6) {
			BPF_CORE_READ_INTO(&ev.daddr, sk, __sk_common.skc_v6_daddr);
			BPF_CORE_READ_INTO(&ev.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		} else {
			BPF_CORE_READ_INTO((__u32 *)ev.daddr, sk, __sk_common.skc_daddr);
			BPF_CORE_READ_INTO((__u32 *)ev.saddr, sk, __sk_common.skc_rcv_saddr);
		}
	} else {
		ev.dport = __builtin_bswap16(p->addr.port);
		if (p->addr.family == AF_INET6)
			__builtin_memcpy(ev.daddr, p->addr.v6, 16);
		else
			__builtin_memcpy(ev.daddr, &p->addr.v4, 4);
	}

	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ring_flags()))
		stat_inc(STAT_CONNECT_LOST);
	else
		stat_inc(STAT_CONNECT_EMITTED);
}

static __always_inline bool same_connect(const struct pending_connect *a, const struct pending_connect *b)
{
	if (a->fd != b->fd || a->addr.family != b->addr.family || a->addr.port != b->addr.port)
		return false;
	if (a->addr.family == AF_INET)
		return a->addr.v4 == b->addr.v4;
	return __builtin_memcmp(a->addr.v6, b->addr.v6, 16) == 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect_enter(struct syscall_enter_ctx *ctx)
{
	struct pending_connect p = {}, *old;
	__u64 id = bpf_get_current_pid_tgid();
	void *uaddr = (void *)ctx->args[1];

	if ((id >> 32) == self_tgid)
		return 0;
	if (bpf_probe_read_user(&p.addr, sizeof(p.addr), uaddr) != 0)
		return 0; /* the syscall will fail with EFAULT too */
	if (p.addr.family != AF_INET && p.addr.family != AF_INET6)
		return 0;
	p.fd = ctx->args[0];

	old = bpf_map_lookup_elem(&pending_connects, &id);
	if (old && old->interrupted) {
		if (same_connect(old, &p))
			return 0; /* the kernel restarting the interrupted call */
		emit_connect(old, -EINTR); /* it came back as EINTR; this is a new call */
	}
	if (bpf_map_update_elem(&pending_connects, &id, &p, BPF_ANY))
		stat_inc(STAT_CONNECT_PENDING_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int handle_connect_exit(struct syscall_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_connect *p;
	long ret = ctx->ret;

	p = bpf_map_lookup_elem(&pending_connects, &id);
	if (!p)
		return 0;
	if (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK) {
		p->interrupted = 1;
		stat_inc(STAT_CONNECT_INTERRUPTED);
		return 0;
	}
	emit_connect(p, ret);
	bpf_map_delete_elem(&pending_connects, &id);
	return 0;
}
