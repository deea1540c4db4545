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
// Records are submitted with BPF_RB_NO_WAKEUP and the reader polls the ring
// every [Options.PollInterval]; a producer forces a wakeup only once
// [Options.WakeupBytes] are queued. A wakeup per record would cost the
// producer tens of microseconds per event; this way the kernel side stays
// well under a microsecond. A record that does not fit in the ring is counted
// per CPU in the stats map (STAT_*_LOST) and reported as events_lost: loss is
// never silent.
//
// # User side
//
// One goroutine reads the ring with [ringbuf.Reader.ReadInto] into a reused
// buffer, decodes each record with [Decode] (pure, length-checked, fuzzed),
// and offers the event to a bounded channel. If the consumer falls behind and
// the channel is full, the event is counted in [Stats.Dropped] rather than
// blocking the ring. On shutdown the hooks are detached first and the ring is
// then drained to the end, so nothing the kernel accepted is left unread.
package sensor
