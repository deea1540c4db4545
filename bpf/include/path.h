/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The path walk shared by the exec and library-mapping programs.
 *
 * Include after defining PATH_SCRATCH (the name of a struct with an
 * `ev.flags` member, a `data` array of at least DATA_MASK + 1 +
 * NAME_MAX_BUF bytes, and a `walk_len` member) and DATA_MASK. Components
 * are written leaf first, each NUL-terminated; userspace reverses them.
 * The walk length lives in map memory, not a register, so the verifier sees
 * one value on every branch of an iteration and can prune (see exec.bpf.c).
 */
#ifndef ARGUS_PATH_H
#define ARGUS_PATH_H

#ifndef PATH_SCRATCH
#error "define PATH_SCRATCH before including path.h"
#endif

/* put_name copies one component name to the walk's output. */
static __always_inline long put_name(struct PATH_SCRATCH *s, __u32 start, const unsigned char *name,
				     __u32 trunc_flag)
{
	__u32 len = s->walk_len;
	long n;

	if (len > PATH_BUF - NAME_MAX_BUF) {
		s->ev.flags |= trunc_flag;
		return -1;
	}
	n = bpf_probe_read_kernel_str(&s->data[(start + len) & DATA_MASK], NAME_MAX_BUF, name);
	if (n <= 0) {
		s->ev.flags |= trunc_flag;
		return -1;
	}
	s->walk_len = len + n;
	return n;
}

/*
 * walk_mounts continues a walk at dentry d of mount mnt (whose root is
 * mnt_root), at step i, with helper reads: it crosses mount roots through
 * mnt_mountpoint up to the root of the mount namespace. Running out of
 * room or depth sets trunc_flag; a dentry that is its own parent without
 * being a mount root (memfd and other pseudo files) sets
 * EXEC_PATH_DISCONNECTED; for the file's own path (trunc_flag
 * EXEC_PATH_TRUNCATED), ending at a mount in no namespace sets
 * EXEC_PATH_DETACHED. Returns the bytes written.
 */
static __always_inline int walk_mounts(struct PATH_SCRATCH *s, __u32 start, struct mount *mnt, struct dentry *d,
				       struct dentry *mnt_root, int i, __u32 trunc_flag)
{
	for (; i < PATH_DEPTH_MAX; i++) {
		struct dentry *parent;

		if (d == mnt_root) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			if (up == mnt) {
				/*
				 * The root of the namespace, or a mount that is
				 * in none: lazily unmounted (umount -l), whose
				 * files only have a path from its own root.
				 */
				if (trunc_flag == EXEC_PATH_TRUNCATED && !BPF_CORE_READ(mnt, mnt_ns))
					s->ev.flags |= EXEC_PATH_DETACHED;
				return s->walk_len;
			}
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
			continue;
		}
		if (put_name(s, start, BPF_CORE_READ(d, d_name.name), trunc_flag) < 0)
			return s->walk_len;
		parent = BPF_CORE_READ(d, d_parent);
		if (d == parent) {
			s->ev.flags |= EXEC_PATH_DISCONNECTED;
			return s->walk_len;
		}
		d = parent;
	}
	s->ev.flags |= trunc_flag;
	return s->walk_len;
}

#endif /* ARGUS_PATH_H */
