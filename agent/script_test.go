package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// payload is a Python implant: argv[1] says how it covers its tracks
// before it connects to argv[2]:argv[3].
const payload = `import os, socket, sys, time
how = sys.argv[1]
if how == "unlink":
    os.unlink(__file__)
elif how == "rename":
    time.sleep(0.5)
    os.rename(sys.argv[4], __file__)
socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5).close()
# %s
`

// TestT1587ScriptAnchored: a script's identity is what the interpreter
// ran, resolved in the process's own root while it runs, not what a path
// names when the sensor gets round to it. Each case ends in exactly one
// T1587 detection carrying the payload's sha256:
//   - a Python payload that unlinks itself before it connects;
//   - one that renames a benign file over itself before it connects;
//   - one run in a private mount namespace, from a tmpfs mounted over a
//     directory whose host copy holds a benign file of the same name.
func TestT1587ScriptAnchored(t *testing.T) {
	testutil.RequireRoot(t)
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("skipping: %s: %v (apt-get install python3)", python, err)
	}
	unshare := needTool(t, "unshare", "util-linux")
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	// The race is real: the payload unlinks itself once Python has
	// started (some 20 ms after exec), and the sensor reads an ordinary
	// record up to a poll interval after a busy ring's last drain. Here
	// the poll interval is 500 ms, and each payload is started by `ip
	// netns exec`, whose own exec record opens that window a millisecond
	// before python's: only the interpreter wakeup (python is in the
	// kernel's interpreter map, so its exec ends the gathering at once)
	// opens the script before it is gone.
	out, stop := startAgentWith(t, dir, func(c *Config) { c.Sensor.PollInterval = 500 * time.Millisecond })
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	write := func(path, salt string) string {
		t.Helper()
		b := []byte(fmt.Sprintf(payload, salt))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}
	benign := func(path string) string {
		t.Helper()
		b := []byte("print('hello')\n")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}

	type result struct {
		name, path, sha, benignSHA string
	}
	var cases []result

	// Unlinks itself first thing.
	p := filepath.Join(dir, "unlinker.py")
	sha := write(p, "unlink-"+dir)
	if b, err := n.Command(python, p, "unlink", testutil.ServerV4, "4444").CombinedOutput(); err != nil {
		t.Fatalf("unlinker: %v %s", err, b)
	}
	cases = append(cases, result{"unlinks itself", p, sha, ""})

	// Renames a benign file over itself, then connects.
	p = filepath.Join(dir, "renamed.py")
	sha = write(p, "rename-"+dir)
	cover := filepath.Join(dir, "cover.py")
	coverSHA := benign(cover)
	if b, err := n.Command(python, p, "rename", testutil.ServerV4, "4444", cover).CombinedOutput(); err != nil {
		t.Fatalf("renamer: %v %s", err, b)
	}
	cases = append(cases, result{"renamed over", p, sha, coverSHA})

	// Runs from a tmpfs only its own mount namespace sees; the host's
	// directory under it holds a benign file of the same name.
	hidden := filepath.Join(dir, "app")
	if err := os.Mkdir(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(hidden, "run.py")
	hostSHA := benign(p)
	staged := filepath.Join(dir, "staged.py")
	sha = write(staged, "mntns-"+dir)
	script := fmt.Sprintf("mount -t tmpfs tmpfs %s && cp %s %s && exec %s %s plain %s 4444",
		hidden, staged, p, python, p, testutil.ServerV4)
	if b, err := n.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("mount namespace payload: %v %s", err, b)
	}
	cases = append(cases, result{"private mount namespace", p, sha, hostSHA})

	for _, c := range cases {
		isDet := func(r *event.Record) bool {
			return r.Kind == event.KindDetection && r.Detection.SHA256 == c.sha
		}
		det := out.await(t, c.name+": detection on the payload's sha256", isDet)
		s := det.Detection.Events[0].Process.Script
		if s == nil || s.Path != c.path || s.SHA256 != c.sha {
			t.Errorf("%s: detection's script %+v, want %s %s", c.name, s, c.path, c.sha)
		}
	}
	stop()
	stopped = true
	recs := out.records(t)
	for _, c := range cases {
		dets := 0
		for _, r := range recs {
			if r.Kind == event.KindDetection && r.Detection.SHA256 == c.sha {
				dets++
			}
			if c.benignSHA != "" && r.Process != nil && r.Process.Script != nil &&
				r.Process.Script.Path == c.path && r.Process.Script.SHA256 == c.benignSHA {
				t.Errorf("%s: a %s record carries the benign file's hash", c.name, r.Kind)
			}
		}
		if dets != 1 {
			t.Errorf("%s: %d detections, want exactly 1", c.name, dets)
		}
	}
}
