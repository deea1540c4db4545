package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// bpftraceScript is what an engineer might run instead of a sensor: every
// exec and every connect, one tab-separated line each (comm last, as it
// may hold spaces). Tracepoints only: kprobes are not available on every
// host the bench runs on. connect's destination is read from the caller's
// sockaddr at syscall exit, when the result is known; for other families
// than AF_INET it prints the family and leaves address and port empty.
const bpftraceScript = `tracepoint:sched:sched_process_exec
{
	printf("exec\t%d\t%s\t%s\n", pid, str(args->filename), comm);
}
tracepoint:syscalls:sys_enter_connect
{
	@sa[tid] = args->uservaddr;
}
tracepoint:syscalls:sys_exit_connect
/@sa[tid]/
{
	$sa = (struct sockaddr_in *)@sa[tid];
	$family = $sa->sin_family;
	if ($family == 2) {
		printf("connect\t%d\t%d\t%d\t%s\t%d\t%s\n", pid, args->ret, $family,
			ntop(2, $sa->sin_addr.s_addr), ($sa->sin_port & 0xff) << 8 | ($sa->sin_port >> 8), comm);
	} else {
		printf("connect\t%d\t%d\t%d\t\t\t%s\n", pid, args->ret, $family, comm);
	}
	delete(@sa[tid]);
}
END
{
	clear(@sa);
}
`

// bpftraceProc is Debian's bpftrace running bpftraceScript, its output
// in a file of the harness's temp dir.
type bpftraceProc struct {
	cmd *exec.Cmd
	dir string
	out string

	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

func haveBpftrace() bool {
	_, err := exec.LookPath("bpftrace")
	return err == nil
}

// ensureBpftrace makes the bpftrace peer available: when bpftrace is
// missing it installs Debian's bpftrace package with apt-get (it has no
// service to keep from starting). Then it checks that bpftrace can load a
// program here. It returns why the bpftrace condition can't run, or ""
// when it can.
func ensureBpftrace() string {
	if !haveBpftrace() {
		if _, err := exec.LookPath("apt-get"); err != nil {
			return "bpftrace is not installed and apt-get is not available (install the bpftrace package)"
		}
		env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		install := func() ([]byte, error) {
			cmd := exec.Command("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", "--no-install-recommends", "bpftrace")
			cmd.Env = env
			return cmd.CombinedOutput()
		}
		out, err := install()
		if err != nil {
			upd := exec.Command("apt-get", "update", "-q")
			upd.Env = env
			upd.Run()
			out, err = install()
		}
		if err != nil {
			return fmt.Sprintf("installing bpftrace failed: %v: %s", err, lastLine(out))
		}
		if !haveBpftrace() {
			return "bpftrace was installed but is still not in PATH"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "bpftrace", "-e", "BEGIN { exit(); }").CombinedOutput(); err != nil {
		return fmt.Sprintf("bpftrace cannot run here: %v: %s", err, lastLine(out))
	}
	return ""
}

// startBpftrace starts bpftrace with its output in dir and waits until it
// has attached its probes ("Attaching N probes...", which bpftrace writes
// to its output, or to stderr in some versions).
func startBpftrace(dir string) (*bpftraceProc, error) {
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start bpftrace: %w", err)
	}
	b := &bpftraceProc{dir: dir, out: filepath.Join(dir, "bpftrace.out"), exited: make(chan struct{})}
	b.cmd = exec.Command("bpftrace", "-o", b.out, "-e", bpftraceScript)
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start bpftrace: %w", err)
	}
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bpftrace: %w", err)
	}
	attached := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.mu.Lock()
			b.stderr.Write(sc.Bytes())
			b.stderr.WriteByte('\n')
			b.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "Attaching ") {
				once.Do(func() { close(attached) })
			}
		}
		io.Copy(io.Discard, stderr)
		b.err = b.cmd.Wait()
		close(b.exited)
	}()
	// Compiling the script takes LLVM a few seconds on a small host.
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-attached:
			return b, nil
		case <-b.exited:
			return nil, fmt.Errorf("start bpftrace: exited before attaching: %v: %s", b.err, b.stderrText())
		case <-deadline:
			b.kill()
			return nil, fmt.Errorf("start bpftrace: not attached within 2 minutes: %s", b.stderrText())
		case <-tick.C:
			if f, err := os.ReadFile(b.out); err == nil && bytes.Contains(f, []byte("Attaching ")) {
				return b, nil
			}
		}
	}
}

