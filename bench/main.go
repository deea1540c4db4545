package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

const workloadEnv = "ARGUS_BENCH_WORKLOAD"

func main() {
	if name := os.Getenv(workloadEnv); name != "" {
		d, _ := time.ParseDuration(os.Args[1])
		loops, _ := strconv.Atoi(os.Args[2])
		if err := runWorkload(name, d, loops); err != nil {
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
	quick     bool
	rounds    int
	duration  time.Duration
	loops     int
	sensorBin string
	out       string
	workloads []string
}

func run() error {
	var cfg config
	var workloads string
	flag.BoolVar(&cfg.quick, "quick", false, "routine check: 3 rounds of 2s (under 60s)")
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds per workload (each runs every condition once)")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "workload duration per condition per round")
	flag.IntVar(&cfg.loops, "loops", runtime.NumCPU(), "workload loops (one per core by default)")
	flag.StringVar(&cfg.sensorBin, "sensor", "", "argus-sensor binary (default: build ./cmd/argus-sensor)")
	flag.StringVar(&cfg.out, "out", "bench/results.json", "where to write the JSON results")
	flag.StringVar(&workloads, "workloads", "exec,connect", "comma-separated workloads")
	flag.Parse()
	if cfg.quick {
		cfg.rounds, cfg.duration = 3, 2*time.Second
	}
	cfg.workloads = strings.Split(workloads, ",")
	if os.Geteuid() != 0 {
		return errors.New("needs root: the sensor loads BPF programs")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

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

	res := results{
		Machine: machineInfo(), Quick: cfg.quick, Rounds: cfg.rounds,
		DurationSeconds: cfg.duration.Seconds(), Loops: cfg.loops,
	}
	for _, w := range cfg.workloads {
		log.Info("workload", "name", w, "rounds", cfg.rounds, "duration", cfg.duration)
		wr, err := measure(cfg, tmp, w, log)
		if err != nil {
			return fmt.Errorf("workload %s: %w", w, err)
		}
		res.Workloads = append(res.Workloads, wr)
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
	Workloads       []workloadReport  `json:"workloads"`
}

type workloadReport struct {
	Name string `json:"name"`
	// Ops per second, median over rounds, per condition.
	BaselineOpsPerSec float64   `json:"baseline_ops_per_sec"`
	ArgusOpsPerSec    float64   `json:"argus_ops_per_sec"`
	ArgusRatio        float64   `json:"argus_ratio"`
	BaselineRounds    []float64 `json:"baseline_rounds"`
	ArgusRounds       []float64 `json:"argus_rounds"`
	// Loss, summed over the argus rounds.
	EventsExpected uint64 `json:"events_expected"`
	EventsReported uint64 `json:"events_reported"`
	KernelLost     uint64 `json:"kernel_lost"`
	Dropped        uint64 `json:"userspace_dropped"`
	// Sensor CPU per event (median over rounds) and peak RSS (max).
	SensorCPUMicrosPerEvent float64 `json:"sensor_cpu_us_per_event"`
	SensorPeakRSSBytes      uint64  `json:"sensor_peak_rss_bytes"`
	// BPF run time per program run and per workload operation.
	BPF map[string]bpfStat `json:"bpf"`
	// BPFNanosPerOp is the summed run time of every argus program divided
	// by workload operations: what one exec or connect costs in the kernel.
	BPFNanosPerOp float64 `json:"bpf_ns_per_op"`
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

func workloadCmd(name string, cfg config) *exec.Cmd {
	self, _ := os.Executable()
	cmd := exec.Command(self, cfg.duration.String(), strconv.Itoa(cfg.loops))
	cmd.Env = append(os.Environ(), workloadEnv+"="+name)
	cmd.Stderr = os.Stderr
	return cmd
}

func runOnce(name string, cfg config) (workloadResult, error) {
	var r workloadResult
	out, err := workloadCmd(name, cfg).Output()
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(out, &r)
}

func measure(cfg config, tmp, name string, log *slog.Logger) (workloadReport, error) {
	rep := workloadReport{Name: name, BPF: map[string]bpfStat{}}
	var cpuPerEvent []float64
	out := filepath.Join(tmp, "events.jsonl")
	for round := range cfg.rounds {
		base, err := runOnce(name, cfg)
		if err != nil {
			return rep, fmt.Errorf("baseline: %w", err)
		}
		rep.BaselineRounds = append(rep.BaselineRounds, float64(base.Ops)/base.Seconds)

		s, err := startSensor(cfg.sensorBin, out)
		if err != nil {
			return rep, err
		}
		before, _ := s.cpuTicks()
		r, err := runOnce(name, cfg)
		if err != nil {
			s.stop()
			return rep, err
		}
		after, _ := s.cpuTicks()
		rss := s.peakRSS()
		if err := s.stop(); err != nil {
			return rep, err
		}
		n, health, err := s.count(matcher(name, r))
		if err != nil {
			return rep, err
		}
		rep.ArgusRounds = append(rep.ArgusRounds, float64(r.Ops)/r.Seconds)
		rep.EventsExpected += r.Ops
		rep.EventsReported += n
		rep.KernelLost += health.EventsLost
		rep.Dropped += health.EventsDropped
		rep.SensorPeakRSSBytes = max(rep.SensorPeakRSSBytes, rss)
		// The drain after the workload is inside [before, after] only up
		// to the stop; take the CPU over the workload window itself.
		cpuPerEvent = append(cpuPerEvent, float64(after-before)*1e6/100/float64(max(n, 1)))
		log.Info("round", "workload", name, "round", round+1,
			"baseline_ops_s", int(rep.BaselineRounds[round]), "argus_ops_s", int(rep.ArgusRounds[round]),
			"expected", r.Ops, "reported", n, "lost", health.EventsLost, "dropped", health.EventsDropped)
	}
	rep.BaselineOpsPerSec = median(rep.BaselineRounds)
	rep.ArgusOpsPerSec = median(rep.ArgusRounds)
	rep.ArgusRatio = rep.ArgusOpsPerSec / rep.BaselineOpsPerSec
	rep.SensorCPUMicrosPerEvent = median(cpuPerEvent)

	if err := measureBPF(cfg, out, name, &rep); err != nil {
		log.Warn("bpf stats", "err", err)
	}
	return rep, nil
}

func matcher(name string, r workloadResult) func(*outRecord) bool {
	switch name {
	case "exec":
		return func(rec *outRecord) bool {
			return rec.Kind == "process_launch" && rec.Process != nil && rec.Process.Exe.Path == "/usr/bin/true"
		}
	case "connect":
		return func(rec *outRecord) bool {
			return rec.Kind == "network_connection" && rec.Network != nil && rec.Network.DstPort == r.Port
		}
	}
	return func(*outRecord) bool { return false }
}

// measureBPF runs the workload once more with BPF run-time statistics on
// and attributes each argus program's run time to the workload's ops.
func measureBPF(cfg config, out, name string, rep *workloadReport) error {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enable BPF stats: %w", err)
	}
	defer stats.Close()
	s, err := startSensor(cfg.sensorBin, out)
	if err != nil {
		return err
	}
	before := progStats()
	r, err := runOnce(name, cfg)
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
		if err != nil || !strings.HasPrefix(info.Name, "handle_") {
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
	fmt.Fprintf(w, "\nargus-sensor overhead on %s, %s CPUs, %d rounds x %.0fs, %d loops (medians)\n\n",
		r.Machine["kernel"], r.Machine["cpus"], r.Rounds, r.DurationSeconds, r.Loops)
	fmt.Fprintln(w, "| workload | baseline ops/s | argus ops/s | ratio | expected | reported | kernel lost | dropped | sensor CPU µs/event | peak RSS MiB | BPF ns/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Workloads {
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.3f | %d | %d | %d | %d | %.2f | %.1f | %.0f |\n",
			x.Name, x.BaselineOpsPerSec, x.ArgusOpsPerSec, x.ArgusRatio, x.EventsExpected, x.EventsReported,
			x.KernelLost, x.Dropped, x.SensorCPUMicrosPerEvent, float64(x.SensorPeakRSSBytes)/(1<<20), x.BPFNanosPerOp)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | BPF program | runs | ns/run |")
	fmt.Fprintln(w, "|---|---|---:|---:|")
	for _, x := range r.Workloads {
		names := make([]string, 0, len(x.BPF))
		for n := range x.BPF {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(w, "| %s | %s | %d | %.0f |\n", x.Name, n, x.BPF[n].Runs, x.BPF[n].NanosPerRun)
		}
	}
}
