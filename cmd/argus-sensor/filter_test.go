package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestOutputFilterReload runs the sensor with two file outputs, one with
// a drop condition, then reloads it with a different condition: each
// output gets exactly what its filter lets through, before and after, and
// the stopped health record counts what the filtered output left out.
func TestOutputFilterReload(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	all, some := filepath.Join(dir, "all.jsonl"), filepath.Join(dir, "some.jsonl")
	cfgPath := filepath.Join(dir, "config.yaml")
	tag := fmt.Sprintf("m%08x", rand.Uint32())
	writeCfg := func(dropArg string) {
		t.Helper()
		cfg := fmt.Sprintf(`outputs:
  - spec: file:%s
  - spec: file:%s
    kinds: [process_launch, sensor_health]
    drop:
      - '%q in process.args'
spool: {dir: %s}
metrics: {address: ""}
health_interval: 0s
`, all, some, dropArg, filepath.Join(dir, "spool"))
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(tag + "-first")
	cmd, stderr := startRun(t, all, "--config", cfgPath, "--no-snapshot")
	tool := filepath.Join(dir, "tool")
	testutil.WriteExitELF(t, tool, 0)
	runTool := func(arg string) {
		t.Helper()
		if err := exec.Command(tool, arg).Run(); err != nil {
			t.Fatal(err)
		}
	}
	has := func(path, arg string) bool {
		b, _ := os.ReadFile(path)
		return bytes.Contains(b, []byte(`"`+arg+`"`))
	}
	runTool(tag + "-first")
	runTool(tag + "-kept")
	waitFor(t, func() bool { return has(all, tag+"-first") && has(all, tag+"-kept") && has(some, tag+"-kept") }, "both launches in the unfiltered output")

	writeCfg(tag + "-second")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "configuration reloaded") }, "reload")
	runTool(tag + "-first")
	runTool(tag + "-second")
	runTool(tag + "-last")
	waitFor(t, func() bool { return has(some, tag+"-last") && has(all, tag+"-second") }, "launches after the reload")

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	count := func(path, arg string) int {
		n := 0
		for _, m := range readLines(t, path) {
			if m["kind"] != "process_launch" {
				continue
			}
			args, _ := get(m, "process.args").([]any)
			if len(args) > 1 && args[1] == arg {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		path, arg string
		want      int
	}{
		{all, tag + "-first", 2}, {all, tag + "-kept", 1}, {all, tag + "-second", 1}, {all, tag + "-last", 1},
		// Before the reload -first was dropped, after it -second.
		{some, tag + "-first", 1}, {some, tag + "-kept", 1}, {some, tag + "-second", 0}, {some, tag + "-last", 1},
	} {
		if got := count(tc.path, tc.arg); got != tc.want {
			t.Errorf("%s: %d launches with %s, want %d", filepath.Base(tc.path), got, tc.arg, tc.want)
		}
	}
	for _, m := range readLines(t, some) {
		if k := m["kind"]; k != "process_launch" && k != "sensor_health" {
			t.Errorf("filtered output took a %v record", k)
		}
	}
	// The last health record: the filtered output's counter since the
	// reload has every network_connection, hash_update, and the one
	// -second launch; at least that launch, and never a loss.
	var stopped map[string]any
	for _, m := range readLines(t, all) {
		if get(m, "health.state") == "stopped" {
			stopped = m
		}
	}
	if stopped == nil {
		t.Fatal("no stopped health record")
	}
	outs, _ := get(stopped, "health.outputs").([]any)
	if len(outs) != 2 {
		t.Fatalf("health outputs: %v", outs)
	}
	o1, _ := outs[1].(map[string]any)
	if f, _ := o1["filtered"].(float64); f < 1 || o1["dropped"].(float64) != 0 {
		t.Errorf("filtered output health: %v", o1)
	}
	if _, ok := outs[0].(map[string]any)["filtered"]; ok {
		t.Errorf("unfiltered output reports filtered records: %v", outs[0])
	}
}

// tmuxSession runs one command in a detached tmux server of its own, with
// a wide window and deep history, and reads what a person would see.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, dir string, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		msg := "tmux not found (apt-get install tmux)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": CI must have it")
		}
		t.Skip("skipping: " + msg)
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("argus-test-%08x", rand.Uint32())}
	conf := filepath.Join(dir, "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 200000\nset -g remain-on-exit on\n"), 0o644)
	out, err := exec.Command("tmux", "-L", s.socket, "-f", conf, "new-session", "-d", "-x", "400", "-y", "50",
		"-e", "TERM=xterm-256color", command).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(s.close)
	return s
}