func (b *bpftraceProc) stderrText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.stderr.String())
}

func (b *bpftraceProc) kill() {
	b.cmd.Process.Kill()
	<-b.exited
}

// stop ends bpftrace with SIGINT, as at a terminal, and waits for it to
// flush its output and exit.
func (b *bpftraceProc) stop() error {
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("stop bpftrace: %w", err)
	}
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		b.kill()
		return fmt.Errorf("stop bpftrace: still running 30s after SIGINT: %s", b.stderrText())
	}
	if b.err != nil {
		return fmt.Errorf("stop bpftrace: %w: %s", b.err, b.stderrText())
	}
	return nil
}

// remove deletes bpftrace's output.
func (b *bpftraceProc) remove() { os.RemoveAll(b.dir) }

// bpftraceMatch selects the workload's own events from bpftrace's output.
type bpftraceMatch struct {
	// exec matches an exec event by the filename exec was given.
	exec func(filename string) bool
	// ports are the destination ports of the workload's connects.
	ports []uint16
}

// bpftraceMatcher is what each workload's events look like in
// bpftraceScript's output: execs by filename (what the workload passed to
// exec, so /bin/true, not the /usr/bin/true argus resolves), connects by
// destination port. The UDP storms send with sendto, which the script
// does not trace: none of their datagrams are reported.
func bpftraceMatcher(name string, k *kit, r workloadResult) bpftraceMatch {
	var m bpftraceMatch
	switch name {
	case "exec", "exec-container":
		m.exec = func(f string) bool { return f == "/bin/true" }
	case "exec-script":
		m.exec = func(f string) bool { return f == "/bin/sh" }
	case "hash":
		pool := filepath.Dir(k.hashPool[0]) + "/"
		m.exec = func(f string) bool { return strings.HasPrefix(f, pool) }
	case "mixed":
		m.exec = func(f string) bool { return f == k.mixed }
		m.ports = r.Ports
	case "connect", "connect-distinct":
		m.ports = r.Ports
	}
	return m
}

var bpftraceLost = regexp.MustCompile(`^Lost (\d+) events`)

// countBpftrace counts the exec and connect lines of bpftraceScript's
// output that m matches, and the events bpftrace says it lost ("Lost N
// events", one line per lossy read of its perf buffer).
func countBpftrace(r io.Reader, m bpftraceMatch) (execs, connects, lost uint64, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if g := bpftraceLost.FindStringSubmatch(l); g != nil {
			n, _ := strconv.ParseUint(g[1], 10, 64)
			lost += n
			continue
		}
		kind, rest, _ := strings.Cut(l, "\t")
		switch kind {
		case "exec":
			// pid, filename, comm
			f := strings.SplitN(rest, "\t", 3)
			if len(f) == 3 && m.exec != nil && m.exec(f[1]) {
				execs++
			}
		case "connect":
			// pid, ret, family, address, port, comm
			f := strings.SplitN(rest, "\t", 6)
			if len(f) != 6 || f[2] != "2" || restarted(f[1]) {
				continue
			}
			port, err := strconv.ParseUint(f[4], 10, 16)
			if err == nil && slices.Contains(m.ports, uint16(port)) {
				connects++
			}
		}
	}
	return execs, connects, lost, sc.Err()
}

// restarted reports whether a syscall's return value is one of the
// kernel's restart codes (ERESTARTSYS and its kin, -512 to -516): a
// connect interrupted by a signal (the Go runtime's preemption SIGURG) and
// restarted, which the tracepoints see twice, once with this result. It
// is one connection, counted at the attempt that finished.
func restarted(ret string) bool {
	n, err := strconv.Atoi(ret)
	return err == nil && n <= -512 && n >= -516
}

// count reads bpftrace's output once it has stopped, and the losses it
// reported on stderr.
func (b *bpftraceProc) count(m bpftraceMatch) (execs, connects, lost uint64, err error) {
	f, err := os.Open(b.out)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	execs, connects, lost, err = countBpftrace(f, m)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bpftrace output: %w", err)
	}
	_, _, lost2, _ := countBpftrace(strings.NewReader(b.stderrText()), bpftraceMatch{})
	return execs, connects, lost + lost2, nil
}

