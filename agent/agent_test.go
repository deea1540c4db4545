package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the "implant": with helperEnv set it connects
// to its argument (after a line on stdin, for "wait-connect") and exits.
const helperEnv = "ARGUS_AGENT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "connect":
		os.Exit(dial(os.Args[1]))
	case "touch-connect":
		// The implant's first act: touch its own binary, as
		// utimensat(AT_FDCWD, "/proc/self/exe", NULL, 0) does. It then
		// connects and lives on (stdin) like a beaconing implant.
		now := unix.Timespec{Nsec: unix.UTIME_NOW}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/exe", []unix.Timespec{now, now}, 0); err != nil {
			fmt.Fprintln(os.Stderr, "touch own binary:", err)
			os.Exit(1)
		}
		rc := dial(os.Args[1])
		bufio.NewReader(os.Stdin).ReadString('\n') // lives until told
		os.Exit(rc)
	case "connect-live":
		// Connects, then lives on until stdin closes: a beaconing
		// implant that stays up.
		rc := dial(os.Args[1])
		io.Copy(io.Discard, os.Stdin)
		os.Exit(rc)
	case "wait-connect":
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(dial(os.Args[1]))
	case "dns-storm":
		n, _ := strconv.Atoi(os.Args[2])
		if err := dnsStorm(os.Args[1], n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// beacon starts c (an implant copy, under n.Command) in connect-live mode:
// it connects, then stays up, as a beaconing implant does, until the test
// ends, so the sensor reads its file through /proc/<pid>/exe.
func beacon(t *testing.T, c *exec.Cmd) {
	t.Helper()
	c.Env = append(os.Environ(), helperEnv+"=connect-live")
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		c.Wait()
	})
}

func dial(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.Close()
	return 0
}

// implant copies the test binary to dir/name with extra bytes appended,
// so each copy has its own sha256, and returns its path and digest.
func implant(t *testing.T, dir, name, salt string) (string, string) {
	t.Helper()
	return testutil.CopySelf(t, dir, name, salt)
}

// output follows the records an agent writes to a file.
type output struct {
	path string
}

func (o output) records(t *testing.T) []event.Record {
	t.Helper()
	recs, _ := o.recordsFrom(t, 0)
	return recs
}

func (o output) await(t *testing.T, what string, match func(*event.Record) bool) *event.Record {
	t.Helper()
	return o.awaitWithin(t, what, 20*time.Second, match)
}

