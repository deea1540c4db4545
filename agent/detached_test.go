package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestT1587DetachedMount: an implant on an ext4 directory (no class by
// name or filesystem) bind-mounted, entered, lazily unmounted (umount -l)
// and then run as ./implant: the kernel can only name it "/implant", from
// the detached mount's own root. The launch carries the detached class and
// the run ends in exactly one T1587 detection on its sha256, read through
// /proc/<pid>/exe while it runs (no path leads to it).
func TestT1587DetachedMount(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	base, err := os.MkdirTemp("/var/lib", "argus-detach-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	src, mnt := filepath.Join(base, "src"), filepath.Join(base, "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, sha := implant(t, src, "implant", "detached-"+base)

	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	c := n.Command("sh", "-c", `mount --bind "$1" "$2" && cd "$2" && umount -l "$2" && exec ./implant "$3"`,
		"sh", src, mnt, external)
	beacon(t, c)
	det := out.await(t, "detection on the implant's sha256", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == sha
	})
	x := det.Detection.Events[0].Process.Exe
	if x.Path != "/implant" || !slices.Contains(x.PathClasses, "detached") {
		t.Errorf("launch exe %q classes %v; want /implant with class detached", x.Path, x.PathClasses)
	}
	stop()
	stopped = true
	if got := out.detections(t, sha); got != 1 {
		t.Errorf("%d detections, want exactly 1", got)
	}
}
