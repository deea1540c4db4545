package detect

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// BenchmarkEngineScale holds 100,000 distinct candidate binaries and
// 1,000,000 external connections in one correlation window and reports the
// memory the engine reaches. Records are generated from two templates so
// the benchmark's own data does not count.
//
//	go test -run xxx -bench EngineScale -benchtime 1x ./detect
func BenchmarkEngineScale(b *testing.B) {
	// matching: every binary connects out: 100,000 detections.
	b.Run("matching", func(b *testing.B) {
		for b.Loop() {
			engineScale(b, 100_000, 1_000_000, 0)
		}
	})
	// unmatched: the connections come from 10,000 other binaries, so
	// every launch and every connecting binary stays in the window
	// waiting for its other half: the most state the engine can hold.
	b.Run("unmatched", func(b *testing.B) {
		for b.Loop() {
			engineScale(b, 100_000, 1_000_000, 10_000)
		}
	})
}

// TestEngineScale checks what the benchmark asserts at a hundredth of its
// size, so make test runs it: every binary that connects is detected once,
// and state holds every key open in the window without evicting.
func TestEngineScale(t *testing.T) {
	t.Run("matching", func(t *testing.T) { engineScale(t, 1_000, 10_000, 0) })
	t.Run("unmatched", func(t *testing.T) { engineScale(t, 1_000, 10_000, 100) })
}

// engineScale launches binaries distinct candidates, then makes conns
// external connections, from those binaries (others 0) or from others
// other binaries, all within one window, and checks the detections and the
// state; a benchmark gets the memory and time it took as metrics.
func engineScale(tb testing.TB, binaries, conns, others int) {
	ext := true
	e, err := New(Config{MaxKeys: 2 * binaries})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if err != nil {
		tb.Fatal(err)
	}
	launch := &event.Record{Schema: event.Schema, Kind: event.KindProcessLaunch, Host: event.Host{Hostname: "h1"},
		Process: &event.Process{PID: 1, Args: []string{"/tmp/tool", "--serve"}, Cwd: "/tmp",
			Exe:    event.Exe{Path: "/tmp/tool", PathClasses: []string{"tmp"}, Trust: &event.Trust{Verdict: "unowned", Severity: "LOW"}},
			Parent: &event.Parent{PID: 1, Exe: event.ParentExe{Path: "/usr/bin/bash"}}}}
	conn := &event.Record{Schema: event.Schema, Kind: event.KindNetworkConnection, Host: event.Host{Hostname: "h1"},
		Process: &event.Process{PID: 1, Args: []string{"/tmp/tool", "--serve"}, Cwd: "/tmp", Exe: event.Exe{Path: "/tmp/tool"}},
		Network: &event.Network{Protocol: "tcp", Family: "ipv4", DstIP: "192.0.2.1", DstPort: 443, Result: "success", External: &ext}}
	var out []*event.Record
	detections := 0
	start := time.Now()
	t := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range binaries {
		launch.ID, launch.Time = "l"+strconv.Itoa(i), t.Add(time.Duration(i)*10*time.Millisecond)
		launch.Process.Exe.SHA256 = fmt.Sprintf("%064x", i)
		out = e.Observe(launch, out[:0])
	}
	for i := range conns {
		conn.ID, conn.Time = "c"+strconv.Itoa(i), t.Add(time.Duration(binaries*10+i)*time.Millisecond)
		if others > 0 {
			conn.Process.Exe.SHA256 = fmt.Sprintf("f%063x", i%others)
		} else {
			conn.Process.Exe.SHA256 = fmt.Sprintf("%064x", i%binaries)
		}
		out = e.Observe(conn, out[:0])
		detections += len(out)
	}
	elapsed := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := e.Stats()
	wantDet, wantKeys := binaries, binaries
	if others > 0 {
		wantDet, wantKeys = 0, binaries+others
	}
	if detections != wantDet || st.Keys != wantKeys || st.Evicted != 0 || st.Detections[RuleT1587] != uint64(wantDet) {
		tb.Fatalf("detections %d keys %d evicted %d", detections, st.Keys, st.Evicted)
	}
	b, ok := tb.(*testing.B)
	if !ok {
		return
	}
	b.ReportMetric(float64(ms.HeapInuse-before.HeapInuse)/(1<<20), "engine-heap-MiB")
	b.ReportMetric(float64(vmRSS())/(1<<20), "rss-MiB")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(binaries+conns), "ns/record")
	runtime.KeepAlive(e)
}

func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
