/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records that the BPF programs write to the "events" ring buffer.
 *
 * Every record starts with struct event_header so userspace can dispatch on
 * header.type before it knows the rest of the layout. The Go side decodes
 * these layouts through types that bpf2go generates from this file, so a
 * change here is a change to the wire format: bump nothing silently, keep
 * fields naturally aligned, and regenerate with `go generate ./...`.
 */
#ifndef ARGUS_EVENTS_H
#define ARGUS_EVENTS_H

enum event_type {
	EVENT_EXEC = 1,
	EVENT_EXIT = 2,
	EVENT_FORK = 3,
	EVENT_CONNECT = 4,
	EVENT_DNS = 5,
	EVENT_LIBRARY = 6,
	EVENT_CGROUP = 7,
};

/* Sizes of the variable-length sections of an exec record. */
#define PATH_BUF 4096     /* exe path or cwd, as NUL-separated components */
#define ARGS_BUF 4096     /* argv, NUL-separated, as the process sees it */
#define FILENAME_BUF 512  /* the name passed to execve */
#define NAME_MAX_BUF 256  /* one path component, including its NUL */
#define PATH_DEPTH_MAX 64 /* components walked before truncation */

/* The loader environment: NAME=value strings of the configured names. */
#define LOADER_NAMES_MAX 8   /* configurable names (loader_env_names) */
#define LOADER_NAME_WORDS 4  /* each name with its '=' fits in 32 bytes */
#define LOADER_VARS_MAX 4    /* NAME=value strings kept per exec */
#define LOADER_VAR_BUF 512   /* one NAME=value string, including its NUL */
#define ENV_BULK 2048        /* bytes of the environment read in one go first */
#define ENV_BULK_STRINGS 128 /* strings the bulk pass judges, at most */
#define ENV_CHUNK 256        /* bytes read per step after the bulk pass */
#define ENV_STEPS_MAX 256    /* steps after it before the scan gives up (truncated) */

/* exec_event.flags */
enum exec_flag {
	EXEC_PATH_TRUNCATED = 1 << 0,
	EXEC_CWD_TRUNCATED = 1 << 1,
	EXEC_ARGS_TRUNCATED = 1 << 2,
	EXEC_FILENAME_TRUNCATED = 1 << 3,
	EXEC_PATH_DISCONNECTED = 1 << 4, /* walk ended at a pseudo or unlinked root */
	EXEC_ARGS_UNREADABLE = 1 << 5,
	EXEC_LOADER_ENV_TRUNCATED = 1 << 6, /* environment not scanned to its end, or more vars than kept */
	EXEC_PATH_DETACHED = 1 << 7, /* walk ended at a mount in no namespace (umount -l) */
	EXEC_PATH_USERNS_BIND = 1 << 9, /* the exe's mount binds a subtree, in a namespace a user namespace owns */
};

/* file_info.flags */
enum file_flag {
	FILE_DELETED = 1 << 0,     /* unlinked (nlink 0) or its dentry unhashed */
	FILE_MEMFD = 1 << 1,       /* memfd_create(2) file: "memfd:" name on an internal shmem mount */
	FILE_INTERNAL_MOUNT = 1 << 2, /* lives on a kernel-internal mount, not in any namespace */
};

/* connect_event.flags */
enum connect_flag {
	CONNECT_ADDR_FROM_SOCKET = 1 << 0, /* peer read from the kernel socket, not the user buffer */
	/* From the socket address hooks (sockaddr.bpf.c): */
	CONNECT_SUBMITTED = 1 << 1,     /* seen before the call completed: result is unknown, not 0 */
	CONNECT_COMPAT = 1 << 2,        /* made by a 32-bit (compat) syscall */
	CONNECT_IO_URING = 1 << 3,      /* issued through io_uring (inline, io-wq worker or SQPOLL) */
	CONNECT_OWNER_FROM_MM = 1 << 4, /* made by a kernel thread on a process's behalf: task is mm->owner */
	CONNECT_KERNEL_THREAD = 1 << 5, /* made by a kernel thread with no process behind it */
	/* The process's mm->exe_file is not the file its last exec loaded, and
	 * no exec came since (same self_exec_id): it was relabelled (prctl
	 * PR_SET_MM_MAP or PR_SET_MM_EXE_FILE). exec_ino and exec_dev name the
	 * executed file. Known from exec_files, not from the exec record, so
	 * it holds when that record was lost. */
	CONNECT_EXE_RELABELED = 1 << 6,
	/* Where the code that made the call lives (connect.bpf.c, Linux
	 * 5.17+): the syscall's user instruction pointer is in memory no
	 * file backs (shellcode, unpacked or injected code), or in a file's
	 * text that has been written to since it was mapped (code injected
	 * over it); or it cannot be told (the address space's lock was held,
	 * or written text in an address space with uprobes installed). */
	CONNECT_CODE_ANONYMOUS = 1 << 7,
	CONNECT_CODE_WRITTEN = 1 << 8,
	CONNECT_CODE_UNKNOWN = 1 << 9,
};

