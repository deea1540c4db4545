package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/argus-sensor/argus-sensor/agent"
	"github.com/argus-sensor/argus-sensor/config"
	"github.com/argus-sensor/argus-sensor/forward/format"
)

// multiFlag collects a flag given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runFlags are the flags of `run`; each one given overrides the file.
type runFlags struct {
	fs       *flag.FlagSet
	config   *string
	outputs  multiFlag
	format   *string
	spool    *string
	state    *string
	ring     *int
	poll     *time.Duration
	queue    *int
	health   *time.Duration
	maxProcs *int
	hashWait *time.Duration
	noSnap   *bool
	libs     *bool
	level    *string
	metrics  *string
	cpuProf  *string
}

func newRunFlags(stderr io.Writer) *runFlags {
	d := config.Default()
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(stderr)
	f.config = fs.String("config", "", "configuration file (default "+config.DefaultPath+" when it exists)")
	fs.Var(&f.outputs, "output", "where events go (repeatable; replaces the file's outputs): stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT, https://...")
	f.format = fs.String("format", "native", "record format for outputs that do not set one: native, udm, ecs, or compact (one line of text per record, for people)")
	f.spool = fs.String("spool-dir", d.Spool.Dir, "disk spool for network outputs")
	f.state = fs.String("state-dir", d.StateDir, "what the sensor keeps across restarts: the prevalence store")
	f.ring = fs.Int("ring-size", int(d.Sensor.RingBytes), "BPF ring buffer size in bytes (power of two)")
	f.poll = fs.Duration("poll-interval", time.Duration(d.Sensor.PollInterval), "how long records gather in the ring buffer after a drain before the next read")
	f.queue = fs.Int("queue-len", d.Sensor.QueueLen, "events buffered between the ring reader and the pipeline")
	f.health = fs.Duration("health-interval", time.Duration(d.HealthInterval), "how often a sensor_health record is written (0 disables)")
	f.maxProcs = fs.Int("max-processes", d.ProcessTable.MaxProcesses, "process table bound")
	f.hashWait = fs.Duration("hash-wait", time.Duration(d.Hashing.Wait), "longest a record waits for its executable's hash before going out as pending")
	f.noSnap = fs.Bool("no-snapshot", false, "do not read already-running processes and open connections at start")
	f.libs = fs.Bool("libraries", true, "report files mapped executable (library_load records); false leaves the library hooks out")
	f.level = fs.String("log-level", d.LogLevel, "log level: debug, info, warn or error")
	f.metrics = fs.String("metrics-address", d.Metrics.Address, "host:port for /metrics and /healthz (empty disables)")
	f.cpuProf = fs.String("cpu-profile", "", "write a CPU profile of the whole run to this file (for performance work)")
	return f
}

// load reads the configuration file (if any) and lays the flags that were
// given over it.
func (f *runFlags) load() (*config.Config, string, error) {
	path := *f.config
	if path == "" {
		if _, err := os.Stat(config.DefaultPath); err == nil {
			path = config.DefaultPath
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", &config.Error{File: config.DefaultPath, Err: err}
		}
	}
	c := config.Default()
	if path != "" {
		var err error
		if c, err = config.Load(path); err != nil {
			return nil, path, err
		}
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if len(f.outputs) > 0 {
		c.Outputs = nil
		for _, spec := range f.outputs {
			c.Outputs = append(c.Outputs, config.Output{Spec: spec})
		}
	}
	if set["format"] {
		for i := range c.Outputs {
			if c.Outputs[i].Format == "" {
				c.Outputs[i].Format = *f.format
			}
		}
	}
	if set["state-dir"] {
		c.StateDir = *f.state
	}
	if set["spool-dir"] {
		c.Spool.Dir = *f.spool
	}
	if set["ring-size"] {
		c.Sensor.RingBytes = config.ByteSize(*f.ring)
	}
	if set["poll-interval"] {
		c.Sensor.PollInterval = config.Duration(*f.poll)
	}
	if set["queue-len"] {
		c.Sensor.QueueLen = *f.queue
	}
	if set["libraries"] {
		c.Sensor.Libraries = f.libs
	}
	if set["health-interval"] {
		c.HealthInterval = config.Duration(*f.health)
	}
	if set["max-processes"] {
		c.ProcessTable.MaxProcesses = *f.maxProcs
	}
	if set["hash-wait"] {
		c.Hashing.Wait = config.Duration(*f.hashWait)
	}
	if set["no-snapshot"] {
		c.Snapshot = !*f.noSnap
	}
	if set["log-level"] {
		c.LogLevel = *f.level
	}
	if set["metrics-address"] {
		c.Metrics.Address = *f.metrics
	}
	name := path
	if name == "" {
		name = "(defaults)"
	}
	if len(set) > 0 {
		name += " and flags"
	}
	if err := c.Validate(name); err != nil {
		return nil, path, err
	}
	return c, path, nil
}

// tuneGC reports whether the daemon may set the Go collector's target
// itself (agent.Config.TuneGC): only when the operator did not set GOGC.
func tuneGC(lookupEnv func(string) (string, bool)) bool {
	_, set := lookupEnv("GOGC")
	return !set
}

func runCommand(args []string, stderr io.Writer) error {
	// Take SIGHUP before anything else: a reload that arrives while the
	// sensor starts must wait for it, not kill it (SIGHUP's default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	f := newRunFlags(stderr)
	if err := parseFlags(f.fs, args); err != nil {
		return err
	}
	c, path, err := f.load()
	if err != nil {
		return err
	}
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel)) // validated by load
	log := newLogger(stderr, lvl)
	if jsonToTerminal(c) {
		fmt.Fprintln(stderr, "argus-sensor: writing argus.v1 JSON to this terminal; run with --format compact for one readable line per record")
	}
	acfg, err := agentConfig(c, version, log)
	if err != nil {
		return err
	}
	acfg.Hangups = hup
	acfg.TuneGC = tuneGC(os.LookupEnv)
	acfg.Started = func() {
		if err := sdNotify("READY=1"); err != nil {
			log.Warn("tell systemd the sensor is ready", "err", err)
		}
	}
	if path != "" {
		acfg.Reload = func() (agent.Config, error) {
			nc, _, err := f.load()
			if err != nil {
				return agent.Config{}, err
			}
			return agentConfig(nc, version, log)
		}
	}
	if *f.cpuProf != "" {
		pf, err := os.Create(*f.cpuProf)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signalContext()
	defer stop()
	context.AfterFunc(ctx, func() { sdNotify("STOPPING=1") })
	if err := agent.Run(ctx, acfg); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// jsonToTerminal reports whether a person is about to watch JSON scroll
// by: stdout is a terminal and an output writes JSON there.
func jsonToTerminal(c *config.Config) bool {
	if !format.IsTerminal(os.Stdout) {
		return false
	}
	for _, o := range c.Outputs {
		if o.Spec != "stdout" && o.Spec != "-" && !strings.HasPrefix(o.Spec, "stdout?") {
			continue
		}
		if f, err := format.ParseFormat(o.Format); err == nil && f != format.FormatCompact && !strings.Contains(o.Spec, "format=compact") {
			return true
		}
	}
	return false
}
