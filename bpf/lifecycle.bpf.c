// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process lifecycle: tp_btf/sched_process_fork and tp_btf/sched_process_exit.
 * Both receive BTF-typed task pointers, so fields load directly.
 *
 * Fork records let userspace give a child that never execs (a forked shell,
 * a pre-forking daemon) its parent's executable identity; exit records let it
 * free process state. Only whole processes are reported: a fork that creates
 * a thread (child tgid == parent tgid) is skipped, and exit is reported once
 * the thread group is dead (signal->live reaches 0, which do_exit decrements
 * before this tracepoint on every supported kernel).
 */
#include "common.h"

/* Referenced so the record types reach BTF and bpf2go generates Go types. */
const struct fork_event *unused_fork_event __attribute__((unused));
const struct exit_event *unused_exit_event __attribute__((unused));

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

	fill_header(&ev.hdr, EVENT_EXIT);
	ev.start_ns = task_start_ns(task);
	ev.exit_code = task->exit_code;
	emit(&ev, sizeof(ev), STAT_EXIT_EMITTED, STAT_EXIT_LOST);
	return 0;
}
