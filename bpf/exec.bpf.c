// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exec capture: tp_btf/sched_process_exec.
 *
 * The record is built at exec time, inside the kernel, because by the time
 * userspace could read /proc a short-lived process is gone. It carries the
 * task identity, the executable's file identity, and three strings:
 *
 *   - the executable's path, walked from bprm->file's dentry up through
 *     d_parent and across mounts (mount root -> mnt_mountpoint in the parent
 *     mount) to the root of the mount namespace. So it is absolute however
 *     the program was invoked: by relative path, through symlinks, or on
 *     another mount. Components are stored leaf first; userspace reverses.
 *   - the cwd, walked the same way from current->fs->pwd;
 *   - argv, copied from the new mm's argument area.
 *
 * Every section is bounded; running out of room or depth sets a *_TRUNCATED
 * flag instead of silently cutting. The record is assembled in a per-CPU
 * scratch buffer and copied to the ring with its exact length, so a short
 * path costs a short record.
 */
#include "common.h"

/* Referenced so their definitions reach BTF and bpf2go generates Go constants. */
const enum event_type *unused_event_type __attribute__((unused));
const enum stat_index *unused_stat_index __attribute__((unused));
const enum exec_flag *unused_exec_flag __attribute__((unused));
const enum file_flag *unused_file_flag __attribute__((unused));
const enum connect_flag *unused_connect_flag __attribute__((unused));
const enum connect_via *unused_connect_via __attribute__((unused));

#define DATA_MASK (4 * 4096 - 1)

struct exec_scratch {
	struct exec_event ev;
	/* Sections fit in DATA_MASK+1 bytes; the tail lets a bounded read start
	 * at any masked offset without the verifier seeing an overflow. */
	__u8 data[DATA_MASK + 1 + ARGS_BUF];
	/* Bytes walk_path has written, kept in map memory rather than a
	 * register so the verifier sees the same (unknown) value on every
	 * branch of an iteration and can prune. In a register, the
	 * mount-crossing and component branches diverge and the number of
	 * states doubles with every step of the walk. */
	__u32 walk_len;
	/* The loader environment scan's state, in map memory for the same
	 * reason as walk_len. */
	__u8 envbuf[ENV_CHUNK];
	__u64 env_pos;
	__u32 env_at_start;
	__u32 env_kept;
	__u32 env_len;
	/* The bulk pass (bulk_env): the first ENV_BULK bytes of the
	 * environment, with room past them for a name compare; the
	 * environment's bounds and where the record's loader
	 * variables go; where the string being measured starts; and the
	 * starts of the strings it measured. */
	__u8 envbulk[ENV_BULK + 64];
	__u64 bulk_start;
	__u64 bulk_end;
	__u32 bulk_off;
	__u32 bulk_q;
	__u32 bulk_count;
	__u16 bulk_starts[ENV_BULK / 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

/*
 * Script interpreters (python, perl, node, sh ...), by file identity, as
 * userspace found them (Sensor.AddInterpreter). An interpreter exec with an
 * argument may be a script its payload is about to unlink: its record
 * wakes the reader at once (BPF_RB_FORCE_WAKEUP) and bumps urgent_execs,
 * which ends the reader's gathering, so userspace opens the script within
 * a millisecond or so instead of a poll interval later.
 */
struct interp_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct interp_key);
	__type(value, __u8);
} interpreters SEC(".maps");

/* Interpreter execs reported, read by the reader through the mmapped .bss. */
volatile __u64 urgent_execs;

/*
 * The environment names whose values are kept ("LD_PRELOAD=" and kin), set
 * by the loader: each as up to 32 bytes with a mask of the bytes that count,
 * compared a word at a time.
 */
struct loader_name {
	__u64 word[LOADER_NAME_WORDS];
	__u64 mask[LOADER_NAME_WORDS];
};
volatile const __u32 loader_name_count;
volatile const struct loader_name loader_names[LOADER_NAMES_MAX];

#define PATH_SCRATCH exec_scratch
#include "path.h"

