/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Minimal kernel type declarations for CO-RE.
 *
 * Only the members argus reads are declared. Every struct carries
 * preserve_access_index, so clang records each member access as a BTF
 * relocation and the loader rewrites offsets against the running kernel's
 * BTF (/sys/kernel/btf/vmlinux). Member order and padding here do not need to
 * match the kernel; member names and kinds do.
 *
 * Members that were renamed between kernel releases are declared on
 * "___flavor" structs and picked with bpf_core_field_exists().
 */
#ifndef ARGUS_KERNEL_H
#define ARGUS_KERNEL_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef signed short __s16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* BPF uapi constants the programs use (stable ABI values). */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
	BPF_RB_CONS_POS = 2,
	BPF_RB_PROD_POS = 3,
};

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	__u32 val;
} kuid_t;

typedef struct {
	__u32 val;
} kgid_t;

struct timespec64 {
	__s64 tv_sec;
	long tv_nsec;
};

struct dentry;

struct super_block {
	__u32 s_dev;
	unsigned long s_magic;
	struct dentry *s_root;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
	kuid_t i_uid;
	unsigned long i_ino;
	unsigned int i_nlink;
	long long i_size;
	struct super_block *i_sb;
	/* 6.11+: split seconds and nanoseconds. */
	__s64 i_mtime_sec;
	__s64 i_ctime_sec;
	__u32 i_mtime_nsec;
	__u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

/* 6.7 to 6.10 renamed i_mtime to __i_mtime; 6.6 to 6.10 had __i_ctime. */
struct inode___v66 {
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

/* Up to 6.6 (mtime) and 6.5 (ctime). */
struct inode___old {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct qstr {
	__u32 len;
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct hlist_bl_node {
	struct hlist_bl_node *next, **pprev;
} __attribute__((preserve_access_index));

struct dentry {
	struct hlist_bl_node d_hash;
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
	struct super_block *mnt_sb;
} __attribute__((preserve_access_index));

struct user_namespace {
	int level; /* 0 for the initial user namespace */
} __attribute__((preserve_access_index));

struct mnt_namespace {
	struct user_namespace *user_ns;
} __attribute__((preserve_access_index));

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
	struct mnt_namespace *mnt_ns;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
	struct inode *f_inode;
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path pwd;
} __attribute__((preserve_access_index));

struct task_struct;

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	unsigned long env_start;
	unsigned long env_end;
	struct file *exe_file;
	struct task_struct *owner; /* CONFIG_MEMCG */
} __attribute__((preserve_access_index));

/*
 * mm->flags: an unsigned long until Linux 6.17, a bitmap struct (mm_flags_t)
 * since; the first word holds the same bits. MMF_HAS_UPROBES: uprobes are
 * installed in the address space (their breakpoints are written into its
 * text).
 */
#define MMF_HAS_UPROBES 19

struct mm_struct___flags_word {
	unsigned long flags;
} __attribute__((preserve_access_index));

typedef struct {
	unsigned long __mm_flags[1];
} mm_flags_t___argus;

struct mm_struct___flags_bitmap {
	mm_flags_t___argus flags;
} __attribute__((preserve_access_index));

struct anon_vma;

struct vm_area_struct {
	unsigned long vm_start;
	struct mm_struct *vm_mm;
	struct file *vm_file;
	/* Set once a page of the mapping has had a private copy made: for a
	 * file's text, once something wrote into it (ptrace POKETEXT,
	 * /proc/<pid>/mem, a debugger's breakpoint). */
	struct anon_vma *anon_vma;
} __attribute__((preserve_access_index));

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct net *net_ns;
} __attribute__((preserve_access_index));

struct signal_struct {
	atomic_t live;
} __attribute__((preserve_access_index));

/* x86: status holds TS_COMPAT; arm64: flags holds TIF_32BIT. */
struct thread_info {
	unsigned long flags;
	__u32 status;
} __attribute__((preserve_access_index));

struct kernfs_node {
	__u64 id; /* a u64 since 5.5; before, a union the sensor does not support */
} __attribute__((preserve_access_index));

struct cgroup_root {
	int hierarchy_id; /* 0: the default (v2) hierarchy */
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
	struct cgroup_root *root;
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	void *stack;
	unsigned int flags;
	int pid;
	int tgid;
	int exit_code;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	__u64 start_boottime;
	const struct cred *cred;
	struct mm_struct *mm;
	struct fs_struct *fs;
	struct files_struct *files;
	struct signal_struct *signal;
	struct nsproxy *nsproxy;
	kuid_t loginuid;
	char comm[16];
	__u64 self_exec_id;
} __attribute__((preserve_access_index));

/* Before 5.5 the boot-based start time was called real_start_time. */
struct task_struct___old {
	__u64 real_start_time;
} __attribute__((preserve_access_index));

struct linux_binprm {
	struct file *file;
	const char *filename;
	int argc;
} __attribute__((preserve_access_index));

struct in6_addr {
	__u8 s6_addr[16];
};

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
} __attribute__((preserve_access_index));

