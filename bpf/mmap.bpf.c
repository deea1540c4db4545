// SPDX-License-Identifier: GPL-2.0-only
/*
 * Library capture: syscalls:sys_enter_mmap and (where bpf_find_vma exists,
 * Linux 5.17+) syscalls:sys_enter_mprotect.
 *
 * Custom code is as often a shared object as a program: an LD_PRELOAD
 * implant, a .so dlopen(3)ed from /tmp, a native module of a malicious
 * package. Every one of them reaches the CPU through a file mapping made
 * executable: the loader mmap(2)s each library's text PROT_EXEC from its
 * file descriptor, and so does dlopen. (The kernel maps the main executable
 * and the ELF interpreter itself, without these syscalls.) So a record is
 * made when a process maps a file PROT_EXEC, or mprotect(2)s a file-backed
 * mapping to PROT_EXEC, unless:
 *
 *   - the file is the process's own executable (mm->exe_file);
 *   - the file is in lib_trusted with the same inode ctime: userspace puts
 *     a file there once it has hashed it and a package database or IMA
 *     vouched for that content, and any write to the file changes its
 *     ctime. This is what keeps an exec storm cheap: each exec's libc
 *     mapping costs a map lookup and no record;
 *   - the process image already mapped the same file (lib_seen, an LRU
 *     keyed by process, address space and file): once per (process,
 *     program, file identity); an exec starts over.
 *
 * The path is walked from the file's dentry in the kernel, as for exec, so
 * it is known even when the process exits before userspace reads it.
 *
 * Built with ARGUS_LEGACY: every kernel field is read with CO-RE helper
 * reads from bpf_get_current_task(), so the object loads on every
 * supported kernel (the fd table lookup gives a plain pointer anyway).
 */
#include "common.h"

/* Referenced so the record types reach BTF and bpf2go generates Go types. */
const struct library_event *unused_library_event __attribute__((unused));
const enum library_flag *unused_library_flag __attribute__((unused));

#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define DATA_MASK (PATH_BUF - 1)

struct library_scratch {
	struct library_event ev;
	__u8 data[DATA_MASK + 1 + NAME_MAX_BUF];
	__u32 walk_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct library_scratch);
} library_scratch SEC(".maps");

/* A file version: the kernel's dev_t and the inode number. */
struct file_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

/* Files userspace judged trusted, with the inode ctime it judged. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct file_key);
	__type(value, __u64);
} lib_trusted SEC(".maps");

struct seen_key {
	__u64 start_ns; /* the process's start, so a reused pid is a new process */
	__u64 mm;       /* its address space, so an exec (same task and start) is a new image */
	__u64 ino;
	__u32 tgid;
	__u32 dev;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct seen_key);
	__type(value, __u8);
} lib_seen SEC(".maps");

#define PATH_SCRATCH library_scratch
#include "path.h"

/* fd_file returns the file behind fd in task's file table, or 0. */
static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file;

	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return 0;
	return file;
}

static __noinline int walk_file(struct library_scratch *s, struct file *file)
{
	struct vfsmount *vfs = BPF_CORE_READ(file, f_path.mnt);

	s->walk_len = 0;
	return walk_mounts(s, 0, real_mount(vfs), BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(vfs, mnt_root), 0,
			   EXEC_PATH_TRUNCATED);
}

/* report makes the record for file, mapped executable by the current task. */
static __always_inline void report(struct task_struct *task, struct file *file, __u32 flags)
{
	struct library_scratch *s;
	struct file_key fk = {};
	struct seen_key sk = {};
	__u32 zero = 0, size;
	__u64 *ctime;
	__u8 one = 1;
	int len;

	if (!file || file == BPF_CORE_READ(task, mm, exe_file))
		return;
	s = bpf_map_lookup_elem(&library_scratch, &zero);
	if (!s) {
		stat_inc(STAT_SCRATCH_MISSING);
		return;
	}
	fill_file(&s->ev.file, file, true);
	fk.ino = s->ev.file.ino;
	fk.dev = s->ev.file.dev;
	ctime = bpf_map_lookup_elem(&lib_trusted, &fk);
	if (ctime && *ctime == s->ev.file.ctime_ns) {
		stat_inc(STAT_LIBRARY_TRUSTED);
		return;
	}
	sk.start_ns = task_start_ns(task);
	sk.mm = (__u64)(unsigned long)BPF_CORE_READ(task, mm);
	sk.ino = fk.ino;
	sk.dev = fk.dev;
	sk.tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_update_elem(&lib_seen, &sk, &one, BPF_NOEXIST)) {
		stat_inc(STAT_LIBRARY_REPEATED);
		return;
	}

	s->ev.flags = flags;
	fill_header(&s->ev.hdr, EVENT_LIBRARY);
	fill_task(&s->ev.task, task);
	len = walk_file(s, file);
	s->ev.path_len = len;
	size = sizeof(s->ev) + (len & DATA_MASK);
	if (size > sizeof(*s))
		size = sizeof(*s);
	emit(&s->ev, size, STAT_LIBRARY_EMITTED, STAT_LIBRARY_LOST);
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int handle_mmap(struct syscall_enter_ctx *ctx)
{
	struct task_struct *task;

	/* args: addr, len, prot, flags, fd, off */
	if (!(ctx->args[2] & PROT_EXEC) || (ctx->args[3] & MAP_ANONYMOUS))
		return 0;
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	report(task, fd_file(task, ctx->args[4]), 0);
	return 0;
}

struct vma_ctx {
	struct file *file;
};

static long vma_file(struct task_struct *task, struct vm_area_struct *vma, struct vma_ctx *c)
{
	c->file = BPF_CORE_READ(vma, vm_file);
	return 0;
}

/*
 * An implant can map its file readable and only then make it executable:
 * mprotect(2) to PROT_EXEC of a file-backed mapping is reported too. The
 * mapping is found with bpf_find_vma (5.17+); where the kernel lacks it,
 * userspace leaves this program out and the hook list says so.
 */
SEC("tracepoint/syscalls/sys_enter_mprotect")
int handle_mprotect(struct syscall_enter_ctx *ctx)
{
	struct task_struct *task;
	struct vma_ctx c = {};

	/* args: start, len, prot */
	if (!(ctx->args[2] & PROT_EXEC))
		return 0;
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	task = bpf_get_current_task_btf();
	if (bpf_find_vma(task, ctx->args[0], vma_file, &c, 0) || !c.file)
		return 0;
	report((struct task_struct *)(unsigned long)task, c.file, LIBRARY_VIA_MPROTECT);
	return 0;
}