// close stops the command and the tmux server. Killing the server only
// sends the pane SIGHUP, which the sensor takes as "reload", so the
// sensor is told to stop first.
func (s *tmuxSession) close() {
	out, _ := exec.Command("tmux", "-L", s.socket, "list-panes", "-F", "#{pane_pid}").Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	exec.Command("tmux", "-L", s.socket, "kill-server").Run()
}

// screen returns the pane's whole history, wrapped lines joined; with
// escapes, the colour sequences too.
func (s *tmuxSession) screen(escapes bool) string {
	args := []string{"-L", s.socket, "capture-pane", "-p", "-J", "-S", "-"}
	if escapes {
		args = append(args, "-e")
	}
	out, err := exec.Command("tmux", args...).Output()
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

func (s *tmuxSession) waitFor(what string, cond func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc := s.screen(false)
		if cond(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; the terminal shows:\n%s", what, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lineWith(screen string, parts ...string) string {
	for _, l := range strings.Split(screen, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return l
		}
	}
	return ""
}

// TestCompactInTerminal runs the sensor in a real terminal (tmux), as a
// person who just installed it would: with no format it says how to get
// the compact view; with --format compact an implant's launch, its
// external connection and the T1587 detection read as one coloured line
// each.
func TestCompactInTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipInMatrixGuest(t, "it needs tmux")
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(extra string) string {
		return fmt.Sprintf("env %s=1 %s run --no-snapshot --health-interval 0 --metrics-address '' --spool-dir %s --state-dir %s %s", mainEnv, self, filepath.Join(dir, "spool"), filepath.Join(dir, "state"), extra)
	}

	// Default format on a terminal: JSON, and one line saying how to
	// read it more easily.
	js := newTmux(t, dir, run(""))
	js.waitFor("JSON started record and the hint", func(sc string) bool {
		return strings.Contains(sc, `"state":"started"`) && strings.Contains(sc, "--format compact")
	})
	js.close()

	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	tool, sha := testutil.CopySelf(t, dir, "implant", fmt.Sprintf("tty-%x", rand.Uint64()))

	term := newTmux(t, dir, run("--format compact"))
	term.waitFor("health started", func(sc string) bool { return lineWith(sc, "health", "started") != "" })
	c := n.Command(tool)
	c.Env = append(os.Environ(), connectEnv+"="+testutil.ServerV4+":4444")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("implant: %v: %s", err, out)
	}
	sc := term.waitFor("the detection", func(sc string) bool {
		return lineWith(sc, "DETECT", "t1587_develop_capabilities_unsigned_exec", tool) != ""
	})
	launch := lineWith(sc, "launch", "implant[", " "+tool+" ")
	for _, want := range []string{" implant[", " unowned ", " [tmp] ", "sha256=" + sha, " parent="} {
		if !strings.Contains(launch, want) {
			t.Errorf("launch line lacks %q: %s", want, launch)
		}
	}
	conn := lineWith(sc, "connect", "implant[", " "+tool+" ")
	if !strings.Contains(conn, "-> "+testutil.ServerV4+":4444/tcp external") {
		t.Errorf("connection line: %q", conn)
	}
	det := lineWith(sc, "DETECT", tool)
	// Compiled seconds ago and run once: new on every count.
	for _, want := range []string{"CRITICAL T1587 new:new_file,rare", "sha256=" + sha, "-> " + testutil.ServerV4 + ":4444/tcp external"} {
		if !strings.Contains(det, want) {
			t.Errorf("detection line lacks %q: %s", want, det)
		}
	}
	if strings.Contains(sc, `{"schema"`) {
		t.Error("JSON on the terminal with --format compact")
	}
	if colored := lineWith(term.screen(true), "DETECT", tool); !strings.Contains(colored, "31mDETECT") {
		t.Errorf("the detection is not red on the terminal: %q", colored)
	}
}
