/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Maps and helpers shared by every argus program.
 *
 * Each hook family (exec, lifecycle, connect) is its own BPF object, but they
 * all write to one ring buffer and one stats array: userspace loads the first
 * object and hands its "events" and "stats" maps to the others as
 * replacements, so the definitions here must stay identical across objects.
 *
 * Reading kernel memory: where a program holds a BTF-typed pointer (tp_btf
 * arguments, bpf_get_current_task_btf()) fields are loaded directly; the
 * verifier turns those loads into fault-tolerant PROBE_MEM instructions that
 * cost about a nanosecond, where a bpf_probe_read_kernel() helper call costs
 * about thirty. RD() is that direct load. Objects built with ARGUS_LEGACY
 * (for kernels without bpf_get_current_task_btf) get plain pointers and RD()
 * falls back to BPF_CORE_READ. Both are CO-RE: every field offset is
 * relocated against the running kernel's BTF.
 */
#ifndef ARGUS_COMMON_H
#define ARGUS_COMMON_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define RD_1(p, a) ((p)->a)
#define RD_2(p, a, b) ((p)->a->b)
#define RD_3(p, a, b, c) ((p)->a->b->c)
#define RD_4(p, a, b, c, d) ((p)->a->b->c->d)
#define RD_PICK(_1, _2, _3, _4, name, ...) name
#ifdef ARGUS_LEGACY
#define RD(p, ...) BPF_CORE_READ(p, __VA_ARGS__)
#else
#define RD(p, ...) RD_PICK(__VA_ARGS__, RD_4, RD_3, RD_2, RD_1)(p, __VA_ARGS__)
#endif

/* Set by the loader. */
volatile const __u32 self_tgid;    /* the sensor itself: its connects are not reported */
volatile const __u64 wakeup_bytes; /* wake the reader once this much data is queued */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* overridden by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * exec_files: struct exec_file by tgid, written by the exec program,
 * copied to the child by the fork program and deleted by the exit program.
 * Sized by the loader for as many processes as the host can have
 * (kernel.pid_max, within bounds); an exec or fork that finds it full is
 * counted (STAT_EXEC_FILES_FULL).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* overridden by the loader */
	__type(key, __u32);
	__type(value, struct exec_file);
} exec_files SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

/*
 * Wakeups cost the producer an irq_work and the reader a context switch,
 * so they are kept to about one per drain. With no flag the kernel wakes
 * the reader only when it had read everything before this record, i.e. for
 * the first record after a drain (the reader then lets records gather for a
 * poll interval before it reads). Once the queue passes wakeup_bytes every
 * record wakes it, so a burst cannot fill the ring while it gathers.
 */
static __always_inline __u64 ring_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return 0;
}

static __always_inline void emit(void *rec, __u64 size, __u32 emitted, __u32 lost)
{
	if (bpf_ringbuf_output(&events, rec, size, ring_flags()))
		stat_inc(lost);
	else
		stat_inc(emitted);
}

/* fill_header_at describes the current task's record of type, made at
 * ts_ns (CLOCK_BOOTTIME). */
static __always_inline void fill_header_at(struct event_header *h, __u32 type, __u64 ts_ns)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->tid = (__u32)id;
	h->tgid = id >> 32;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = ts_ns;
}

static __always_inline void fill_header(struct event_header *h, __u32 type)
{
	fill_header_at(h, type, bpf_ktime_get_boot_ns());
}

static __always_inline __u64 task_start_ns(struct task_struct *task)
{
	struct task_struct *leader = RD(task, group_leader);

	if (bpf_core_field_exists(leader->start_boottime))
		return RD(leader, start_boottime);
	return RD((struct task_struct___old *)leader, real_start_time);
}

/* fill_task describes the current task. */
static __always_inline void fill_task(struct task_info *ti, struct task_struct *task)
{
	const struct cred *cred = RD(task, cred);

	ti->start_ns = task_start_ns(task);
	ti->cgroup_id = bpf_get_current_cgroup_id();
	ti->ppid = RD(task, real_parent, tgid);
	ti->uid = RD(cred, uid.val);
	ti->gid = RD(cred, gid.val);
	ti->euid = RD(cred, euid.val);
	ti->egid = RD(cred, egid.val);
	if (bpf_core_field_exists(task->loginuid))
		ti->auid = RD(task, loginuid.val);
	else
		ti->auid = 0xffffffff;
	bpf_get_current_comm(ti->comm, sizeof(ti->comm));
	ti->exec_id = RD(task, self_exec_id);
}

static __always_inline __u64 ts_ns(__s64 sec, long nsec)
{
	return (__u64)sec * 1000000000ULL + (__u64)nsec;
}

static __always_inline struct mount *real_mount(struct vfsmount *vfs)
{
	return (struct mount *)((void *)vfs - bpf_core_field_offset(struct mount, mnt));
}

