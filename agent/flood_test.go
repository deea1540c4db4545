package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestT1587HashFlood: 20,000 distinct new binaries run from a temp dir (each
// one a suspect the hasher puts ahead of package files, like the implant)
// with a hash queue of 64, and the implant launched and connecting in the
// middle of the flood. Whether its hash made it through the queue or not,
// it ends in exactly one T1587 detection (on its sha256, or on its file
// identity with hash_status saying why).
func TestT1587HashFlood(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipInMatrixGuest(t, "20,000 execs is a soak, too slow under emulation")
	const flood = 20000
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	fdir := filepath.Join(dir, "flood")
	if err := os.Mkdir(fdir, 0o755); err != nil {
		t.Fatal(err)
	}
	elf := testutil.ExitELF(0)
	if elf == nil {
		t.Skip("skipping: no tiny ELF for this architecture")
	}
	for i := range flood {
		b := append(append([]byte{}, elf...), fmt.Sprintf("flood-%s-%d", dir, i)...)
		if err := os.WriteFile(filepath.Join(fdir, fmt.Sprintf("b%05d", i)), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, stop := startAgentWith(t, dir, func(c *Config) {
		c.Hasher.QueueSize, c.Hasher.Workers = 64, 1
		c.Outputs[0].File.MaxBytes = 4 << 30
	})
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	tool, sha := implant(t, dir, "implant", "flood-"+dir)
	half := fmt.Sprintf(`for f in %s/b0*; do "$f"; done`, fdir) // b00000-b09999
	rest := fmt.Sprintf(`for f in %s/b1*; do "$f"; done`, fdir) // b10000-b19999
	if b, err := exec.Command("sh", "-c", half).CombinedOutput(); err != nil {
		t.Fatalf("flood: %v %s", err, b)
	}
	second := exec.Command("sh", "-c", rest)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	c := n.Command(tool, external)
	c.Env = append(os.Environ(), helperEnv+"=connect")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("implant: %v %s", err, b)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("flood: %v", err)
	}
	isDet := func(r *event.Record) bool {
		return r.Kind == event.KindDetection && len(r.Detection.Events) > 0 && r.Detection.Events[0].Process.Exe.Path == tool
	}
	// Under -race the agent is minutes behind a 20,000-exec flood; the
	// implant's launch sits in the middle of that backlog.
	det := out.awaitWithin(t, "detection on the implant", 5*time.Minute, isDet)
	if d := det.Detection; d.SHA256 != sha && (d.JoinKey != "file_identity" || d.HashStatus == "") {
		t.Errorf("detection sha256 %q join_key %q hash_status %q; want %s, or the file identity and why", d.SHA256, d.JoinKey, d.HashStatus, sha)
	}
	stop()
	stopped = true
	got, launches, unhashed := 0, 0, 0
	for _, r := range out.records(t) {
		if isDet(&r) {
			got++
		}
		if r.Kind == event.KindProcessLaunch && filepath.Dir(r.Process.Exe.Path) == fdir {
			launches++
			if r.Process.Exe.SHA256 == "" {
				unhashed++
			}
		}
	}
	t.Logf("flood: %d launches recorded, %d without a sha256; implant joined on %s", launches, unhashed, det.Detection.JoinKey)
	if got != 1 {
		t.Errorf("%d detections, want exactly 1", got)
	}
	if launches != flood {
		t.Errorf("%d flood launches recorded, want %d", launches, flood)
	}
}
