// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process lifecycle: tp_btf/sched_process_fork and tp_btf/sched_process_exit,
 * and the birth of the cgroups processes live in: tp_btf/cgroup_mkdir. All
 * receive BTF-typed pointers, so fields load directly.
 *
 * Fork records let userspace give a child that never execs (a forked shell,
 * a pre-forking daemon) its parent's executable identity; exit records let it
 * free process state. A child inherits its parent's exec_files entry (the
 * file its image came from), which the exit program frees. Only whole
 * processes are reported: a fork that creates a thread (child tgid ==
 * parent tgid) is skipped, and exit is reported once the thread group is
 * dead (signal->live reaches 0, which do_exit decrements before this
 * tracepoint on every supported kernel).
 *
 * A cgroup record names each new cgroup v2 directory: its id (what exec
 * and connect records carry) and its path. A container runtime creates the
 * container's cgroup before it starts the container's first process, so
 * the record precedes every record of the container's processes in the
 * ring, and userspace can name the container even when the process and its
 * cgroup are gone by the time it reads them (a container that runs for a
 * few milliseconds while the reader is behind).
 */
#include "common.h"

/* Referenced so the record types reach BTF and bpf2go generates Go types. */
const struct fork_event *unused_fork_event __attribute__((unused));
const struct exit_event *unused_exit_event __attribute__((unused));
const struct cgroup_event *unused_cgroup_event __attribute__((unused));
const enum cgroup_flag *unused_cgroup_flag __attribute__((unused));

SEC("tp_btf/sched_process_fork")
int handle_fork(unsigned long long *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx[0];
	struct task_struct *child = (struct task_struct *)ctx[1];
	struct fork_event ev = {};
	__u32 tgid = child->tgid;

	if (tgid == parent->tgid)
		return 0; /* a new thread, not a new process */

	fill_header(&ev.hdr, EVENT_FORK);
	ev.hdr.tid = child->pid;
	ev.hdr.tgid = tgid;
	ev.start_ns = task_start_ns(child);
	ev.parent_start_ns = task_start_ns(parent);
	ev.ppid = parent->tgid;
	ev.exec_id = child->self_exec_id;
	{
		/* The child runs its parent's image: it inherits the note of
		 * the executed file, so its relabel (or its parent's, before
		 * the fork) is told too. */
		__u32 ptgid = parent->tgid;
		struct exec_file *x = bpf_map_lookup_elem(&exec_files, &ptgid);

		if (x && x->start_ns == ev.parent_start_ns && x->exec_id == ev.exec_id) {
			struct exec_file c = *x;

			c.start_ns = ev.start_ns;
			if (bpf_map_update_elem(&exec_files, &tgid, &c, BPF_ANY))
				stat_inc(STAT_EXEC_FILES_FULL);
		}
	}
	emit(&ev, sizeof(ev), STAT_FORK_EMITTED, STAT_FORK_LOST);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int handle_exit(unsigned long long *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];
	struct exit_event ev = {};

	if (task->signal->live.counter != 0)
		return 0; /* other threads of the process are still running */

	{
		__u32 tgid = task->tgid;

		bpf_map_delete_elem(&exec_files, &tgid);
	}
	fill_header(&ev.hdr, EVENT_EXIT);
	ev.start_ns = task_start_ns(task);
	ev.exit_code = task->exit_code;
	emit(&ev, sizeof(ev), STAT_EXIT_EMITTED, STAT_EXIT_LOST);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int handle_cgroup_mkdir(unsigned long long *ctx)
{
	struct cgroup *cgrp = (struct cgroup *)ctx[0];
	const char *path = (const char *)ctx[1];
	struct cgroup_event *ev;
	long n;

	if (cgrp->root->hierarchy_id != 0)
		return 0; /* a v1 hierarchy: its ids are not the ones records carry */
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(STAT_CGROUP_LOST);
		return 0;
	}
	fill_header(&ev->hdr, EVENT_CGROUP);
	ev->id = cgrp->kn->id;
	ev->flags = 0;
	ev->_pad = 0;
	n = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), path);
	if (n < 0)
		n = 0;
	ev->path_len = n;
	/* The kernel's path buffer is 4096 bytes; a path that filled ours may
	 * have been longer. */
	if (n == sizeof(ev->path))
		ev->flags |= CGROUP_PATH_TRUNCATED;
	bpf_ringbuf_submit(ev, ring_flags());
	stat_inc(STAT_CGROUP_EMITTED);
	return 0;
}
