package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/argus-sensor/argus-sensor/agent"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// multiFlag collects a flag given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runCommand(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var outputs multiFlag
	fs.Var(&outputs, "output", "where events go (repeatable): stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT, https://... (default stdout)")
	format := fs.String("format", "native", "record format for outputs that do not set format=: native, udm or ecs")
	spool := fs.String("spool-dir", forward.DefaultSpoolDir, "disk spool for network outputs")
	ring := fs.Int("ring-size", sensor.DefaultRingBytes, "BPF ring buffer size in bytes (power of two)")
	poll := fs.Duration("poll-interval", sensor.DefaultPollInterval, "how often the ring buffer is drained when no wakeup came")
	queue := fs.Int("queue-len", sensor.DefaultQueueLen, "events buffered between the ring reader and the pipeline")
	health := fs.Duration("health-interval", agent.DefaultHealthInterval, "how often a sensor_health record is written (0 disables)")
	maxProcs := fs.Int("max-processes", 0, "process table bound (0 for the default)")
	hashWait := fs.Duration("hash-wait", hasher.DefaultWait, "longest a record waits for its executable's hash before going out as pending")
	noSnapshot := fs.Bool("no-snapshot", false, "do not read already-running processes and open connections at start")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError{fmt.Sprintf("run: --log-level %q: want debug, info, warn or error", *level)}
	}
	var f forward.Format // "": each spec's format= option, else native
	formatSet := false
	fs.Visit(func(fl *flag.Flag) { formatSet = formatSet || fl.Name == "format" })
	if formatSet {
		var err error
		if f, err = forward.ParseFormat(*format); err != nil {
			return usageError{"run: --format: " + err.Error()}
		}
	}
	if len(outputs) == 0 {
		outputs = multiFlag{"stdout"}
	}
	var outs []forward.Output
	for _, spec := range outputs {
		outs = append(outs, forward.Output{Spec: spec, Format: f})
	}
	hi := *health
	if hi == 0 {
		hi = -1
	}

	ctx, stop := signalContext()
	defer stop()
	return agent.Run(ctx, agent.Config{
		Outputs:        outs,
		SpoolDir:       *spool,
		HealthInterval: hi,
		HashWait:       *hashWait,
		MaxProcesses:   *maxProcs,
		NoSnapshot:     *noSnapshot,
		Version:        version,
		Logger:         newLogger(stderr, lvl),
		Sensor: sensor.Options{
			RingBytes:    *ring,
			PollInterval: *poll,
			QueueLen:     *queue,
		},
	})
}