// waitIdle waits until pid has used under a millisecond of CPU in 200 ms
// (bpftrace has read what the workload made), or limit.
func waitIdle(pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last := cpuNs(pid)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		now := cpuNs(pid)
		if now-last < uint64(time.Millisecond) {
			return
		}
		last = now
	}
}

func bpftraceRound(cfg config, tmp string, k *kit, name string, cr *conditionReport, cpu map[string][]float64) (workloadResult, error) {
	b, err := startBpftrace(filepath.Join(tmp, "bpftrace"))
	if err != nil {
		return workloadResult{}, err
	}
	defer b.remove()
	pid := b.cmd.Process.Pid
	before := cpuNs(pid)
	rssDone := make(chan uint64)
	rssStop := make(chan struct{})
	go func() { rssDone <- sampleRSS(pid, rssStop) }()
	r, err := runOnce(name, cfg, k)
	close(rssStop)
	workRSS := <-rssDone
	if err != nil {
		b.kill()
		return r, err
	}
	// Reading and printing what the workload made is bpftrace's cost too.
	waitIdle(pid, 10*time.Second)
	after := cpuNs(pid)
	rss := peakRSS(pid)
	if err := b.stop(); err != nil {
		return r, err
	}
	execs, conns, lost, err := b.count(bpftraceMatcher(name, k, r))
	if err != nil {
		return r, err
	}
	n := execs + conns
	cr.EventsExpected += expected(name, r)
	cr.EventsReported += n
	cr.Lost += lost
	cr.PeakRSSBytes = max(cr.PeakRSSBytes, rss)
	cr.WorkloadRSSBytes = max(cr.WorkloadRSSBytes, workRSS)
	cpu["bpftrace"] = append(cpu["bpftrace"], float64(after-before)/1e3/float64(max(n, 1)))
	return r, nil
}

// bpftraceProgIDs are the BPF programs bpftrace holds open.
func bpftraceProgIDs(pid int) []ebpf.ProgramID {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fdinfo")
	ents, _ := os.ReadDir(dir)
	var ids []ebpf.ProgramID
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "prog_id:"); ok {
				if id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil && !slices.Contains(ids, ebpf.ProgramID(id)) {
					ids = append(ids, ebpf.ProgramID(id))
				}
			}
		}
	}
	return ids
}

// progStatsOf reads the run counts and times of the programs ids, by
// name ("bpftrace/" and the program's name, cut to 15 bytes by the
// kernel).
func progStatsOf(ids []ebpf.ProgramID) map[string]progCounter {
	out := map[string]progCounter{}
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		if err != nil {
			p.Close()
			continue
		}
		st, err := p.Stats()
		p.Close()
		if err != nil {
			continue
		}
		name := "bpftrace/" + info.Name
		if info.Name == "" {
			name = "bpftrace/" + strconv.Itoa(int(id))
		}
		c := out[name]
		c.runs += st.RunCount
		c.ns += uint64(st.Runtime.Nanoseconds())
		out[name] = c
	}
	return out
}

// measureBPFBpftrace is measureBPF for the bpftrace condition: the
// workload once more with BPF run-time statistics on, bpftrace's
// programs' run time over the workload's ops.
func measureBPFBpftrace(cfg config, tmp string, k *kit, name string, rep *workloadReport) error {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enable BPF stats: %w", err)
	}
	defer stats.Close()
	b, err := startBpftrace(filepath.Join(tmp, "bpftrace"))
	if err != nil {
		return err
	}
	defer b.remove()
	ids := bpftraceProgIDs(b.cmd.Process.Pid)
	if len(ids) == 0 {
		b.kill()
		return errors.New("bpftrace holds no BPF programs")
	}
	before := progStatsOf(ids)
	r, err := runOnce(name, cfg, k)
	after := progStatsOf(ids)
	if serr := b.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if rep.BpftraceBPF == nil {
		rep.BpftraceBPF = map[string]bpfStat{}
	}
	var total float64
	for prog, a := range after {
		bs := before[prog]
		runs := a.runs - bs.runs
		if runs == 0 {
			continue
		}
		ns := float64(a.ns - bs.ns)
		rep.BpftraceBPF[prog] = bpfStat{Runs: runs, NanosPerRun: ns / float64(runs)}
		total += ns
	}
	rep.BpftraceBPFNanosPerOp = total / float64(max(r.Ops, 1))
	return nil
}
