package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestPrevalenceAcrossRestart compiles a program in /tmp and runs it at
// once, as an implant's author would: its launch says the file is seconds
// old and this is its first execution here; the next run counts two with
// the same first_seen; after the sensor restarts on the same state
// directory, three.
func TestPrevalenceAcrossRestart(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipInMatrixGuest(t, "it compiles a program with cc")
	cc, err := exec.LookPath("cc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cc not found (apt-get install gcc): CI must have it")
		}
		t.Skip("skipping: cc not found (apt-get install gcc)")
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	state := filepath.Join(dir, "state")
	src, bin := filepath.Join(dir, "fresh.c"), filepath.Join(dir, "fresh")
	os.WriteFile(src, []byte(fmt.Sprintf("int main(void) { static const char tag[] = \"%x\"; return tag[0] == 0; }\n", rand.Uint64())), 0o644)
	if out, err := exec.Command(cc, "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v %s", err, out)
	}

	type prev struct {
		age        float64
		source     string
		first      string
		executions float64
		firstExec  bool
	}
	launchOf := func(out, marker string) (prev, bool) {
		for _, m := range readLines(t, out) {
			args, _ := get(m, "process.args").([]any)
			if m["kind"] != "process_launch" || get(m, "process.exe.path") != bin || len(args) < 2 || args[1] != marker {
				continue
			}
			p := prev{}
			p.age, _ = get(m, "process.exe.age_seconds").(float64)
			p.source, _ = get(m, "process.exe.age_source").(string)
			p.first, _ = get(m, "process.exe.prevalence.first_seen").(string)
			p.executions, _ = get(m, "process.exe.prevalence.executions").(float64)
			p.firstExec, _ = get(m, "process.exe.prevalence.first_execution").(bool)
			return p, p.first != ""
		}
		return prev{}, false
	}
	runAndRead := func(out, marker string) prev {
		t.Helper()
		if err := exec.Command(bin, marker).Run(); err != nil {
			t.Fatalf("run %s: %v", bin, err)
		}
		var p prev
		waitFor(t, func() bool { var ok bool; p, ok = launchOf(out, marker); return ok }, "launch of "+marker+" with its prevalence")
		return p
	}

	out1 := filepath.Join(dir, "one.jsonl")
	cmd, stderr := startRun(t, out1, "--output", "file:"+out1, "--state-dir", state, "--health-interval", "0", "--metrics-address", "", "--no-snapshot")
	p1 := runAndRead(out1, "first")
	if p1.age > 60 || p1.source != "btime" || !p1.firstExec || p1.executions != 1 {
		t.Errorf("first run: %+v (want age under a minute by btime, first execution, 1)", p1)
	}
	p2 := runAndRead(out1, "second")
	if p2.firstExec || p2.executions != 2 || p2.first != p1.first {
		t.Errorf("second run: %+v (want 2 executions, first_seen %s)", p2, p1.first)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}

	out2 := filepath.Join(dir, "two.jsonl")
	cmd, stderr = startRun(t, out2, "--output", "file:"+out2, "--state-dir", state, "--health-interval", "0", "--metrics-address", "", "--no-snapshot")
	p3 := runAndRead(out2, "third")
	if p3.firstExec || p3.executions != 3 || p3.first != p1.first {
		t.Errorf("after a restart: %+v (want 3 executions, first_seen %s)", p3, p1.first)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	var started map[string]any
	for _, m := range readLines(t, out2) {
		if get(m, "health.state") == "started" {
			started = m
		}
	}
	if started == nil || get(started, "health.prevalence.entries") == nil || get(started, "health.prevalence.rebuilt") != nil {
		t.Errorf("started health record's prevalence: %v", get(started, "health.prevalence"))
	}
}

// TestPrevalenceCorruptStore: a store that is not a database makes the
// sensor start anyway, say so in its started health record, and count
// from scratch.
func TestPrevalenceCorruptStore(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	os.WriteFile(filepath.Join(state, "prevalence.db"), []byte("this is not a database, it is a test\n"), 0o600)
	out := filepath.Join(dir, "out.jsonl")
	cmd, stderr := startRun(t, out, "--output", "file:"+out, "--state-dir", state, "--health-interval", "0", "--metrics-address", "", "--no-snapshot")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	var rebuilt any
	for _, m := range readLines(t, out) {
		if get(m, "health.state") == "started" {
			rebuilt = get(m, "health.prevalence.rebuilt")
		}
	}
	if s, _ := rebuilt.(string); s == "" {
		t.Errorf("started record does not say the store was rebuilt: %v\n%s", rebuilt, stderr.String())
	}
	if aside, _ := filepath.Glob(filepath.Join(state, "prevalence.db.corrupt-*")); len(aside) != 1 {
		t.Errorf("damaged store not kept aside: %v", aside)
	}
}