/*
 * walk_path appends the components of the path (vfs, dentry) to s->data
 * starting at start, leaf first, each NUL-terminated, using at most
 * PATH_BUF bytes, and returns the bytes written. Running out of room or
 * depth sets trunc_flag in s->ev.flags; a walk that ends at a dentry that
 * is its own parent without being a mount root (memfd and other pseudo
 * files) sets EXEC_PATH_DISCONNECTED.
 *
 * The walk has two phases. While it stays on the file's own mount, vfs and
 * the dentries are BTF-typed pointers and their fields load directly. The
 * first mount root it meets needs struct mount, reached by container_of
 * arithmetic that leaves a plain address, so from there on fields are read
 * with helper calls. Most executables and working directories live on one
 * mount, so most walks never enter the second phase except to confirm the
 * namespace root.
 */
static __noinline int walk_path(struct exec_scratch *s, __u32 start, struct vfsmount *vfs, struct dentry *dentry,
				__u32 trunc_flag)
{
	struct dentry *mnt_root = vfs->mnt_root;
	struct mount *mnt;
	struct dentry *d;
	int i;

	s->walk_len = 0;
	for (i = 0; i < PATH_DEPTH_MAX; i++) {
		struct dentry *parent;

		if (dentry == mnt_root)
			break;
		if (put_name(s, start, dentry->d_name.name, trunc_flag) < 0)
			return s->walk_len;
		parent = dentry->d_parent;
		if (dentry == parent) {
			s->ev.flags |= EXEC_PATH_DISCONNECTED;
			return s->walk_len;
		}
		dentry = parent;
	}

	/* At a mount root (or out of depth): continue with helper reads. */
	mnt = real_mount(vfs);
	d = (struct dentry *)(unsigned long)dentry;
	mnt_root = (struct dentry *)(unsigned long)mnt_root;
	return walk_mounts(s, start, mnt, d, mnt_root, i, trunc_flag);
}

/* loader_name_at reports whether buf starts with one of the loader names.
 * Each name is compared in one expression, the words' masked differences
 * or'ed together: one branch per name, for the verifier as at run time. */
static __always_inline bool loader_name_at(const __u8 *buf)
{
	const __u64 *w = (const __u64 *)buf;
	__u64 w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
	int i;

	_Static_assert(LOADER_NAME_WORDS == 4, "loader_name_at compares four words");
	for (i = 0; i < LOADER_NAMES_MAX; i++) {
		if (i >= loader_name_count)
			break;
		if (!(((w0 & loader_names[i].mask[0]) ^ loader_names[i].word[0]) |
		      ((w1 & loader_names[i].mask[1]) ^ loader_names[i].word[1]) |
		      ((w2 & loader_names[i].mask[2]) ^ loader_names[i].word[2]) |
		      ((w3 & loader_names[i].mask[3]) ^ loader_names[i].word[3])))
			return true;
	}
	return false;
}

/* keep_var copies the environment string at user address pos, which
 * starts with a loader name, to the record, or flags the scan truncated
 * when LOADER_VARS_MAX are kept already. Returns false when the record has
 * no room left. */