/*
 * A kernel-internal mount (kern_mount: shmem for memfd, pipefs, ...) has
 * mnt_ns set to MNT_NS_INTERNAL, ERR_PTR(-EINVAL), instead of a namespace.
 * struct mount is reached by container_of arithmetic, which leaves a plain
 * address, so this is always a helper read.
 */
static __always_inline bool internal_mount(struct vfsmount *vfs)
{
	void *ns = BPF_CORE_READ(real_mount(vfs), mnt_ns);
	return (unsigned long)ns >= (unsigned long)-4095;
}

/*
 * fill_file describes an open file: identity and the deleted flag, and with
 * check_mount the memfd and internal-mount flags, which cost a helper read.
 */
static __always_inline void fill_file(struct file_info *fi, struct file *file, bool check_mount)
{
	struct inode *inode = RD(file, f_inode);
	struct dentry *dentry = RD(file, f_path.dentry);
	struct super_block *sb = RD(inode, i_sb);
	__u32 flags = 0;

	fi->ino = RD(inode, i_ino);
	fi->size = RD(inode, i_size);
	fi->nlink = RD(inode, i_nlink);
	fi->mode = RD(inode, i_mode);
	fi->uid = RD(inode, i_uid.val);
	fi->dev = RD(sb, s_dev);
	fi->fs_magic = RD(sb, s_magic);

	if (bpf_core_field_exists(inode->i_mtime_sec)) {
		fi->mtime_ns = ts_ns(RD(inode, i_mtime_sec), RD(inode, i_mtime_nsec));
		/* Bit 31 of i_ctime_nsec is I_CTIME_QUERIED (multigrain
		 * timestamps, 6.13+), not part of the time. */
		fi->ctime_ns = ts_ns(RD(inode, i_ctime_sec), RD(inode, i_ctime_nsec) & 0x7fffffff);
	} else {
		struct inode___v66 *v66 = (void *)inode;
		struct inode___old *old = (void *)inode;
		struct timespec64 t;

		if (bpf_core_field_exists(v66->__i_mtime))
			t = RD(v66, __i_mtime);
		else
			t = RD(old, i_mtime);
		fi->mtime_ns = ts_ns(t.tv_sec, t.tv_nsec);
		if (bpf_core_field_exists(v66->__i_ctime))
			t = RD(v66, __i_ctime);
		else
			t = RD(old, i_ctime);
		fi->ctime_ns = ts_ns(t.tv_sec, t.tv_nsec);
	}

	/* d_unhashed(): an unlinked dentry is dropped from the hash. */
	if (fi->nlink == 0 || RD(dentry, d_hash.pprev) == 0)
		flags |= FILE_DELETED;
	if (check_mount && internal_mount(RD(file, f_path.mnt))) {
		char prefix[6] = {};

		flags |= FILE_INTERNAL_MOUNT;
		bpf_probe_read_kernel(prefix, sizeof(prefix), RD(dentry, d_name.name));
		if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
		    prefix[4] == 'd' && prefix[5] == ':')
			flags |= FILE_MEMFD;
	}
	fi->flags = flags;
}

/*
 * note_exec records, in exec_files, the file process tgid's exec loaded.
 * Most execs follow a fork, which made the entry: it is rewritten in place,
 * a lookup instead of an update's allocation. Nothing reads it meanwhile:
 * the exec has made the process single-threaded, and its records come
 * after this one.
 */
static __always_inline void note_exec(__u32 tgid, const struct task_info *ti, const struct file_info *exe)
{
	struct exec_file *p = bpf_map_lookup_elem(&exec_files, &tgid);
	struct exec_file x = {
		.start_ns = ti->start_ns,
		.exec_id = ti->exec_id,
		.ino = exe->ino,
		.dev = exe->dev,
	};

	if (p)
		*p = x;
	else if (bpf_map_update_elem(&exec_files, &tgid, &x, BPF_ANY))
		stat_inc(STAT_EXEC_FILES_FULL);
}

/*
 * check_relabel marks a connect record whose executable is not the file the
 * process's last exec loaded, with no exec since: a relabel. A process
 * exec'd before the sensor started has no entry and is not checked here
 * (userspace compares with its exec record where it has one).
 */
static __always_inline void check_relabel(struct connect_event *ev, __u32 tgid)
{
	struct exec_file *x = bpf_map_lookup_elem(&exec_files, &tgid);

	if (!x || x->start_ns != ev->task.start_ns || x->exec_id != ev->task.exec_id)
		return;
	if (x->ino == ev->exe.ino && x->dev == ev->exe.dev)
		return;
	ev->flags |= CONNECT_EXE_RELABELED;
	ev->exec_ino = x->ino;
	ev->exec_dev = x->dev;
}

#endif /* ARGUS_COMMON_H */
