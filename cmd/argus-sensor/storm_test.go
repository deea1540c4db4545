package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestRunStormMatchesSchema runs the real sensor through a storm of
// short-lived execs from a temp directory, interpreter scripts, and
// connections that succeed and that are refused, then validates every
// record it wrote (launches, connections, hash updates, health) against
// the argus.v1 schema, and checks none was lost. The sensor package's
// storms check the kernel side at full rate; this one checks what comes
// out the other end.
func TestRunStormMatchesSchema(t *testing.T) {
	testutil.RequireRoot(t)
	// Sized to finish in seconds in the kernel matrix's TCG guests too.
	const execs, scripts, conns, refused = 1500, 50, 150, 50
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out := filepath.Join(dir, "events.jsonl")
	cmd, stderr := startRun(t, out, "--output", "file:"+out, "--health-interval", "0", "--metrics-address", freePort(t))

	tool := filepath.Join(dir, "storm-tool")
	testutil.WriteExitELF(t, tool, 0)
	script := filepath.Join(dir, "storm.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for c, err := l.Accept(); err == nil; c, err = l.Accept() {
			c.Close()
		}
	}()
	closed := freePort(t)
	_, port, _ := net.SplitHostPort(l.Addr().String())

	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < execs; i += 2 {
				pid, err := syscall.ForkExec(tool, []string{tool, fmt.Sprint(i)}, &syscall.ProcAttr{})
				if err != nil {
					t.Error(err)
					return
				}
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range scripts {
			if err := exec.Command("/bin/sh", script).Run(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// The connections are this process's own: no exec each (a Go binary
	// starts slowly under the kernel matrix's TCG), and a process older
	// than the sensor, whose details come from /proc.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range conns + refused {
			addr := l.Addr().String()
			if i >= conns {
				addr = closed
			}
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			if (err != nil) != (i >= conns) {
				t.Errorf("connect to %s: %v", addr, err)
				return
			}
		}
	}()
	wg.Wait()

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sensor exit: %v\n%s", err, stderr.String())
	}
	n := schematest.File(t, out)

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[event.Kind]int{}
	launches, scriptRuns, connects := 0, 0, 0
	var last event.Record
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r event.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		kinds[r.Kind]++
		switch {
		case r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == tool:
			launches++
		case r.Kind == event.KindProcessLaunch && r.Process.Script != nil && r.Process.Script.Path == script:
			scriptRuns++
		case r.Kind == event.KindNetworkConnection && r.Process.PID == uint32(os.Getpid()) &&
			(fmt.Sprint(r.Network.DstPort) == port || net.JoinHostPort(r.Network.DstIP, fmt.Sprint(r.Network.DstPort)) == closed):
			// Repeats folded into a summary count as what they are.
			connects += r.Network.Attempts()
		}
		last = r
	}
	// A script gets its own identity when the shell is one the sensor
	// knows as an interpreter; busybox (the kernel matrix guests' sh) is not.
	wantScripts := scripts
	if sh, err := filepath.EvalSymlinks("/bin/sh"); err != nil || filepath.Base(sh) == "busybox" {
		t.Logf("/bin/sh is %q (%v): not counting script identities", sh, err)
		wantScripts = scriptRuns
	}
	if launches != execs || scriptRuns != wantScripts || connects < conns+refused {
		t.Errorf("records: %d of %d launches, %d of %d scripts, %d of %d connections", launches, execs, scriptRuns, wantScripts, connects, conns+refused)
	}
	if last.Health == nil || last.Health.State != "stopped" || last.Health.EventsLost != 0 || last.Health.EventsDropped != 0 {
		t.Errorf("last record %+v, want sensor_health stopped with nothing lost", last.Health)
	}
	t.Logf("%d records match the argus.v1 schema: %v", n, kinds)
}
