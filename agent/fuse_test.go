package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestT1587FUSEUnreadable: an implant on a FUSE mount made by an
// unprivileged user without allow_other, which the kernel keeps even root
// (the sensor) from reading, under /var/lib (no class by name). Its launch
// has no sha256 (hash_status says why), the class fuse, and it ends in exactly one T1587 detection
// joined on its file identity.
func TestT1587FUSEUnreadable(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipInMatrixGuest(t, "needs bindfs and fusermount3")
	bindfs := needTool(t, "bindfs", "bindfs")
	needTool(t, "fusermount3", "fuse3")
	setpriv := needTool(t, "setpriv", "util-linux")
	fi, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Skipf("skipping: no /dev/fuse: %v", err)
	}
	// udev makes /dev/fuse 0666 on a booted system; a machine without udev
	// (a container, this CI's) leaves the kernel's 0600. Open it to
	// users for the test, as udev would, and put it back.
	if mode := fi.Mode().Perm(); mode&0o006 != 0o006 {
		if err := os.Chmod("/dev/fuse", mode|0o666); err != nil {
			t.Fatalf("open /dev/fuse to users: %v", err)
		}
		t.Cleanup(func() { os.Chmod("/dev/fuse", mode) })
	}
	const nobody = 65534
	asNobody := []string{"--reuid=" + strconv.Itoa(nobody), "--regid=" + strconv.Itoa(nobody), "--clear-groups"}
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)

	// A tree nobody can walk (t.TempDir's parent is private to root), in
	// a place whose name has no class: only the filesystem gives one.
	base, err := os.MkdirTemp("/var/lib", "argus-fuse-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	src, mnt := filepath.Join(base, "src"), filepath.Join(base, "mnt")
	for _, d := range []string{base, src, mnt} {
		os.MkdirAll(d, 0o755)
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
	}
	_, _ = implant(t, src, "implant", "fuse-"+base)
	if err := os.Chown(filepath.Join(src, "implant"), nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(setpriv, append(asNobody, bindfs, "--no-allow-other", src, mnt)...).CombinedOutput(); err != nil {
		t.Fatalf("bindfs as nobody: %v %s", err, b)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	tool := filepath.Join(mnt, "implant")
	if _, err := os.ReadFile(tool); err == nil {
		t.Fatal("root can read the FUSE mount: the test needs a mount the sensor cannot read")
	}

	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	c := n.Command(setpriv, append(asNobody, tool, external)...)
	c.Env = append(os.Environ(), helperEnv+"=connect")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("implant: %v %s", err, b)
	}
	launch := out.await(t, "launch from the FUSE mount", func(r *event.Record) bool {
		return r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == tool
	})
	x := launch.Process.Exe
	if x.SHA256 != "" || x.HashStatus == "" || x.FSType != "fuse" ||
		!slices.Equal(x.PathClasses, []string{"fuse"}) {
		t.Fatalf("launch exe: sha256 %q hash_status %q fs_type %q classes %v", x.SHA256, x.HashStatus, x.FSType, x.PathClasses)
	}
	isDet := func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.JoinKey == "file_identity" &&
			len(r.Detection.Events) > 0 && r.Detection.Events[0].Process.Exe.Path == tool
	}
	det := out.await(t, "detection on the file identity", isDet)
	if d := det.Detection; d.HashStatus != x.HashStatus || d.SHA256 != "" {
		t.Errorf("detection hash_status %q sha256 %q, want %q and none", d.HashStatus, d.SHA256, x.HashStatus)
	}
	stop()
	stopped = true
	got := 0
	for _, r := range out.records(t) {
		if isDet(&r) {
			got++
		}
	}
	if got != 1 {
		t.Errorf("%d detections, want exactly 1", got)
	}
}
