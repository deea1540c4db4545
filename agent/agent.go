package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/argus-sensor/argus-sensor/enrich"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// Config is what the daemon runs with.
type Config struct {
	// Output is the sink spec: "stdout" or "file:PATH".
	Output string
	// HealthInterval is how often a sensor_health record is written.
	// Zero means DefaultHealthInterval; negative disables periodic ones.
	HealthInterval time.Duration
	Sensor         sensor.Options
	MaxProcesses   int
	Version        string
	Logger         *slog.Logger
	// Started, if set, is called once the sensor is attached and the
	// "started" record has been written.
	Started func()
}

// DefaultHealthInterval is how often sensor_health is written by default.
const DefaultHealthInterval = time.Minute

// Run runs the daemon until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg.Sensor.Logger = log
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}

	sink, err := forward.Open(cfg.Output)
	if err != nil {
		return err
	}
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	en, err := enrich.New(enrich.Options{
		Hostname: hostname, BootID: enrich.BootID(), MaxProcesses: cfg.MaxProcesses, Logger: log,
	})
	if err != nil {
		return err
	}
	s, err := sensor.New(cfg.Sensor)
	if err != nil {
		sink.Close()
		return err
	}
	defer s.Close()

	p := &pipeline{cfg: cfg, log: log, sensor: s, enrich: en, sink: sink, start: time.Now()}
	readErr := make(chan error, 1)
	go func() { readErr <- s.Run(ctx) }()

	p.health("started")
	if err := sink.Flush(); err != nil {
		log.Error("write output", "sink", sink.String(), "err", err)
	}
	log.Info("sensor started", "output", sink.String(), "ring_bytes", cfg.Sensor.RingBytes)
	if cfg.Started != nil {
		cfg.Started()
	}

	p.loop()
	err = <-readErr
	p.health("stopped")
	if cerr := sink.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	log.Info("sensor stopped")
	return err
}

type pipeline struct {
	cfg    Config
	log    *slog.Logger
	sensor *sensor.Sensor
	enrich *enrich.Enricher
	sink   forward.Sink
	start  time.Time
	buf    []byte
	recs   []*event.Record

	writeErrors uint64
	lastErr     error
}

// loop runs until the sensor closes its channel (after draining).
func (p *pipeline) loop() {
	events := p.sensor.Events()
	var tick <-chan time.Time
	if p.cfg.HealthInterval > 0 {
		t := time.NewTicker(p.cfg.HealthInterval)
		defer t.Stop()
		tick = t.C
	}
	flush := time.NewTicker(200 * time.Millisecond)
	defer flush.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				p.writeAll(p.enrich.Flush(time.Time{}, p.recs[:0]))
				return
			}
			p.writeAll(p.enrich.Handle(ev, p.recs[:0]))
			if len(events) == 0 {
				p.flush()
			}
		case now := <-flush.C:
			p.writeAll(p.enrich.Flush(now, p.recs[:0]))
			p.flush()
		case <-tick:
			p.health("running")
			p.flush()
		}
	}
}

func (p *pipeline) writeAll(recs []*event.Record) {
	for _, r := range recs {
		p.write(r)
	}
	p.recs = recs[:0]
}

func (p *pipeline) write(rec *event.Record) {
	p.buf = append(rec.AppendJSON(p.buf[:0]), '\n')
	if err := p.sink.Write(p.buf); err != nil {
		p.fail(err)
	}
}

func (p *pipeline) flush() {
	if err := p.sink.Flush(); err != nil {
		p.fail(err)
	}
}

func (p *pipeline) fail(err error) {
	p.writeErrors++
	if p.lastErr == nil || p.lastErr.Error() != err.Error() {
		p.log.Error("write output", "sink", p.sink.String(), "err", err)
	}
	p.lastErr = err
}

func (p *pipeline) health(state string) {
	p.write(p.healthRecord(state))
}

func (p *pipeline) healthRecord(state string) *event.Record {
	now := time.Now()
	h := &event.Health{
		State:         state,
		UptimeSeconds: now.Sub(p.start).Seconds(),
		Version:       p.cfg.Version,
		EventsByKind:  map[string]uint64{},
		LostByKind:    map[string]uint64{},
	}
	st, err := p.sensor.Stats()
	if err != nil {
		h.LastError = err.Error()
	}
	h.EventsLost = st.KernelLost()
	h.EventsDropped = st.Dropped
	h.DecodeErrors = st.DecodeErrors
	if st.LastDecodeError != "" {
		h.LastError = st.LastDecodeError
	}
	if p.lastErr != nil {
		h.LastError = p.lastErr.Error()
	}
	for k, v := range st.Read {
		h.EventsByKind[k.String()] = v
	}
	for k, v := range st.Lost {
		h.LostByKind[k.String()] = v
	}
	if st.PendingFull > 0 {
		h.LostByKind["connect_pending_full"] = st.PendingFull
	}
	h.RingBytes, h.RingPending = st.RingBytes, st.RingPending
	for _, hk := range p.sensor.Hooks() {
		hs := event.HookState{Name: hk.Name, Attach: hk.Attach, Attached: hk.Attached}
		if hk.Err != nil {
			hs.Error = hk.Err.Error()
		}
		h.Hooks = append(h.Hooks, hs)
	}
	es := p.enrich.Stats()
	h.Processes, h.ProcessesEvicted = es.Processes, es.Evicted
	h.WriteErrors = p.writeErrors
	return &event.Record{
		Schema: event.Schema,
		ID:     fmt.Sprintf("%s-health-%x", p.enrich.Host().BootID, now.UnixNano()),
		Kind:   event.KindSensorHealth,
		Time:   now.UTC(),
		Host:   p.enrich.Host(),
		Health: h,
	}
}
