package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestT1587ExeRelabel: an implant in a temp dir makes the kernel name a
// trusted file as its executable, without an exec (prctl PR_SET_MM_MAP
// with exe_fd, after unmapping its own file), then connects out. From then
// on /proc/PID/exe and mm->exe_file say /usr/bin/true. The connection must
// still be the implant's (its path and sha256), say what it was relabelled
// as, join its launch in a T1587 detection, and fire
// exe_relabeled_without_exec. Run as root, and as nobody
// in a user namespace of its own: the call needs no privilege on the host.
func TestT1587ExeRelabel(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	// nobody must reach the implant: open the temporary directories up.
	for d := dir; d != "/tmp" && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	const as = "/usr/bin/true"
	var st unix.Stat_t
	if err := unix.Stat(as, &st); err != nil {
		t.Fatalf("%s: %v", as, err)
	}
	asIno := st.Ino

	out, stop := startAgent(t, dir)
	defer stop()

	for _, tc := range []struct {
		name string
		// wrap runs the implant: as root, or as nobody in a user namespace.
		wrap []string
		// linger: the implant stays a second after connecting, so /proc
		// still names its label when the record is made; otherwise it
		// exits at once, and only the kernel's identity is sure.
		linger bool
	}{
		{name: "relabel-root", linger: true},
		{name: "relabel-userns", wrap: []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "unshare", "-Ur"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, sha := testutil.BuildRelabel(t, dir, tc.name)
			argv := append(append([]string(nil), tc.wrap...), bin, as, testutil.ServerV4, "4444")
			if tc.linger {
				argv = append(argv, "1000")
			}
			c := n.Command(argv[0], argv[1:]...)
			b, err := c.CombinedOutput()
			if err != nil || !strings.Contains(string(b), "relabelled") {
				t.Fatalf("%s: %v: %s", tc.name, err, b)
			}
			conn := out.await(t, "connection of "+tc.name, func(r *event.Record) bool {
				return connTo(testutil.ServerV4+":4444")(r) && r.Process.Comm == tc.name
			})
			p := conn.Process
			if p.Exe.Path != bin || p.Exe.SHA256 != sha {
				t.Errorf("connection's exe %s sha256 %s, want the implant's, %s %s", p.Exe.Path, p.Exe.SHA256, bin, sha)
			}
			switch rl := p.ExeRelabeled; {
			case rl == nil:
				t.Errorf("connection has no exe_relabeled, want %s's identity", as)
			case rl.Inode != asIno:
				t.Errorf("connection's exe_relabeled %+v, want inode %d (%s)", *rl, asIno, as)
			case tc.linger && rl.Path != as:
				t.Errorf("connection's exe_relabeled path %q, want %q", rl.Path, as)
			}
			for _, rule := range []string{detect.RuleT1587, detect.RuleRelabel} {
				out.await(t, rule+" detection of "+tc.name, func(r *event.Record) bool {
					return r.Kind == event.KindDetection && r.Detection.Rule == rule && r.Detection.SHA256 == sha
				})
			}
		})
	}
}