struct socket {
	short type;
	struct sock *sk;
} __attribute__((preserve_access_index));

/*
 * Saved user registers of a task in a syscall. At syscall exit they still
 * hold the call's arguments (the return value goes in ax / x0, which is
 * why arm64 keeps the first argument in orig_x0).
 */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long ss;
} __attribute__((preserve_access_index));
#define SYSCALL_NR(regs) ((long)(regs)->orig_ax)
#define SYSCALL_ARG0(regs) ((regs)->di)
#define SYSCALL_ARG1(regs) ((regs)->si)
#define USER_IP(regs) ((regs)->ip)
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	unsigned long regs[31];
	unsigned long pc;
	unsigned long orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));
#define SYSCALL_NR(regs) ((long)(regs)->syscallno)
#define SYSCALL_ARG0(regs) ((regs)->orig_x0)
#define SYSCALL_ARG1(regs) ((regs)->regs[1])
#define USER_IP(regs) ((regs)->pc)
#else
#error "unsupported architecture: build with bpf2go -target amd64 or arm64"
#endif

/*
 * Tracepoint contexts for syscalls:sys_{enter,exit}_*. These are the
 * tracefs event formats (common header, then __syscall_nr, then arguments
 * as 8-byte slots), a stable ABI rather than a kernel struct.
 */
struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct syscall_enter_ctx {
	struct trace_entry ent;
	int nr;
	unsigned long args[6];
};

struct syscall_exit_ctx {
	struct trace_entry ent;
	int nr;
	long ret;
};

/*
 * The context of cgroup sock_addr programs: a uapi struct, whose field
 * loads the verifier rewrites, so it must match include/uapi/linux/bpf.h.
 */
struct bpf_sock;
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4; /* network byte order */
	__u32 user_ip6[4];
	__u32 user_port; /* network byte order */
	__u32 family;
	__u32 type;
	__u32 protocol;
	__u32 msg_src_ip4;
	__u32 msg_src_ip6[4];
	union {
		struct bpf_sock *sk;
		__u64 : 64;
	} __attribute__((aligned(8)));
};

/* What the sock_addr context really points to, in the kernel. */
struct bpf_sock_addr_kern {
	struct sock *sk;
} __attribute__((preserve_access_index));

/*
 * The context of cgroup skb programs, up to the last member read: a uapi
 * struct (include/uapi/linux/bpf.h) whose loads the verifier rewrites, so
 * its layout must match. Only len is read; the packet itself is read
 * with bpf_skb_load_bytes, from the network header on.
 */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
};

/* uapi: a map value's lock for bpf_spin_lock/bpf_spin_unlock. */
struct bpf_spin_lock {
	__u32 val;
};

#endif /* ARGUS_KERNEL_H */
