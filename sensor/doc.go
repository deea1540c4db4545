// Package sensor loads argus's eBPF programs, attaches them, and turns the
// records they write into typed Go events.
//
// # Kernel side
//
// Three BPF objects, generated from ../bpf by bpf2go and committed, cover the
// hook families: exec (tp_btf/sched_process_exec), lifecycle
// (tp_btf/sched_process_fork and sched_process_exit) and connect
// (syscalls:sys_enter_connect and sys_exit_connect). They share one BPF ring
// buffer and one per-CPU stats array: the exec object is loaded first and its
// maps are handed to the others as replacements.
//
// Wakeups are batched. A record submitted into an empty ring wakes the
// reader (the kernel's default: it wakes a consumer that had caught up);
// later records do not, until the queue passes [Options.WakeupBytes] and
// every record forces a wakeup so a burst cannot fill the ring. The reader
// lets records gather for [Options.PollInterval] after each drain, so a busy
// host costs about one wakeup per interval, an idle one none, and a lone
// exec on a quiet host is read as soon as it is written. A record that does not fit in the
// ring is counted per CPU in the stats map (STAT_*_LOST) and reported as
// events_lost: loss is never silent.
//
// # User side
//
// One goroutine waits for the ring through the Go netpoller (a duplicate of
// the ring's fd, so no thread blocks in epoll_wait), then reads it with
// [ringbuf.Reader.ReadInto] into a reused buffer, decodes each record with
// [Decode] (pure, length-checked, fuzzed), and offers the event to a bounded
// channel. If the consumer falls behind and
// the channel is full, the event is counted in [Stats.Dropped] rather than
// blocking the ring. On shutdown the hooks are detached first and the ring is
// then drained to the end, so nothing the kernel accepted is left unread.
package sensor
