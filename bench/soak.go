package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// soakSample is one look at the sensor during a soak.
type soakSample struct {
	Seconds    float64 `json:"seconds"`
	RSSBytes   uint64  `json:"rss_bytes"`
	Goroutines float64 `json:"goroutines"`
}

type soakReport struct {
	Machine         map[string]string `json:"machine"`
	DurationSeconds float64           `json:"duration_seconds"`
	Samples         []soakSample      `json:"samples"`
	// Least-squares slopes over the samples after the first (start-up
	// excluded): per hour.
	RSSBytesPerHour   float64 `json:"rss_bytes_per_hour"`
	GoroutinesPerHour float64 `json:"goroutines_per_hour"`
	EventsLost        uint64  `json:"events_lost"`
}

// soak runs the mixed workload at a moderate rate (2 s of one loop in
// every 10 s) against one sensor for cfg.soak, sampling its resident size
// and goroutine count every 30 s, and reports how they trend: a leak
// shows as a slope that does not flatten.
func soak(cfg config, tmp string, k *kit, log *slog.Logger) error {
	s, err := startSensor(cfg.sensorBin, tmp, cfg.sensorArgs()...)
	if err != nil {
		return err
	}
	start := time.Now()
	var rep soakReport
	rep.Machine = machineInfo()
	sample := func() {
		m := s.scrape()
		rep.Samples = append(rep.Samples, soakSample{Seconds: time.Since(start).Seconds(),
			RSSBytes: statusBytes(s.cmd.Process.Pid, "VmRSS:"), Goroutines: m["go_goroutines"]})
		last := rep.Samples[len(rep.Samples)-1]
		log.Info("soak", "elapsed", time.Since(start).Round(time.Second), "rss", last.RSSBytes, "goroutines", last.Goroutines)
	}
	sample()
	work := cfg
	work.loops, work.duration = 1, 2*time.Second
	next := start.Add(30 * time.Second)
	for time.Since(start) < cfg.soak {
		if _, err := runOnce("mixed", work, k); err != nil {
			s.stop()
			return fmt.Errorf("soak workload: %w", err)
		}
		time.Sleep(8 * time.Second)
		if time.Now().After(next) {
			sample()
			next = next.Add(30 * time.Second)
		}
	}
	sample()
	if err := s.stop(); err != nil {
		return err
	}
	_, fh, err := s.count(func(*outRecord) bool { return false }, nil)
	if err == nil {
		rep.EventsLost = fh.EventsLost + fh.EventsDropped
	}
	rep.DurationSeconds = time.Since(start).Seconds()
	if len(rep.Samples) > 2 {
		xs, rss, gs := []float64{}, []float64{}, []float64{}
		for _, sm := range rep.Samples[1:] {
			xs = append(xs, sm.Seconds/3600)
			rss = append(rss, float64(sm.RSSBytes))
			gs = append(gs, sm.Goroutines)
		}
		rep.RSSBytesPerHour, rep.GoroutinesPerHour = slope(xs, rss), slope(xs, gs)
	}
	fmt.Printf("soak %v: %d samples, RSS slope %.0f bytes/hour, goroutine slope %.2f/hour, events lost %d\n",
		time.Duration(rep.DurationSeconds*float64(time.Second)).Round(time.Second), len(rep.Samples),
		rep.RSSBytesPerHour, rep.GoroutinesPerHour, rep.EventsLost)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(cfg.out, append(b, '\n'), 0o644)
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