/* library_event.flags (the path bits are exec_flag's, set by the shared walk) */
enum library_flag {
	LIBRARY_PATH_TRUNCATED = 1 << 0,    /* = EXEC_PATH_TRUNCATED */
	LIBRARY_PATH_DISCONNECTED = 1 << 4, /* = EXEC_PATH_DISCONNECTED */
	LIBRARY_VIA_MPROTECT = 1 << 8,      /* made executable by mprotect(2), not mapped so by mmap(2) */
};

/* connect_event.via: the operation that made the connection. */
enum connect_via {
	VIA_CONNECT = 0,    /* connect(2) (or io_uring IORING_OP_CONNECT) */
	VIA_SOCKETCALL = 1, /* i386 socketcall(2) */
	VIA_SENDMSG = 2,    /* first datagram from a socket to a destination: sendto/sendmsg/sendmmsg */
	VIA_FASTOPEN = 3,   /* TCP Fast Open: sendto/sendmsg with MSG_FASTOPEN */
	VIA_UNKNOWN = 4,    /* a connect from a call the hook could not name */
};

/* Indexes into the per-CPU "stats" array. */
enum stat_index {
	STAT_EXEC_EMITTED = 0,
	STAT_EXEC_LOST,
	STAT_EXIT_EMITTED,
	STAT_EXIT_LOST,
	STAT_FORK_EMITTED,
	STAT_FORK_LOST,
	STAT_CONNECT_EMITTED,
	STAT_CONNECT_LOST,
	STAT_CONNECT_PENDING_FULL, /* legacy enter->exit stash full: a connect went unrecorded */
	STAT_SCRATCH_MISSING,      /* per-CPU scratch lookup failed (should never happen) */
	STAT_DATAGRAM_FOLDED,      /* datagrams to a (socket, destination) already reported */
	STAT_DNS_EMITTED,          /* DNS responses copied to the ring (dns.bpf.c) */
	STAT_DNS_LOST,             /* DNS responses the full ring could not take */
	STAT_DNS_RATE_LIMITED,     /* DNS responses over the in-kernel rate limit: not copied */
	STAT_DNS_SKIPPED,          /* port 53 segments not copied: TCP segments without a whole message, IP fragments */
	STAT_LIBRARY_EMITTED,
	STAT_LIBRARY_LOST,
	STAT_LIBRARY_TRUSTED,      /* executable mappings of files userspace judged trusted: not reported */
	STAT_LIBRARY_REPEATED,     /* a file the process had already mapped executable: not reported again */
	STAT_CGROUP_EMITTED,       /* cgroup v2 directories created (lifecycle.bpf.c) */
	STAT_CGROUP_LOST,
	STAT_CONNECT_FOLDED,       /* connects identical to one reported within the fold interval: counted, not sent */
	STAT_CONNECT_UNFOLDED,     /* foldable connects sent on their own: fold map full, or another CPU's record first */
	STAT_EXEC_FILES_FULL,      /* execs not noted in exec_files (map full): their relabels are seen by userspace only */
	STAT_MAX,
};

struct event_header {
	__u32 type; /* enum event_type */
	__u32 tid;  /* thread id (the kernel's pid) */
	__u32 tgid; /* process id */
	__u32 cpu;
	__u64 ts_ns; /* CLOCK_BOOTTIME when the record was built */
};