// awaitWithin polls the output file for a record match accepts, for at most
// d. Each poll parses only the whole lines written since the last one, so a
// test that waits behind a backlog of thousands of records does not spend
// the agent's CPU re-reading them (quadratic under -race).
func (o output) awaitWithin(t *testing.T, what string, d time.Duration, match func(*event.Record) bool) *event.Record {
	t.Helper()
	d = testutil.Patience(t, d)
	deadline := time.Now().Add(d)
	var off int64
	for {
		recs, next := o.recordsFrom(t, off)
		off = next
		for i := range recs {
			if match(&recs[i]) {
				return &recs[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recordsFrom parses the whole lines of the output file from byte off on,
// and returns them with the offset after the last one. A file shorter than
// off was rotated or truncated: it is read again from the start.
func (o output) recordsFrom(t *testing.T, off int64) ([]event.Record, int64) {
	t.Helper()
	f, err := os.Open(o.path)
	if err != nil {
		return nil, off
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < off {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, 1<<62))
	if err != nil {
		t.Fatalf("read output: %v", err)
	}
	whole := bytes.LastIndexByte(b, '\n') + 1
	var out []event.Record
	for _, line := range bytes.Split(b[:whole], []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r event.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("output line: %v", err)
		}
		out = append(out, r)
	}
	return out, off + int64(whole)
}

func (o output) detections(t *testing.T, sha string) int {
	n := 0
	for _, r := range o.records(t) {
		if r.Kind == event.KindDetection && r.Detection.SHA256 == sha {
			n++
		}
	}
	return n
}

func startAgent(t *testing.T, dir string) (output, func()) {
	t.Helper()
	return startAgentWith(t, dir, nil)
}

// startAgentWith is startAgent with the configuration changed by mod.
func startAgentWith(t *testing.T, dir string, mod func(*Config)) (output, func()) {
	t.Helper()
	out := output{path: filepath.Join(dir, "events.jsonl")}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	cfg := Config{
		Outputs:        []forward.Output{{Spec: "file:" + out.path}},
		SpoolDir:       filepath.Join(dir, "spool"),
		HealthInterval: -1,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Started:        func() { close(started) },
	}
	if mod != nil {
		mod(&cfg)
	}
	go func() {
		done <- Run(ctx, cfg)
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("agent: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("agent did not start")
	}
	return out, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}
}

func connTo(dst string) func(*event.Record) bool {
	host, port, _ := net.SplitHostPort(dst)
	return func(r *event.Record) bool {
		return r.Kind == event.KindNetworkConnection && r.Network.DstIP == host && fmt.Sprint(r.Network.DstPort) == port
	}
}

// TestT1587Live: a binary in a temp dir connects to 192.0.2.1:4444 (inside
// a network namespace pair) and yields exactly one detection; to 10.x it
// yields none; curl, a packaged binary, yields none; and a process started
// before the sensor is still caught when it connects.
func TestT1587Live(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	n.Listen(t, testutil.ServerPrivateV4+":4444")
	dir, _ := filepath.EvalSymlinks(t.TempDir())

	early, earlySHA := implant(t, dir, "early", "early")
	pre := n.Command(early, testutil.ServerV4+":4444")
	pre.Env = append(os.Environ(), helperEnv+"=wait-connect")
	preIn, err := pre.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pre.Start(); err != nil {
		t.Fatal(err)
	}
	defer pre.Process.Kill()

	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	tool, toolSHA := implant(t, dir, "implant", "implant")
	run := func(dst string) {
		t.Helper()
		c := n.Command(tool, dst)
		c.Env = append(os.Environ(), helperEnv+"=connect")
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("implant to %s: %v %s", dst, err, b)
		}
	}

	// Internal destination first: seen, judged internal, no detection.
	private := testutil.ServerPrivateV4 + ":4444"
	run(private)
	c := out.await(t, "connection to "+private, connTo(private))
	if c.Network.External == nil || *c.Network.External || c.Process.Exe.SHA256 != toolSHA {
		t.Fatalf("connection to %s: external %v sha %s", private, c.Network.External, c.Process.Exe.SHA256)
	}
	launch := out.await(t, "launch of the implant", func(r *event.Record) bool {
		return r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == tool
	})
	if x := launch.Process.Exe; x.SHA256 != toolSHA || x.Trust == nil || x.Trust.Verdict != "unowned" ||
		strings.Join(x.PathClasses, ",") != "tmp" {
		t.Fatalf("launch exe %+v trust %+v", x, x.Trust)
	}
	if d := out.detections(t, toolSHA); d != 0 {
		t.Fatalf("%d detections after an internal connection", d)
	}

	// External destination: exactly one detection, even when it repeats.
	external := testutil.ServerV4 + ":4444"
	run(external)
	det := out.await(t, "t1587 detection", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == toolSHA
	})
	d := det.Detection
	if d.Rule != "t1587_develop_capabilities_unsigned_exec" || d.Technique != "T1587" ||
		// Written seconds ago: a new file, which raises the severity.
		d.Severity != "CRITICAL" || !slices.Contains(d.Novelty, "new_file") ||
		d.Degraded || len(d.Events) != 2 || d.Events[0].Process.Exe.Path != tool || d.Events[1].Network.DstIP != testutil.ServerV4 {
		t.Fatalf("detection %+v", d)
	}
	run(external)
	out.await(t, "second external connection", func(r *event.Record) bool {
		return connTo(external)(r) && r.ID != d.Events[1].ID && r.Process.Exe.SHA256 == toolSHA
	})

	// A packaged binary to the same place: no detection (judged after the
	// agent has drained, below).
	curlSHA := ""
	if curl := testutil.LookTool(t, "curl", "curl", "the packaged-binary control is left to the replay tests"); curl != "" {
		n.Command(curl, "-s", "-m", "3", "http://"+external+"/").Run()
		cc := out.await(t, "curl's connection", func(r *event.Record) bool {
			return connTo(external)(r) && strings.HasSuffix(r.Process.Exe.Path, "/curl")
		})
		if cc.Process.Exe.Trust == nil || cc.Process.Exe.Trust.Severity != "INFORMATIONAL" {
			t.Errorf("curl trust %+v", cc.Process.Exe.Trust)
		}
		curlSHA = cc.Process.Exe.SHA256
	}

	// Started before the sensor, connecting now: still caught.
	io.WriteString(preIn, "go\n")
	if err := pre.Wait(); err != nil {
		t.Fatalf("early process: %v", err)
	}
	out.await(t, "detection of the process older than the sensor", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == earlySHA
	})

	stop()
	stopped = true
	// Judged once the agent has drained: every detection is written.
	if curlSHA != "" {
		if got := out.detections(t, curlSHA); got != 0 {
			t.Errorf("%d detections for curl", got)
		}
	}
	if got := out.detections(t, toolSHA); got != 1 {
		t.Errorf("%d detections for the implant, want exactly 1", got)
	}
	if got := out.detections(t, earlySHA); got != 1 {
		t.Errorf("%d detections for the early process, want exactly 1", got)
	}
	t.Logf("%d records match the argus.v1 schema", schematest.File(t, out.path))
}
