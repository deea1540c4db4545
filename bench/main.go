package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

const workloadEnv = "ARGUS_BENCH_WORKLOAD"

func main() {
	if name := os.Getenv(workloadEnv); name != "" {
		d, _ := time.ParseDuration(os.Args[1])
		loops, _ := strconv.Atoi(os.Args[2])
		if err := runWorkload(name, d, loops, os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, "workload:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	quick      bool
	rounds     int
	duration   time.Duration
	loops      int
	sensorBin  string
	out        string
	workloads  []string
	conditions []string
	// extraArgs are added to the sensor's command line, and condition
	// names the round's condition when it is not "argus" (argus-nolibs).
	extraArgs []string
	condition string
	poolFiles int
	poolSize  int64
	profile   bool
	profileOn string // the workload profiled
	// sha256MBps is crypto/sha256 on one core of this machine, measured
	// at the start of the run.
	sha256MBps float64
	// sensorConfig, when set, is passed to the sensor with --config.
	sensorConfig string
	// soak, when set, replaces the measurements with one long run.
	soak time.Duration
	// container runs the exec-container workload.
	container *benchContainer
}

func (c config) sensorArgs() []string {
	args := c.extraArgs
	if c.sensorConfig != "" {
		args = append(slices.Clip(args), "--config", c.sensorConfig)
	}
	return args
}

func run() error {
	var cfg config
	var workloads, conditions string
	flag.BoolVar(&cfg.quick, "quick", false, "routine check: 1 round of 1.5s, a small hash pool, no profile (under a minute)")
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds per workload (each runs every condition once, interleaved)")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "workload duration per condition per round")
	flag.IntVar(&cfg.loops, "loops", runtime.NumCPU(), "workload loops (one per core by default)")
	flag.StringVar(&cfg.sensorBin, "sensor", "", "argus-sensor binary (default: build ./cmd/argus-sensor)")
	flag.StringVar(&cfg.out, "out", "bench/results.json", "where to write the JSON results")
	flag.StringVar(&cfg.sensorConfig, "sensor-config", "", "configuration file for the sensor (default: its defaults)")
	flag.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "comma-separated workloads: exec, exec-container (the exec storm inside a podman container), exec-script (sh /dev/null: the interpreter wakeup path), connect, connect-distinct (every connect to a new loopback destination, in a private network namespace), mixed, hash, udp-many, udp-one")
	flag.StringVar(&conditions, "conditions", "none,argus,auditd,bpftrace", "comma-separated conditions: none, argus, auditd, bpftrace (a bpftrace script printing execs and connects), argus-nolibs (the sensor without its library hooks)")
	flag.IntVar(&cfg.poolFiles, "hash-files", 400, "distinct binaries in the hash workload's pool")
	flag.Int64Var(&cfg.poolSize, "hash-file-size", 4<<20, "size of each of them, bytes")
	flag.BoolVar(&cfg.profile, "profile", true, "profile the sensor under one workload (go tool pprof -top)")
	flag.StringVar(&cfg.profileOn, "profile-workload", "mixed", "the workload -profile runs, three durations long; it must be among -workloads")
	flag.DurationVar(&cfg.soak, "soak", 0, "soak instead of measuring: the mixed workload at a moderate rate (2s in every 10s, one loop) for DURATION, the sensor's RSS and goroutines sampled every 30s, with their slopes")
	noAuditd := flag.Bool("no-auditd", false, "leave the auditd condition out instead of installing auditd when it is missing")
	noBpftrace := flag.Bool("no-bpftrace", false, "leave the bpftrace condition out instead of installing bpftrace when it is missing")
	flag.Parse()
	if cfg.quick {
		cfg.rounds, cfg.duration, cfg.poolFiles, cfg.poolSize, cfg.profile = 1, 1500*time.Millisecond, 100, 2<<20, false
	}
	cfg.workloads = strings.Split(workloads, ",")
	cfg.conditions = strings.Split(conditions, ",")
	if os.Geteuid() != 0 {
		return errors.New("needs root: the sensor and bpftrace load BPF programs and auditd needs the audit subsystem")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	skipped := map[string]string{}
	if slices.Contains(cfg.conditions, "auditd") {
		why := "--no-auditd given"
		if !*noAuditd {
			why = ensureAuditd()
		}
		if why != "" {
			log.Warn("leaving the auditd condition out", "reason", why)
			skipped["auditd"] = why
			cfg.conditions = slices.DeleteFunc(cfg.conditions, func(c string) bool { return c == "auditd" })
		}
	}
	if slices.Contains(cfg.conditions, "bpftrace") {
		why := "--no-bpftrace given"
		if !*noBpftrace {
			why = ensureBpftrace()
		}
		if why != "" {
			log.Warn("leaving the bpftrace condition out", "reason", why)
			skipped["bpftrace"] = why
			cfg.conditions = slices.DeleteFunc(cfg.conditions, func(c string) bool { return c == "bpftrace" })
		}
	}

	tmp, err := os.MkdirTemp("", "argus-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.sensorBin == "" {
		cfg.sensorBin = filepath.Join(tmp, "argus-sensor")
		build := exec.Command("go", "build", "-o", cfg.sensorBin, "./cmd/argus-sensor")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build argus-sensor (run from the repository root): %w", err)
		}
	}
	k, err := prepareKit(tmp, cfg.poolFiles, cfg.poolSize)
	if err != nil {
		return err
	}

	if cfg.soak > 0 {
		return soak(cfg, tmp, k, log)
	}
	cfg.sha256MBps = sha256Speed()
	res := results{
		Machine: machineInfo(), Quick: cfg.quick, Rounds: cfg.rounds, DurationSeconds: cfg.duration.Seconds(),
		Loops: cfg.loops, Conditions: cfg.conditions, SHA256SingleCoreMBps: cfg.sha256MBps,
		Skipped: skipped,
	}
	if slices.Contains(cfg.workloads, "exec-container") {
		c, why := startContainer()
		if c == nil {
			log.Warn("leaving the exec-container workload out", "reason", why)
			res.SkippedWorkloads = map[string]string{"exec-container": why}
			cfg.workloads = slices.DeleteFunc(cfg.workloads, func(w string) bool { return w == "exec-container" })
		} else {
			defer c.stop()
			cfg.container = c
		}
	}
	for _, w := range cfg.workloads {
		log.Info("workload", "name", w, "rounds", cfg.rounds, "duration", cfg.duration)
		wr, err := measure(cfg, tmp, k, w, log)
		if err != nil {
			return fmt.Errorf("workload %s: %w", w, err)
		}
		res.Workloads = append(res.Workloads, wr)
	}
	if cfg.profile && slices.Contains(cfg.workloads, cfg.profileOn) && slices.Contains(cfg.conditions, "argus") {
		res.ProfileWorkload = cfg.profileOn
		if res.Profile, err = profileWorkload(cfg, tmp, k); err != nil {
			log.Warn("profile", "err", err)
		}
	}
	printTable(os.Stdout, res)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(cfg.out, append(b, '\n'), 0o644)
}

type results struct {
	Machine         map[string]string `json:"machine"`
	Quick           bool              `json:"quick"`
	Rounds          int               `json:"rounds"`
	DurationSeconds float64           `json:"duration_seconds"`
	Loops           int               `json:"loops"`
	Conditions      []string          `json:"conditions"`
	// Skipped names each requested condition that did not run, and why.
	Skipped map[string]string `json:"skipped_conditions,omitempty"`
	// SkippedWorkloads names each requested workload that did not run,
	// and why.
	SkippedWorkloads map[string]string `json:"skipped_workloads,omitempty"`
	// SHA256SingleCoreMBps is Go's crypto/sha256 over an in-memory buffer
	// on one core, measured in this run: the hash workload's yardstick.
	SHA256SingleCoreMBps float64          `json:"sha256_single_core_mb_per_s"`
	Workloads            []workloadReport `json:"workloads"`
	Profile              string           `json:"profile_top,omitempty"`
	ProfileWorkload      string           `json:"profile_workload,omitempty"`
}

type conditionReport struct {
	// Ops per second, median over rounds.
	OpsPerSec float64   `json:"ops_per_sec"`
	Ratio     float64   `json:"ratio_to_baseline"`
	Rounds    []float64 `json:"rounds"`
	// Events the workload made and the condition reported, summed over
	// rounds; Lost is what the tool itself says it lost.
	EventsExpected uint64 `json:"events_expected"`
	EventsReported uint64 `json:"events_reported"`
	Lost           uint64 `json:"lost"`
	// CPUMicrosPerEvent is the tool's CPU (argus: the sensor process;
	// auditd: auditd plus kauditd; bpftrace: the bpftrace process, not its
	// BPF programs) per reported event, median over rounds.
	CPUMicrosPerEvent float64 `json:"cpu_us_per_event"`
	// PeakRSSBytes is VmHWM: the most the sensor was ever resident,
	// start-up (package index build, snapshot) included.
	PeakRSSBytes uint64 `json:"peak_rss_bytes,omitempty"`
	// WorkloadRSSBytes is the largest VmRSS sampled every 100ms while the
	// workload ran: the steady state under load.
	WorkloadRSSBytes uint64 `json:"workload_rss_bytes,omitempty"`
	// Hash workload only: one hash worker's throughput, bytes hashed over
	// the workers' summed hashing time (argus_hash_seconds_total), and its
	// ratio to sha256 on one core of this machine.
	HashMBps          float64 `json:"hash_mb_per_s,omitempty"`
	HashRatioToSHA256 float64 `json:"hash_ratio_to_sha256,omitempty"`
	HashHitRatio      float64 `json:"hash_hit_ratio,omitempty"`
	// RecordBytes is the size of each kind of record the sensor wrote, in
	// each JSON format, in the last round (argus conditions only).
	RecordBytes map[string]map[string]sizeStat `json:"record_bytes,omitempty"`
}

type workloadReport struct {
	Name       string                      `json:"name"`
	Conditions map[string]*conditionReport `json:"conditions"`
	// BPF run time per program run and per workload operation, measured
	// in a separate round with BPF_ENABLE_STATS on.
	BPF           map[string]bpfStat `json:"bpf,omitempty"`
	BPFNanosPerOp float64            `json:"bpf_ns_per_op,omitempty"`
	// The same for the bpftrace condition's programs.
	BpftraceBPF           map[string]bpfStat `json:"bpftrace_bpf,omitempty"`
	BpftraceBPFNanosPerOp float64            `json:"bpftrace_bpf_ns_per_op,omitempty"`
}

type bpfStat struct {
	Runs        uint64  `json:"runs"`
	NanosPerRun float64 `json:"ns_per_run"`
}

func machineInfo() map[string]string {
	var uts unix.Utsname
	unix.Uname(&uts)
	return map[string]string{
		"kernel": unix.ByteSliceToString(uts.Release[:]),
		"cpus":   strconv.Itoa(runtime.NumCPU()),
		"date":   time.Now().UTC().Format(time.RFC3339),
	}
}

// sha256Speed is crypto/sha256's in-memory throughput on one core, MB/s.
func sha256Speed() float64 {
	buf := make([]byte, 64<<20)
	start := time.Now()
	n := 0
	for time.Since(start) < 500*time.Millisecond {
		sha256.Sum256(buf)
		n++
	}
	return float64(n*len(buf)) / time.Since(start).Seconds() / 1e6
}

func workloadCmd(name string, cfg config, args ...string) *exec.Cmd {
	args = append([]string{cfg.duration.String(), strconv.Itoa(cfg.loops)}, args...)
	if name == "exec-container" {
		// The exec storm, run by the same binary inside a container.
		cmd := cfg.container.command("exec", args...)
		cmd.Stderr = os.Stderr
		return cmd
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), workloadEnv+"="+name)
	cmd.Stderr = os.Stderr
	if name == "connect-distinct" {
		// Born in a network namespace of its own, every thread of it:
		// its listeners and connections never touch the host's network.
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	}
	return cmd
}

