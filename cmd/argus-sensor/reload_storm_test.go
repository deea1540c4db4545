package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestReloadStorm: a SIGHUP every 100 ms for 30 s while programs run.
// Every reload hands the outputs over (a file and an HTTP receiver) and
// opens them again; no launch may be lost from either, and the sensor's
// open descriptors must not grow with the reloads.
func TestReloadStorm(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipInMatrixGuest(t, "30 s of reloads every 100 ms is a soak, too slow under emulation")
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out := filepath.Join(dir, "all.jsonl")
	tag := fmt.Sprintf("storm%08x", rand.Uint32())
	var mu sync.Mutex
	var received bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received.Write(b)
		mu.Unlock()
	}))
	defer srv.Close()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`outputs:
  - spec: file:%s
  - spec: %s/in?body=ndjson&gzip=false
spool: {dir: %s}
metrics: {address: ""}
health_interval: 0s
`, out, srv.URL, filepath.Join(dir, "spool"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := startRun(t, out, "--config", cfgPath, "--no-snapshot")
	fds := func() int {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
		return len(ents)
	}
	tool := filepath.Join(dir, "tool")
	testutil.WriteExitELF(t, tool, 0)
	reloads := func() int { return strings.Count(stderr.String(), "configuration reloaded") }

	// One reload first, so the descriptors counted are those of a
	// reloaded sensor.
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return reloads() >= 1 }, "first reload")
	before := fds()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				cmd.Process.Signal(syscall.SIGHUP)
			}
		}
	}()
	end := time.Now().Add(30 * time.Second)
	n := 0
	for ; time.Now().Before(end); n++ {
		if err := exec.Command(tool, fmt.Sprintf("%s-%d", tag, n)).Run(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	// Let the last SIGHUP be applied before counting descriptors: the
	// count must hold still for a whole second (a reload can land
	// between two samples, so compare successive samples, not the
	// first one).
	last := reloads()
	quietSince := time.Now()
	waitFor(t, func() bool {
		if n := reloads(); n != last {
			last, quietSince = n, time.Now()
		}
		return time.Since(quietSince) >= time.Second
	}, "reloads to settle")
	after := fds()

	has := func(b []byte, i int) bool { return bytes.Contains(b, []byte(fmt.Sprintf(`"%s-%d"`, tag, i))) }
	waitFor(t, func() bool {
		b, _ := os.ReadFile(out)
		mu.Lock()
		defer mu.Unlock()
		return has(b, n-1) && has(received.Bytes(), n-1)
	}, "the last launch in both outputs")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	file, _ := os.ReadFile(out)
	mu.Lock()
	http := received.Bytes()
	mu.Unlock()
	var lostFile, lostHTTP []int
	for i := 0; i < n; i++ {
		if !has(file, i) {
			lostFile = append(lostFile, i)
		}
		if !has(http, i) {
			lostHTTP = append(lostHTTP, i)
		}
	}
	t.Logf("%d reloads, %d launches; descriptors %d before the storm, %d after", reloads(), n, before, after)
	if len(lostFile) > 0 || len(lostHTTP) > 0 {
		t.Fatalf("launches lost: file %v, http %v", lostFile, lostHTTP)
	}
	if after > before+8 {
		t.Fatalf("descriptors grew from %d to %d over %d reloads", before, after, reloads())
	}
}
