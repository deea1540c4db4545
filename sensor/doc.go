// Package sensor loads argus's eBPF programs, attaches them, and turns the
// records they write into typed Go events.
//
// # Kernel side
//
// Five BPF objects, generated from ../bpf by bpf2go and committed, cover the
// hook families: exec (tp_btf/sched_process_exec), lifecycle
// (tp_btf/sched_process_fork and sched_process_exit), connect
// (syscalls:sys_enter_connect and sys_exit_connect), sockaddr (cgroup
// sock_addr programs connect4, connect6, sendmsg4 and sendmsg6 on the root
// of the cgroup v2 hierarchy) and mmap (syscalls:sys_enter_mmap and
// sys_enter_mprotect: files mapped executable, the Library records). They share one BPF ring buffer and one
// per-CPU stats array: the exec object is loaded first and its maps are
// handed to the others as replacements.
//
// The sockaddr hooks see connections the connect syscall tracepoint cannot
// (32-bit programs, i386 socketcall, io_uring, TCP Fast Open through
// sendto, first datagrams to a destination) and report them as submitted:
// they run before the attempt, so no result is known. A 64-bit connect(2)
// also passes them and is left to the syscall hook, which has its result;
// they tell it by the syscall number (bpf_task_pt_regs), or on kernels
// where sock_addr programs cannot call that, by the legacy connect hooks'
// entry stash, which the loader then selects. They are optional: where
// they cannot load or attach the sensor runs without them and Hooks says
// why.
//
// The library hooks report a file mapped PROT_EXEC (or mprotect()ed to it)
// that is not the process's executable, once per process image and file.
// A file userspace has judged trusted ([Sensor.TrustLibrary]: a package
// database or signature vouched for its content) is dropped in the kernel
// while its ctime is unchanged, so an exec storm makes no library records.
// The exec program also copies the loader's variables (Options.LoaderEnv)
// out of the new image's environment, and nothing else of it. The library
// hooks are optional like the sockaddr ones; mprotect needs bpf_find_vma
// (Linux 5.17).
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
//
// # Connect folding
//
// With [Options.FoldInterval] set, the connect program counts an attempt
// identical to one it reported less than the interval before (same process,
// address space, network namespace, destination, protocol and result) in a
// hash map entry instead of sending it; the entry is made by the first
// repeat a CPU sees (a per-CPU table remembers what it last reported), so
// attempts that never repeat touch no hash map. After each drain the reader scans
// that map (one batch lookup, every half interval), takes each entry an
// interval older than the drain with lookup-and-delete, and queues a summary
// record ([Connect.Folded]) behind the record it adds to; at shutdown it
// takes every entry. Where the kernel cannot look up and delete a hash entry
// in one call (before 5.14) folding stays off ([Sensor.Folding]), so no
// folded attempt can go uncounted.
package sensor