func runOnce(name string, cfg config, k *kit) (workloadResult, error) {
	var args []string
	switch name {
	case "mixed":
		args = []string{k.mixed}
	case "hash":
		args = k.hashPool
	}
	var r workloadResult
	out, err := workloadCmd(name, cfg, args...).Output()
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(out, &r)
}

// expected is how many records a workload run should give.
func expected(name string, r workloadResult) uint64 {
	switch {
	case name == "mixed":
		return 2 * r.Ops // a launch and a connection
	case r.Records > 0:
		return r.Records
	}
	return r.Ops
}

func measure(cfg config, tmp string, k *kit, name string, log *slog.Logger) (workloadReport, error) {
	rep := workloadReport{Name: name, Conditions: map[string]*conditionReport{}, BPF: map[string]bpfStat{}}
	cpu := map[string][]float64{}
	for _, c := range cfg.conditions {
		rep.Conditions[c] = &conditionReport{}
	}
	for round := range cfg.rounds {
		for _, c := range cfg.conditions {
			cr := rep.Conditions[c]
			var r workloadResult
			var err error
			switch c {
			case "none":
				r, err = runOnce(name, cfg, k)
			case "argus":
				r, err = argusRound(cfg, tmp, k, name, cr, cpu)
			case "argus-nolibs":
				// The same sensor without the library hooks: the ratio
				// to "argus" is what reporting libraries costs.
				nolibs := cfg
				nolibs.extraArgs = append(slices.Clip(cfg.extraArgs), "--libraries=false")
				nolibs.condition = c
				r, err = argusRound(nolibs, tmp, k, name, cr, cpu)
			case "auditd":
				r, err = auditdRound(cfg, tmp, k, name, cr, cpu)
			case "bpftrace":
				r, err = bpftraceRound(cfg, tmp, k, name, cr, cpu)
			default:
				err = fmt.Errorf("unknown condition %q", c)
			}
			if err != nil {
				return rep, fmt.Errorf("%s: %w", c, err)
			}
			cr.Rounds = append(cr.Rounds, float64(r.Ops)/r.Seconds)
			log.Info("round", "workload", name, "round", round+1, "condition", c, "ops_s", int(float64(r.Ops)/r.Seconds))
		}
	}
	var base float64 // no ratios when the baseline was not run
	if none := rep.Conditions["none"]; none != nil {
		base = median(none.Rounds)
	}
	for c, cr := range rep.Conditions {
		cr.OpsPerSec = median(cr.Rounds)
		if base > 0 {
			cr.Ratio = cr.OpsPerSec / base
		}
		cr.CPUMicrosPerEvent = median(cpu[c])
	}
	if slices.Contains(cfg.conditions, "argus") {
		if err := measureBPF(cfg, tmp, k, name, &rep); err != nil {
			log.Warn("bpf stats", "err", err)
		}
	}
	if slices.Contains(cfg.conditions, "bpftrace") {
		if err := measureBPFBpftrace(cfg, tmp, k, name, &rep); err != nil {
			log.Warn("bpftrace bpf stats", "err", err)
		}
	}
	return rep, nil
}