/* The task a record is about. */
struct task_info {
	__u64 start_ns;  /* group leader start, CLOCK_BOOTTIME */
	__u64 cgroup_id; /* cgroup v2 id */
	__u32 ppid;      /* tgid of real_parent */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 auid; /* loginuid, 0xffffffff when unset */
	char comm[16];
	/* task->self_exec_id: one more at each exec, copied by fork and clone,
	 * changed by nothing else. Two records of a process with the same
	 * value saw the same program image: a different executable between
	 * them was swapped in without an exec (prctl PR_SET_MM_MAP/EXE_FILE). */
	__u64 exec_id;
};

/* Identity of a file as the kernel saw it at the time of the record. */
struct file_info {
	__u64 ino;
	__s64 size;
	__u64 mtime_ns;
	__u64 ctime_ns;
	__u32 dev;   /* kernel dev_t: major << 20 | minor */
	__u32 nlink;
	__u32 mode;
	__u32 uid;
	__u32 flags; /* enum file_flag */
	__u32 fs_magic;
};

struct exec_event {
	struct event_header hdr;
	struct task_info task;
	struct file_info exe;
	char parent_comm[16];
	__u32 flags; /* enum exec_flag */
	__s32 argc;
	/* Lengths of the sections that follow the struct, in this order. */
	__u16 path_len;     /* exe path components, leaf first, each NUL-terminated */
	__u16 cwd_len;      /* cwd components, leaf first, each NUL-terminated */
	__u16 args_len;     /* argv strings, each NUL-terminated */
	__u16 filename_len; /* execve filename, NUL-terminated */
	__u16 env_len;      /* loader variables, "NAME=value", each NUL-terminated */
	__u16 env_trunc;    /* bit i: the i-th kept variable's value was cut */
};

struct exit_event {
	struct event_header hdr;
	__u64 start_ns;
	__s32 exit_code;
	__u32 _pad;
};

struct fork_event {
	struct event_header hdr; /* tid/tgid are the child's */
	__u64 start_ns;          /* child start */
	__u64 parent_start_ns;
	__u32 ppid; /* parent tgid */
	__u32 _pad;
	__u64 exec_id; /* the child's task_info.exec_id: its parent's */
};

/*
 * A cgroup v2 directory was created (lifecycle.bpf.c). Its id is the one
 * exec and connect records carry as task_info.cgroup_id; its path, from
 * the hierarchy's root, is what names a container. The record arrives
 * before any process runs in the cgroup, so userspace can name the
 * container of a process that is gone, with its cgroup, by the time the
 * record is read.
 */
#define CGROUP_PATH_BUF 512 /* the path with its NUL; longer paths are cut */

enum cgroup_flag {
	CGROUP_PATH_TRUNCATED = 1 << 0,
};

struct cgroup_event {
	struct event_header hdr; /* the task that created it */
	__u64 id;                /* kernfs node id: the cgroup's inode number */
	__u16 path_len;          /* bytes of path used, with its NUL */
	__u16 flags;             /* enum cgroup_flag */
	__u32 _pad;
	char path[CGROUP_PATH_BUF];
};

struct connect_event {
	struct event_header hdr;
	struct task_info task;
	struct file_info exe; /* identity of mm->exe_file at connect time */
	__s32 result;         /* syscall return: 0, or -errno; 0 with CONNECT_SUBMITTED */
	__u32 netns;          /* the caller's network namespace inode */
	__u64 fd;             /* the socket's descriptor in the caller; ~0 when not known */
	__u16 family;         /* AF_INET or AF_INET6 */
	__u16 protocol;       /* IPPROTO_* of the socket */
	__u16 sock_type;      /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 dport;          /* host byte order */
	__u16 sport;          /* host byte order, 0 if not bound */
	__u16 flags;          /* enum connect_flag */
	__u8 daddr[16];       /* IPv4 in the first 4 bytes */
	__u8 saddr[16];
	__u16 via; /* enum connect_via */
	__u16 _pad;
	__u32 exec_dev; /* with CONNECT_EXE_RELABELED: the executed file's device */
	__u64 exec_ino; /* and inode; otherwise 0 */
	/* From the socket address hooks (default build): the user instruction
	 * pointer of the system call that made the connection, for userspace
	 * to find where the calling code lives (those programs cannot call
	 * bpf_find_vma); 0 when not known (io_uring, kernel threads, legacy). */
	__u64 user_ip;
};