static __always_inline bool keep_var(struct exec_scratch *s, __u32 off, __u64 pos)
{
	__u32 k = s->env_kept;
	__u32 len = s->env_len;
	long m;

	if (k >= LOADER_VARS_MAX) {
		s->ev.flags |= EXEC_LOADER_ENV_TRUNCATED;
		return true;
	}
	if (len > LOADER_VARS_MAX * LOADER_VAR_BUF - LOADER_VAR_BUF)
		return false;
	m = bpf_probe_read_user_str(&s->data[(off + len) & DATA_MASK], LOADER_VAR_BUF, (void *)pos);
	if (m > 0) {
		s->env_len = len + m;
		if (m == LOADER_VAR_BUF)
			s->ev.env_trunc |= 1 << (k & 15);
		s->env_kept = k + 1;
	}
	return true;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define BULK_STARTS_MASK (ENV_BULK / 2 - 1)

/* bulk_env's answers. */
#define BULK_ON 0   /* go on with the steps from s->env_pos */
#define BULK_DONE 1 /* every string judged: the scan is over */

/*
 * bulk_env is the scan's first pass. It reads the first ENV_BULK bytes of
 * the environment (s->bulk_start to s->bulk_end) with one helper call,
 * finds its strings in the program, and judges the first ENV_BULK_STRINGS
 * of them, keeping loader variables at s->data[s->bulk_off]. It returns
 * BULK_DONE when that covered the whole environment (or the record is out
 * of room), else BULK_ON with s->env_pos at the first string not judged.
 *
 * Strings are found eight bytes at a time (a word has a NUL iff
 * (w - ONES) & ~w & HIGHS is not 0); a word with one is looked at byte by
 * byte without a branch: a byte's zero flag is ((b - 1) >> 8) & 1, and the
 * flag, not a jump, decides whether the count of strings and the start of
 * the next move. Their starts are noted in s->bulk_starts, used as a ring:
 * past ENV_BULK / 2 strings the first notes are overwritten, and the steps
 * start over from the beginning. So each word costs the verifier two
 * branches whatever its bytes; the count and the start live in map memory,
 * loaded afresh at each byte (volatile), so a word's two paths meet in one
 * state it can prune.
 *
 * A global function, so the verifier checks it once, on its own, rather
 * than once for each state the caller reaches it in (a dozen: the path
 * walks' outcomes). It takes no pointer, which global functions on older
 * kernels may not: it finds the scratch buffer itself, the caller's, as
 * the program runs on one CPU throughout.
 */
__noinline int bulk_env(void)
{
	__u32 zero = 0, n, i;
	__u64 start, whole;
	struct exec_scratch *s = bpf_map_lookup_elem(&exec_scratch, &zero);

	if (!s)
		return BULK_DONE;
	start = s->bulk_start;
	whole = s->bulk_end - start;
	n = whole > ENV_BULK ? ENV_BULK : whole;
	if (n == 0 || bpf_probe_read_user(s->envbulk, n, (void *)start))
		return BULK_ON; /* the steps read it string by string */
	/* Stale bytes after the read must not look like NULs. */
#pragma unroll
	for (int b = 0; b < 8; b++)
		s->envbulk[n + b] = 0xff;

	s->bulk_q = 0;
	s->bulk_count = 0;
	for (i = 0; i < ENV_BULK / 8; i++) {
		__u64 w;

		if (i * 8 >= n)
			break;
		w = *(__u64 *)&s->envbulk[i * 8];
		if (!((w - ONES) & ~w & HIGHS))
			continue;
#pragma unroll
		for (int b = 0; b < 8; b++) {
			__u64 zf = ((((w >> (8 * b)) & 0xff) - 1) >> 8) & 1;
			__u32 count = *(volatile __u32 *)&s->bulk_count;
			__u32 q = *(volatile __u32 *)&s->bulk_q;

			/* Hidden from the compiler, which would turn the
			 * arithmetic below back into a branch. */
			asm volatile("" : "+r"(zf));
			s->bulk_starts[count & BULK_STARTS_MASK] = q;
			s->bulk_count = count + zf;
			s->bulk_q = q + zf * (i * 8 + b + 1 - q);
		}
	}
	if (*(volatile __u32 *)&s->bulk_count > BULK_STARTS_MASK + 1)
		return BULK_ON; /* the notes wrapped: s->env_pos is still the start */

	for (i = 0; i < ENV_BULK_STRINGS; i++) {
		__u32 q;

		if (i >= *(volatile __u32 *)&s->bulk_count)
			break;
		q = s->bulk_starts[i];
		if (loader_name_at(&s->envbulk[q & (ENV_BULK - 1)]) && !keep_var(s, s->bulk_off, start + q))
			return BULK_DONE;
	}
	if (*(volatile __u32 *)&s->bulk_count > ENV_BULK_STRINGS) {
		s->env_pos = start + s->bulk_starts[ENV_BULK_STRINGS];
		return BULK_ON;
	}
	if (n == whole)
		return BULK_DONE;
	s->env_pos = start + s->bulk_q;
	return BULK_ON;
}

/*
 * scan_env appends the loader variables of the new image's environment
 * (never the rest of it: it holds secrets) at s->data[off], and returns the
 * bytes written. A string that starts with a configured name is copied
 * whole, up to LOADER_VAR_BUF.
 *
 * The first ENV_BULK bytes are read at once and judged in the program
 * (bulk_env), up to ENV_BULK_STRINGS strings: most environments end there.
 * Where one goes on, the rest is read ENV_CHUNK bytes at a time, string by
 * string, for at most ENV_STEPS_MAX steps. Not reaching the end, or more
 * matching strings than LOADER_VARS_MAX, sets EXEC_LOADER_ENV_TRUNCATED.
 */
/*
 * step_env is the scan's second pass, from s->env_pos: string by string,
 * ENV_CHUNK bytes a read, for at most ENV_STEPS_MAX steps; not reaching
 * s->bulk_end sets EXEC_LOADER_ENV_TRUNCATED. Global, as bulk_env, so the
 * verifier checks its loop once rather than once per caller state (it
 * used to take most of the exec program's verification, 916,019
 * instructions of the million allowed).
 */
__noinline int step_env(void)
{
	__u32 zero = 0;
	struct exec_scratch *s = bpf_map_lookup_elem(&exec_scratch, &zero);
	__u64 end;
	int i;

	if (!s)
		return 0;
	end = s->bulk_end;
	for (i = 0; i < ENV_STEPS_MAX; i++) {
		__u64 pos = s->env_pos;
		long n;

		if (pos >= end)
			return 0;
		n = bpf_probe_read_user_str(s->envbuf, ENV_CHUNK, (void *)pos);
		if (n <= 0)
			return 0;
		if (s->env_at_start && loader_name_at(s->envbuf) && !keep_var(s, s->bulk_off, pos))
			return 0;
		/* A chunk without its NUL: the string goes on in the next. */
		s->env_at_start = n < ENV_CHUNK;
		s->env_pos = pos + (n < ENV_CHUNK ? n : ENV_CHUNK - 1);
	}
	if (s->env_pos < end)
		s->ev.flags |= EXEC_LOADER_ENV_TRUNCATED;
	return 0;
}

static __noinline int scan_env(struct exec_scratch *s, __u32 off, unsigned long start, unsigned long end)
{
	s->env_pos = start;
	s->env_at_start = 1;
	s->env_kept = 0;
	s->env_len = 0;
	s->ev.env_trunc = 0;
	if (loader_name_count == 0 || start >= end)
		return 0;

	s->bulk_start = start;
	s->bulk_end = end;
	s->bulk_off = off;
	if (bulk_env() != BULK_DONE)
		step_env();
	return s->env_len;
}

/*
 * userns_bind reports whether vfs shows a subtree (or a single file) of its
 * filesystem rather than the whole, in a mount namespace that a non-initial
 * user namespace owns: what `unshare -rm; mount --bind /tmp/x /usr/bin/foo`
 * makes, so that the path says /usr/bin/foo of a file that lives in /tmp.
 */
static __always_inline bool userns_bind(struct vfsmount *vfs)
{
	struct mnt_namespace *ns;

	if (vfs->mnt_root == vfs->mnt_sb->s_root)
		return false;
	ns = BPF_CORE_READ(real_mount(vfs), mnt_ns);
	if (!ns || (unsigned long)ns >= (unsigned long)-4095)
		return false;
	return BPF_CORE_READ(ns, user_ns, level) > 0;
}

/*
 * script_arg reports whether argv[1] may name a script: anything but "-c",
 * the inline-code option of sh, bash, zsh and python, which runs no script
 * file. So `sh -c CMD`, the interpreter exec that comes in storms (every
 * command make or a CI runner spawns), keeps the batched wakeups, while
 * `python3 payload.py`, `python3 -u payload.py` and `sh -e payload.sh`
 * take the urgent path. (perl, ruby and node's inline option is -e, which
 * is errexit for a shell: those stay urgent.) An argv[0] longer than
 * ARGV0_SCAN counts as a script (the safe answer).
 */
#define ARGV0_SCAN 64
static __always_inline bool script_arg(struct exec_scratch *s, __u32 off, __u32 len)
{
	for (__u32 i = 0; i < ARGV0_SCAN; i++) {
		if (i + 1 >= len)
			return false; /* no argv[1] */
		if (s->data[(off + i) & DATA_MASK] != 0)
			continue;
		if (i + 3 >= len || s->data[(off + i + 1) & DATA_MASK] != '-' ||
		    s->data[(off + i + 3) & DATA_MASK] != 0)
			return true;
		return s->data[(off + i + 2) & DATA_MASK] != 'c';
	}
	return true;
}

SEC("tp_btf/sched_process_exec")
int handle_exec(unsigned long long *ctx)
{
	/* tp_btf arguments are BTF-typed: their fields load directly. */
	struct task_struct *task = (struct task_struct *)ctx[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
	struct file *file = bprm->file;
	struct mm_struct *mm = task->mm;
	struct exec_scratch *s;
	struct exec_event *ev;
	__u32 zero = 0, off = 0, size;
	unsigned long arg_start, args_len;
	long n;
	int len;

	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s) {
		stat_inc(STAT_SCRATCH_MISSING);
		return 0;
	}
	ev = &s->ev;
	ev->flags = 0;
	fill_header(&ev->hdr, EVENT_EXEC);
	fill_task(&ev->task, task);
	__builtin_memcpy(ev->parent_comm, task->real_parent->comm, sizeof(ev->parent_comm));
	ev->argc = bprm->argc;
	fill_file(&ev->exe, file, true);
	/* Before the record is sent: a relabel is told even if it is lost. */
	note_exec(task->tgid, &ev->task, &ev->exe);
	if (userns_bind(file->f_path.mnt))
		ev->flags |= EXEC_PATH_USERNS_BIND;

	/* exe path */
	len = walk_path(s, off, file->f_path.mnt, file->f_path.dentry, EXEC_PATH_TRUNCATED);
	ev->path_len = len;
	off += len;

	/* cwd */
	len = walk_path(s, off, task->fs->pwd.mnt, task->fs->pwd.dentry, EXEC_CWD_TRUNCATED);
	ev->cwd_len = len;
	off += len;

	/* argv, from the new image's argument area */
	arg_start = mm->arg_start;
	args_len = mm->arg_end - arg_start;
	if (args_len > ARGS_BUF) {
		args_len = ARGS_BUF;
		ev->flags |= EXEC_ARGS_TRUNCATED;
	}
	ev->args_len = 0;
	if (args_len > 0) {
		if (bpf_probe_read_user(&s->data[off & DATA_MASK], args_len, (void *)arg_start) == 0) {
			ev->args_len = args_len;
			off += args_len;
		} else {
			ev->flags |= EXEC_ARGS_UNREADABLE;
		}
	}

	/* execve filename, as given: relative, /dev/fd/N, or a script path */
	n = bpf_probe_read_kernel_str(&s->data[off & DATA_MASK], FILENAME_BUF, bprm->filename);
	if (n > 0) {
		ev->filename_len = n;
		off += n;
		if (n == FILENAME_BUF)
			ev->flags |= EXEC_FILENAME_TRUNCATED;
	} else {
		ev->filename_len = 0;
	}

	/* loader environment (LD_PRELOAD and kin), after the other sections */
	len = scan_env(s, off, mm->env_start, mm->env_end);
	ev->env_len = len;
	off += len;

	size = sizeof(*ev) + off;
	if (size > sizeof(*s))
		size = sizeof(*s);
	if (ev->argc > 1 && script_arg(s, ev->path_len + ev->cwd_len, ev->args_len)) {
		struct interp_key k = { .ino = ev->exe.ino, .dev = ev->exe.dev };

		if (bpf_map_lookup_elem(&interpreters, &k)) {
			__sync_fetch_and_add(&urgent_execs, 1);
			if (bpf_ringbuf_output(&events, ev, size, BPF_RB_FORCE_WAKEUP))
				stat_inc(STAT_EXEC_LOST);
			else
				stat_inc(STAT_EXEC_EMITTED);
			return 0;
		}
	}
	emit(ev, size, STAT_EXEC_EMITTED, STAT_EXEC_LOST);
	return 0;
}