func argusRound(cfg config, tmp string, k *kit, name string, cr *conditionReport, cpu map[string][]float64) (workloadResult, error) {
	s, err := startSensor(cfg.sensorBin, tmp, cfg.sensorArgs()...)
	if err != nil {
		return workloadResult{}, err
	}
	pid := s.cmd.Process.Pid
	// The start-up snapshot hashes every running program: let it finish
	// so its cost is not counted against the workload.
	s.settle(30 * time.Second)
	before := cpuNs(pid)
	var hashTrack *hashTracker
	if name == "hash" {
		hashTrack = trackHashing(s)
	}
	rssDone := make(chan uint64)
	rssStop := make(chan struct{})
	go func() { rssDone <- sampleRSS(pid, rssStop) }()
	r, err := runOnce(name, cfg, k)
	close(rssStop)
	workRSS := <-rssDone
	if err != nil {
		s.stop()
		return r, err
	}
	if name == "hash" {
		// Let the sensor finish hashing what the workload ran.
		hashTrack.wait(r.Ops, 60*time.Second)
	}
	// The CPU of draining what the workload produced is the sensor's cost
	// too: wait until the ring and pipeline are empty before reading it.
	s.settle(5 * time.Second)
	after := cpuNs(pid)
	rss := peakRSS(pid)
	if hashTrack != nil {
		// settle saw the counters still over two publishes: final.
		hashTrack.final = s.scrape()
	}
	if err := s.stop(); err != nil {
		return r, err
	}
	sizes := newSizeSampler()
	n, health, err := s.count(argusMatcher(name, k, r), sizes)
	if err != nil {
		return r, err
	}
	cr.RecordBytes = sizes.stats()
	cr.EventsExpected += expected(name, r)
	cr.EventsReported += n
	cr.Lost += health.EventsLost + health.EventsDropped
	cr.PeakRSSBytes = max(cr.PeakRSSBytes, rss)
	cr.WorkloadRSSBytes = max(cr.WorkloadRSSBytes, workRSS)
	cond := "argus"
	if cfg.condition != "" {
		cond = cfg.condition
	}
	cpu[cond] = append(cpu[cond], float64(after-before)/1e3/float64(max(n, 1)))
	if h := health.Hashing; h != nil {
		cr.HashHitRatio = h.HitRatio
	}
	if hashTrack != nil {
		if v := hashTrack.mbps(); v > cr.HashMBps {
			cr.HashMBps = v
			cr.HashRatioToSHA256 = v / cfg.sha256MBps
		}
	}
	return r, nil
}

