package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestT1587UsernsBind: inside `unshare -rm` (a user namespace and a mount
// namespace it owns, invisible to the host), an implant on ext4 under
// /var/lib (no class by name or filesystem) is bind-mounted over
// /usr/bin/true and run as /usr/bin/true. The launch's path is the system
// path; the class userns_bind says it is not the system file, its trust
// is not the package's, and the run ends in exactly one T1587 detection on
// the implant's sha256.
func TestT1587UsernsBind(t *testing.T) {
	testutil.RequireRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	base, err := os.MkdirTemp("/var/lib", "argus-userns-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	tool, sha := implant(t, base, "implant", "userns-"+base)

	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	c := n.Command(unshare, "-rm", "sh", "-c", `mount --bind "$1" /usr/bin/true && exec /usr/bin/true "$2"`,
		"sh", tool, external)
	beacon(t, c)
	det := out.await(t, "detection on the implant's sha256", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == sha
	})
	x := det.Detection.Events[0].Process.Exe
	if x.Path != "/usr/bin/true" || !slices.Contains(x.PathClasses, "userns_bind") ||
		x.Trust == nil || x.Trust.Severity == "INFORMATIONAL" {
		t.Errorf("launch exe %q classes %v trust %+v; want /usr/bin/true, class userns_bind, untrusted", x.Path, x.PathClasses, x.Trust)
	}
	stop()
	stopped = true
	if got := out.detections(t, sha); got != 1 {
		t.Errorf("%d detections, want exactly 1", got)
	}
	// The host's /usr/bin/true, run at the same time, is not touched.
	for _, r := range out.records(t) {
		if r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == "/usr/bin/true" && r.Process.Exe.SHA256 != sha &&
			slices.Contains(r.Process.Exe.PathClasses, "userns_bind") {
			t.Errorf("the real /usr/bin/true got class userns_bind: %+v", r.Process.Exe)
		}
	}
}
