// Command bench measures what argus-sensor costs the host and whether it
// misses events, against a baseline measured in the same run.
//
//	go run ./bench [--quick] [--rounds N] [--duration D] [--out bench/results.json]
//
// # Method
//
// Each workload runs in a child process (this binary re-executed), so the
// sensor observes it like any other program and the workload's own
// throughput is measured apart from the sensor's CPU. Conditions are
// interleaved round by round (none, argus, none, argus, ...) and medians
// are reported, so drift in the machine's speed hits every condition alike.
//
// For the argus condition the harness builds and starts the real
// argus-sensor binary writing to a file, waits for its "started" record,
// runs the workload, stops it with SIGTERM, and then counts the records the
// workload should have produced in the output (events expected vs
// reported) and reads the sensor's final sensor_health record for kernel
// loss and userspace drops. Sensor CPU is the run time of all its threads
// (/proc/<pid>/task/*/schedstat, in ns) across the workload and drain. RSS
// under load is the largest VmRSS sampled every 100ms during the workload;
// peak RSS is VmHWM, start-up included.
//
// BPF run time per event is measured in a separate round with
// BPF_ENABLE_STATS on, because the accounting itself costs time: the
// harness reads each argus program's run count and run time.
//
// The UDP storms (udp-many, udp-one) send datagrams with sendto from one
// unconnected socket per loop: udp-many to a new destination every time
// (one record per datagram, the socket address hooks' worst case), udp-one
// always to the same one (one record per socket; the rest are counted in
// sensor_health.datagrams_folded, not reported). Records expected is what
// the workload says it should give.
//
// The connect-distinct storm connects to a new destination every time (the
// addresses of 127.0.0.0/8 in turn), so nothing can fold repeated
// connections; its child is started in a private network namespace whose
// only interface is lo, and checks that every loop thread is in it.
//
// Besides auditd, the peers include bpftrace running a tracepoint script
// that prints every exec and connect to a file: its lines are counted as
// its reported events and its process's CPU is divided by them.
//
// Output: a markdown table on stdout and the same figures as JSON.
package main