// settle waits until the sensor is idle: its ring and pipeline queue
// empty and no hash in flight, on two scrapes a publish interval apart.
func (p *sensorProc) settle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	idle := 0
	for time.Now().Before(deadline) && idle < 2 {
		m := p.scrape()
		if m != nil && m["argus_ring_buffer_pending_bytes"] == 0 && m["argus_pipeline_queued_records"] == 0 &&
			m["argus_hash_files_total"] == p.lastFiles {
			idle++
		} else {
			idle = 0
		}
		p.lastFiles = m["argus_hash_files_total"]
		time.Sleep(1100 * time.Millisecond) // the counters are published once a second
	}
}

// hashTracker samples the sensor's bytes-hashed counter while the hash
// workload runs.
type hashTracker struct {
	s *sensorProc
	// base and final are the sensor's counters before the workload and
	// once it has settled after it.
	base, final map[string]float64
	samples     []hashSample
	stop        chan struct{}
	done        chan struct{}
}

type hashSample struct {
	t            time.Time
	bytes, files float64
}

func trackHashing(s *sensorProc) *hashTracker {
	h := &hashTracker{s: s, base: s.scrape(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			select {
			case <-h.stop:
				return
			default:
			}
			if m := s.scrape(); m != nil {
				h.samples = append(h.samples, hashSample{time.Now(), m["argus_hash_bytes_total"], m["argus_hash_files_total"]})
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return h
}

// wait stops sampling once files files are hashed (or at limit).
func (h *hashTracker) wait(files uint64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if n := len(h.samples); n > 0 && uint64(h.samples[n-1].files) >= files {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	close(h.stop)
	<-h.done
}

// mbps is one worker's hashing throughput over the round: bytes hashed
// per second of worker time, from the counters before the workload and
// after the sensor settled.
func (h *hashTracker) mbps() float64 {
	if h.base == nil || h.final == nil {
		return 0
	}
	secs := h.final["argus_hash_seconds_total"] - h.base["argus_hash_seconds_total"]
	if secs <= 0 {
		return 0
	}
	return (h.final["argus_hash_bytes_total"] - h.base["argus_hash_bytes_total"]) / secs / 1e6
}

func argusMatcher(name string, k *kit, r workloadResult) func(*outRecord) bool {
	launchOf := func(rec *outRecord, match func(string) bool) bool {
		return rec.Kind == "process_launch" && rec.Process != nil && match(rec.Process.Exe.Path)
	}
	connTo := func(rec *outRecord) bool {
		return rec.Kind == "network_connection" && rec.Network != nil && slices.Contains(r.Ports, rec.Network.DstPort)
	}
	switch name {
	case "exec", "exec-container":
		return func(rec *outRecord) bool {
			return launchOf(rec, func(p string) bool { return p == "/usr/bin/true" })
		}
	case "exec-script":
		sh, _ := filepath.EvalSymlinks("/bin/sh")
		return func(rec *outRecord) bool {
			return launchOf(rec, func(p string) bool { return p == sh })
		}
	case "connect":
		return connTo
	case "connect-distinct":
		return func(rec *outRecord) bool { return connTo(rec) && strings.HasPrefix(rec.Network.DstIP, "127.") }
	case "mixed":
		return func(rec *outRecord) bool {
			return launchOf(rec, func(p string) bool { return p == k.mixed }) || connTo(rec)
		}
	case "hash":
		pool := filepath.Dir(k.hashPool[0]) + "/"
		return func(rec *outRecord) bool {
			return launchOf(rec, func(p string) bool { return strings.HasPrefix(p, pool) })
		}
	case "udp-many", "udp-one":
		return func(rec *outRecord) bool {
			n := rec.Network
			return rec.Kind == "network_connection" && n != nil && n.Via == "sendmsg" && n.DstPort == udpPort &&
				strings.HasPrefix(n.DstIP, "127.")
		}
	}
	return func(*outRecord) bool { return false }
}

func auditdRound(cfg config, tmp string, k *kit, name string, cr *conditionReport, cpu map[string][]float64) (workloadResult, error) {
	a, err := startAuditd(filepath.Join(tmp, "auditd"))
	if err != nil {
		return workloadResult{}, err
	}
	kpid := kauditdPID()
	lost0 := auditLost()
	before := cpuNs(a.cmd.Process.Pid) + cpuNs(kpid)
	r, err := runOnce(name, cfg, k)
	if err != nil {
		a.stop()
		return r, err
	}
	time.Sleep(500 * time.Millisecond) // auditd flushes asynchronously
	after := cpuNs(a.cmd.Process.Pid) + cpuNs(kpid)
	lost := auditLost() - lost0
	a.stop()
	execs, conns, err := a.count(auditMatcher(name, k))
	if err != nil {
		return r, err
	}
	n := execs + conns
	cr.EventsExpected += expected(name, r)
	cr.EventsReported += n
	cr.Lost += lost
	cpu["auditd"] = append(cpu["auditd"], float64(after-before)/1e3/float64(max(n, 1)))
	return r, nil
}

// auditMatcher selects the workload's own audit records by executable.
func auditMatcher(name string, k *kit) func(line string) bool {
	self, _ := os.Executable()
	switch name {
	case "exec", "exec-container":
		return func(l string) bool { return strings.Contains(l, ` exe="/usr/bin/true"`) }
	case "exec-script":
		sh, _ := filepath.EvalSymlinks("/bin/sh")
		return func(l string) bool { return strings.Contains(l, ` exe="`+sh+`"`) }
	case "connect", "connect-distinct":
		return func(l string) bool { return strings.Contains(l, ` exe="`+self+`"`) && isConnect(l) }
	case "mixed":
		return func(l string) bool { return strings.Contains(l, ` exe="`+k.mixed+`"`) }
	case "hash":
		pool := filepath.Dir(k.hashPool[0]) + "/"
		return func(l string) bool { return strings.Contains(l, ` exe="`+pool) }
	}
	return func(string) bool { return false }
}

// measureBPF runs the workload once more with BPF run-time statistics on
// and attributes each argus program's run time to the workload's ops.
func measureBPF(cfg config, tmp string, k *kit, name string, rep *workloadReport) error {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enable BPF stats: %w", err)
	}
	defer stats.Close()
	s, err := startSensor(cfg.sensorBin, tmp, cfg.sensorArgs()...)
	if err != nil {
		return err
	}
	before := progStats()
	r, err := runOnce(name, cfg, k)
	after := progStats()
	if serr := s.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	var total float64
	for prog, a := range after {
		b := before[prog]
		runs := a.runs - b.runs
		if runs == 0 {
			continue
		}
		ns := float64(a.ns - b.ns)
		rep.BPF[prog] = bpfStat{Runs: runs, NanosPerRun: ns / float64(runs)}
		total += ns
	}
	rep.BPFNanosPerOp = total / float64(max(r.Ops, 1))
	return nil
}

type progCounter struct{ runs, ns uint64 }

// progStats reads run counts and times of every loaded argus program.
func progStats() map[string]progCounter {
	out := map[string]progCounter{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		// Names are cut to 15 bytes: sockaddr_connect4 is sockaddr_connec.
		if err != nil || !(strings.HasPrefix(info.Name, "handle_") || strings.HasPrefix(info.Name, "sockaddr_")) {
			p.Close()
			continue
		}
		st, err := p.Stats()
		p.Close()
		if err != nil {
			continue
		}
		c := out[info.Name]
		c.runs += st.RunCount
		c.ns += uint64(st.Runtime.Nanoseconds())
		out[info.Name] = c
	}
}

// profileWorkload profiles the sensor under cfg.profileOn and returns
// pprof's top functions by their own CPU and by cumulative CPU.
func profileWorkload(cfg config, tmp string, k *kit) (string, error) {
	prof := filepath.Join(tmp, cfg.profileOn+".pprof")
	s, err := startSensor(cfg.sensorBin, tmp, append(cfg.sensorArgs(), "--cpu-profile", prof)...)
	if err != nil {
		return "", err
	}
	long := cfg
	long.duration = 3 * cfg.duration
	if _, err := runOnce(cfg.profileOn, long, k); err != nil {
		s.stop()
		return "", err
	}
	if err := s.stop(); err != nil {
		return "", err
	}
	var top []byte
	for _, order := range []string{"-flat", "-cum"} {
		out, err := exec.Command("go", "tool", "pprof", "-top", order, "-nodecount=25", cfg.sensorBin, prof).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("pprof: %w: %s", err, out)
		}
		top = append(top, out...)
	}
	return string(top), nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w io.Writer, r results) {
	fmt.Fprintf(w, "\nargus-sensor overhead on %s, %s CPUs, %d rounds x %.1fs, %d loops; medians; sha256 on one core: %.0f MB/s\n\n",
		r.Machine["kernel"], r.Machine["cpus"], r.Rounds, r.DurationSeconds, r.Loops, r.SHA256SingleCoreMBps)
	for _, c := range slices.Sorted(maps.Keys(r.Skipped)) {
		fmt.Fprintf(w, "CONDITION SKIPPED: %s: %s\n\n", c, r.Skipped[c])
	}
	for _, c := range slices.Sorted(maps.Keys(r.SkippedWorkloads)) {
		fmt.Fprintf(w, "WORKLOAD SKIPPED: %s: %s\n\n", c, r.SkippedWorkloads[c])
	}
	fmt.Fprintln(w, "| workload | condition | ops/s | ratio | events expected | reported | lost | CPU µs/event | RSS MiB under load | peak RSS MiB | hash MB/s per worker (× sha256) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Workloads {
		for _, c := range r.Conditions {
			cr := x.Conditions[c]
			if cr == nil {
				continue
			}
			exp, rep, lost, cpu, wrss, rss, hash := "", "", "", "", "", "", ""
			if c != "none" {
				exp, rep, lost = strconv.FormatUint(cr.EventsExpected, 10), strconv.FormatUint(cr.EventsReported, 10), strconv.FormatUint(cr.Lost, 10)
				cpu = fmt.Sprintf("%.2f", cr.CPUMicrosPerEvent)
			}
			if cr.PeakRSSBytes > 0 {
				rss = fmt.Sprintf("%.1f", float64(cr.PeakRSSBytes)/(1<<20))
			}
			if cr.WorkloadRSSBytes > 0 {
				wrss = fmt.Sprintf("%.1f", float64(cr.WorkloadRSSBytes)/(1<<20))
			}
			if cr.HashMBps > 0 {
				hash = fmt.Sprintf("%.0f (%.2f)", cr.HashMBps, cr.HashRatioToSHA256)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.3f | %s | %s | %s | %s | %s | %s | %s |\n",
				x.Name, c, cr.OpsPerSec, cr.Ratio, exp, rep, lost, cpu, wrss, rss, hash)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | BPF program | runs | ns/run | BPF ns per op |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	for _, x := range r.Workloads {
		for _, progs := range []struct {
			stats map[string]bpfStat
			perOp float64
		}{{x.BPF, x.BPFNanosPerOp}, {x.BpftraceBPF, x.BpftraceBPFNanosPerOp}} {
			for _, n := range slices.Sorted(maps.Keys(progs.stats)) {
				fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.0f |\n", x.Name, n, progs.stats[n].Runs, progs.stats[n].NanosPerRun, progs.perOp)
			}
		}
	}
	printSizes(w, r)
	if r.Profile != "" {
		fmt.Fprintf(w, "\nsensor CPU profile under the %s workload:\n\n```\n%s```\n", r.ProfileWorkload, r.Profile)
	}
}