/*
 * exec_files (common.h): per process, the file its last exec loaded, as
 * the exec program saw it, written before the exec record is sent so it
 * stands when that record is lost. Connect records compare it with
 * mm->exe_file (CONNECT_EXE_RELABELED).
 */
struct exec_file {
	__u64 start_ns; /* thread group leader's start: a reused pid is another process */
	__u64 exec_id;  /* task->self_exec_id after the exec */
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

/*
 * Connect folding (connect.bpf.c): identical connect(2) attempts within the
 * fold interval of a reported one become one count. The key is what makes
 * two attempts the same: the process (tgid and start time, so a reused pid
 * is another process), its address space (which exec replaces, so a
 * program exec'd into a pid is never folded into its predecessor), the
 * network namespace, the destination, the protocol and the result.
 */
struct connect_fold_key {
	__u64 mm;       /* task->mm, as a number */
	__u64 start_ns; /* thread group leader's start, CLOCK_BOOTTIME */
	__u32 tgid;
	__u32 netns;
	__s32 result;
	__u16 family;
	__u16 dport;
	__u16 protocol;
	__u16 _pad0;
	__u32 _pad1;
	__u8 daddr[16];
};

struct connect_fold {
	__u64 first_ns;      /* when the entry was made: ev's time */
	__u64 fold_first_ns; /* the first attempt folded into count */
	__u64 last_ns;       /* the latest attempt folded into count */
	__u64 count;         /* attempts folded, ev's included: none was sent */
	struct connect_event ev; /* the first folded attempt's record, for the summary */
};

/*
 * DNS responses (dns.bpf.c): a bounded copy of the message delivered to a
 * socket from port 53, and the process that owns the socket as the socket
 * address hooks recorded it when it sent to port 53.
 */
#define DNS_PAYLOAD_MAX 512 /* bytes of the DNS message copied; the rest is cut */

/* dns_event.flags */
enum dns_flag {
	DNS_TRUNCATED = 1 << 0, /* the message was longer than DNS_PAYLOAD_MAX: the copy is cut */
	DNS_TCP = 1 << 1,       /* came over TCP (one segment holding the whole message) */
	DNS_OWNER = 1 << 2,     /* the socket's owner is known: hdr.tid/tgid and owner_* are set */
};

/* The process behind a socket that sent to port 53 (socket cookie -> owner). */
struct dns_owner {
	__u64 start_ns; /* group leader start, CLOCK_BOOTTIME */
	__u32 tgid;
	__u32 tid;
	char comm[16];
};

struct dns_event {
	struct event_header hdr; /* tid/tgid: the socket owner's, 0 when unknown */
	__u64 owner_start_ns;
	__u64 cookie;      /* the receiving socket's cookie */
	char owner_comm[16];
	__u16 family;      /* AF_INET or AF_INET6 */
	__u16 protocol;    /* IPPROTO_UDP or IPPROTO_TCP */
	__u16 sport;       /* the server's port (53), host order */
	__u16 dport;       /* the receiving socket's port, host order */
	__u8 saddr[16];    /* the server; IPv4 in the first 4 bytes */
	__u8 daddr[16];    /* the receiver */
	__u16 flags;       /* enum dns_flag */
	__u16 payload_len; /* bytes of payload[] that hold the message */
	__u16 msg_len;     /* the message's length on the wire */
	__u16 _pad;
	__u8 payload[DNS_PAYLOAD_MAX];
};

/*
 * A file mapped executable that is not the process's main executable: a
 * shared library the loader mapped, one dlopen(3) loaded, or any file a
 * program mapped PROT_EXEC itself. Reported once per (process, file).
 */
struct library_event {
	struct event_header hdr;
	struct task_info task;
	struct file_info file;
	__u32 flags;    /* enum library_flag */
	__u16 path_len; /* path components, leaf first, each NUL-terminated */
	__u16 _pad;
};

#endif /* ARGUS_EVENTS_H */
