package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/argus-sensor/argus-sensor/agent"
	"github.com/argus-sensor/argus-sensor/sensor"
)

func runCommand(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("output", "stdout", "where events go: stdout or file:PATH")
	ring := fs.Int("ring-size", sensor.DefaultRingBytes, "BPF ring buffer size in bytes (power of two)")
	poll := fs.Duration("poll-interval", sensor.DefaultPollInterval, "how often the ring buffer is drained when no wakeup came")
	queue := fs.Int("queue-len", sensor.DefaultQueueLen, "events buffered between the ring reader and the pipeline")
	health := fs.Duration("health-interval", agent.DefaultHealthInterval, "how often a sensor_health record is written (0 disables)")
	maxProcs := fs.Int("max-processes", 0, "process table bound (0 for the default)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError{fmt.Sprintf("run: --log-level %q: want debug, info, warn or error", *level)}
	}
	hi := *health
	if hi == 0 {
		hi = -1
	}

	ctx, stop := signalContext()
	defer stop()
	return agent.Run(ctx, agent.Config{
		Output:         *output,
		HealthInterval: hi,
		MaxProcesses:   *maxProcs,
		Version:        version,
		Logger:         newLogger(stderr, lvl),
		Sensor: sensor.Options{
			RingBytes:    *ring,
			PollInterval: *poll,
			QueueLen:     *queue,
		},
	})
}
