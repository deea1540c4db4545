package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sensorProc is a running argus-sensor under measurement.
type sensorProc struct {
	cmd       *exec.Cmd
	out       string
	metrics   string
	stderr    bytes.Buffer
	lastFiles float64
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

func startSensor(bin, dir string, extra ...string) (*sensorProc, error) {
	out := filepath.Join(dir, "events.jsonl")
	os.Remove(out)
	p := &sensorProc{out: out, metrics: freePort()}
	// No rotation: every record stays in one file for counting.
	args := append([]string{"run", "--output", "file:" + out + "?max_size=1T", "--spool-dir", filepath.Join(dir, "spool"),
		"--state-dir", filepath.Join(dir, "state"),
		"--health-interval", "0", "--metrics-address", p.metrics}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sensor: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if bytes.Contains(b, []byte(`"state":"started"`)) {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			p.cmd.Wait()
			return nil, fmt.Errorf("sensor did not start within 30s: %s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuNs is the CPU time of every thread of pid so far, from schedstat
// (nanoseconds, where /proc/<pid>/stat counts 10 ms ticks).
func cpuNs(pid int) uint64 {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return cpuTicks(pid) * 1e7
	}
	var total uint64
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			n, _ := strconv.ParseUint(f[0], 10, 64)
			total += n
		}
	}
	return total
}

// peakRSS is VmHWM in bytes.
func peakRSS(pid int) uint64 { return statusBytes(pid, "VmHWM:") }

// sampleRSS returns the largest VmRSS of pid seen every 100ms until stop
// is closed.
func sampleRSS(pid int, stop <-chan struct{}) uint64 {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	most := statusBytes(pid, "VmRSS:")
	for {
		select {
		case <-stop:
			return max(most, statusBytes(pid, "VmRSS:"))
		case <-t.C:
			most = max(most, statusBytes(pid, "VmRSS:"))
		}
	}
}

// statusBytes reads one kB field of /proc/<pid>/status, in bytes.
func statusBytes(pid int, field string) uint64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// scrape reads the sensor's unlabelled metrics in one request. Scrapes
// cost the sensor CPU, so the harness keeps them few.
func (p *sensorProc) scrape() map[string]float64 {
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(l, " ")
		if !ok || strings.HasPrefix(l, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// stop ends the sensor with SIGTERM and waits for it to drain and exit.
func (p *sensorProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("sensor exit: %w: %s", err, p.stderr.String())
	}
	return nil
}

// finalHealth is the counters of the sensor's last sensor_health record.
type finalHealth struct {
	EventsLost    uint64 `json:"events_lost"`
	EventsDropped uint64 `json:"events_dropped"`
	Hashing       *struct {
		CacheHits   uint64  `json:"cache_hits"`
		CacheMisses uint64  `json:"cache_misses"`
		HitRatio    float64 `json:"hit_ratio"`
		BytesHashed uint64  `json:"bytes_hashed"`
		FilesHashed uint64  `json:"files_hashed"`
	} `json:"hashing"`
}

// attempts is how many operations a record accounts for: a summary of
// folded connects stands for its count, any other record for one.
func (r *outRecord) attempts() uint64 {
	if r.Network != nil && r.Network.Count > 0 {
		return r.Network.Count
	}
	return 1
}

// count scans the sensor's output: records matching match, and the last
// health record. sizes, when not nil, measures the records.
func (p *sensorProc) count(match func(rec *outRecord) bool, sizes *sizeSampler) (uint64, finalHealth, error) {
	f, err := os.Open(p.out)
	if err != nil {
		return 0, finalHealth{}, err
	}
	defer f.Close()
	var n uint64
	var h finalHealth
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var rec outRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return 0, h, fmt.Errorf("sensor output: %w", err)
		}
		if rec.Kind == "sensor_health" && rec.Health != nil {
			h = *rec.Health
		}
		if sizes != nil {
			if err := sizes.add(rec.Kind, sc.Bytes()); err != nil {
				return 0, h, err
			}
		}
		if match(&rec) {
			n += rec.attempts()
		}
	}
	return n, h, sc.Err()
}

// outRecord is the part of an argus.v1 record the harness reads.
type outRecord struct {
	Kind    string `json:"kind"`
	Process *struct {
		Exe struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
		} `json:"exe"`
	} `json:"process"`
	Network *struct {
		DstIP   string `json:"dst_ip"`
		DstPort uint16 `json:"dst_port"`
		Via     string `json:"via"`
		// Count is set on a summary of folded repeats: the attempts it
		// stands for.
		Count uint64 `json:"count"`
	} `json:"network"`
	Health *finalHealth `json:"health"`
}
