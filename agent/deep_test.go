package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestT1587DeepPath: an implant 70 directories deep under a temp dir, past
// the 64 components the kernel walks. The record's path is the whole path
// (recovered from the process), its class is tmp, it is hashed, and it
// ends in exactly one T1587 detection on its sha256.
func TestT1587DeepPath(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	deep := dir
	for i := range 70 {
		deep = filepath.Join(deep, string(rune('a'+i%26)))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	tool, sha := implant(t, deep, "deep", "deep-"+dir)
	// A beaconing implant that stays up: its whole path is read back
	// from /proc/<pid>/exe (one that exits before its launch is read
	// keeps ".../tail" and path_truncated).
	c := n.Command(tool, external)
	beacon(t, c)
	det := out.await(t, "detection on the deep implant's sha256", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == sha
	})
	x := det.Detection.Events[0].Process.Exe
	if x.Path != tool || x.PathTruncated || !strings.Contains(strings.Join(x.PathClasses, ","), "tmp") {
		t.Errorf("launch exe path %q truncated %v classes %v; want %s, whole, tmp", x.Path, x.PathTruncated, x.PathClasses, tool)
	}
	stop()
	stopped = true
	if got := out.detections(t, sha); got != 1 {
		t.Errorf("%d detections, want exactly 1", got)
	}
}
