package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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
	cmd    *exec.Cmd
	out    string
	stderr bytes.Buffer
}

func startSensor(bin, out string, extra ...string) (*sensorProc, error) {
	os.Remove(out)
	args := append([]string{"run", "--output", "file:" + out, "--health-interval", "0"}, extra...)
	p := &sensorProc{cmd: exec.Command(bin, args...), out: out}
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

// cpuTicks is the sensor's user+system time in clock ticks (USER_HZ).
func (p *sensorProc) cpuTicks() (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "stat"))
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// fields[0] is field 3; utime is field 14, stime field 15.
	ut, _ := strconv.ParseUint(fields[11], 10, 64)
	st, _ := strconv.ParseUint(fields[12], 10, 64)
	return ut + st, nil
}

// peakRSS is VmHWM in bytes.
func (p *sensorProc) peakRSS() uint64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
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
	DecodeErrors  uint64 `json:"decode_errors"`
}

// count scans the sensor's output: records matching match, and the last
// health record.
func (p *sensorProc) count(match func(rec *outRecord) bool) (uint64, finalHealth, error) {
	f, err := os.Open(p.out)
	if err != nil {
		return 0, finalHealth{}, err
	}
	defer f.Close()
	var n uint64
	var h finalHealth
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec outRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return 0, h, fmt.Errorf("sensor output: %w", err)
		}
		if rec.Kind == "sensor_health" && rec.Health != nil {
			h = *rec.Health
		}
		if match(&rec) {
			n++
		}
	}
	return n, h, sc.Err()
}

// outRecord is the part of an argus.v1 record the harness reads.
type outRecord struct {
	Kind    string `json:"kind"`
	Process *struct {
		Exe struct {
			Path string `json:"path"`
		} `json:"exe"`
	} `json:"process"`
	Network *struct {
		DstPort uint16 `json:"dst_port"`
	} `json:"network"`
	Health *finalHealth `json:"health"`
}
