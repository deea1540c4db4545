package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
	"golang.org/x/sys/unix"
)

// needTool finds a program the test calls: under CI=true a missing one
// fails the test, otherwise it skips.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (apt-get install %s): CI must have it", name, pkg)
		}
		t.Skipf("skipping: %s not found (apt-get install %s)", name, pkg)
	}
	return p
}

// run is a command the test setup needs to succeed.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v %s", name, args, err, out)
	}
}

// loopFS makes a 300 MiB image of the given mkfs and mounts it at dir/name.
func loopFS(t *testing.T, dir, name, mkfs string, mkfsArgs ...string) string {
	t.Helper()
	img, mnt := filepath.Join(dir, name+".img"), filepath.Join(dir, name)
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 300<<20); err != nil {
		t.Fatal(err)
	}
	run(t, mkfs, append(mkfsArgs, img)...)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "-o", "loop", img, mnt)
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}

// TestT1587Filesystems runs implants where stat(2)'s st_dev is not the
// superblock's s_dev the kernel records at exec (btrfs subvolumes, the top
// one included; overlayfs over several filesystems), from the same
// filesystem as overlayfs's layers, and one that touches its own binary
// before connecting. Each must be hashed through and end in exactly one
// T1587 detection carrying its sha256.
func TestT1587Filesystems(t *testing.T) {
	testutil.RequireRoot(t)
	mkbtrfs := needTool(t, "mkfs.btrfs", "btrfs-progs")
	btrfs := needTool(t, "btrfs", "btrfs-progs")
	mkext4 := needTool(t, "mkfs.ext4", "e2fsprogs")
	needTool(t, "mount", "mount")

	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())

	// The places, all under the temporary directory (path class "tmp").
	top := loopFS(t, dir, "btrfs", mkbtrfs, "-q")
	run(t, btrfs, "-q", "subvolume", "create", filepath.Join(top, "sub"))
	ext4 := loopFS(t, dir, "ext4", mkext4, "-q", "-F")
	tmpfs := filepath.Join(dir, "tmpfs")
	os.Mkdir(tmpfs, 0o755)
	if err := unix.Mount("tmpfs", tmpfs, "tmpfs", 0, "size=200m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(tmpfs, unix.MNT_DETACH) })
	overlay := func(name, lower, upper, work string) string {
		t.Helper()
		for _, d := range []string{lower, upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		merged := filepath.Join(dir, name)
		os.Mkdir(merged, 0o755)
		if err := unix.Mount("overlay", merged, "overlay", 0,
			"lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
			t.Fatalf("mount overlay %s: %v", name, err)
		}
		t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
		return merged
	}
	// Layers on two filesystems: lower on ext4, upper on tmpfs.
	split := overlay("split", filepath.Join(ext4, "lower"), filepath.Join(tmpfs, "upper"), filepath.Join(tmpfs, "work"))
	// Every layer on one filesystem.
	same := overlay("same", filepath.Join(ext4, "l2"), filepath.Join(ext4, "u2"), filepath.Join(ext4, "w2"))

	// A tmpfs at a path no name-based class covers: classed by what it is.
	anywhere, err := os.MkdirTemp("/var/lib", "argus-fsclass-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(anywhere) })
	if err := unix.Mount("tmpfs", anywhere, "tmpfs", 0, "size=100m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(anywhere, unix.MNT_DETACH) })

	// The count at the end reads one file: it must not rotate, however
	// busy the host is meanwhile.
	out, stop := startAgentWith(t, dir, func(c *Config) { c.Outputs[0].File.MaxBytes = 4 << 30 })
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	cases := []struct {
		name, dir, mode string
		// at is where the implant is written, when not under dir.
		at string
		// pad grows the implant, sparsely, to this size.
		pad int64
		// classes and fsType, when set, are the launch's path classes and
		// fs_type.
		classes, fsType string
	}{
		{name: "btrfs-top", dir: top, mode: "connect"},
		{name: "btrfs-subvolume", dir: filepath.Join(top, "sub"), mode: "connect"},
		{name: "overlay-split-upper", dir: split, mode: "connect"},
		{name: "overlay-split-lower", dir: split, at: filepath.Join(ext4, "lower"), mode: "connect"},
		{name: "overlay-one-fs-upper", dir: same, mode: "connect"},
		{name: "touch-own-binary", dir: dir, mode: "touch-connect"},
		{name: "touch-own-binary-btrfs", dir: filepath.Join(top, "sub"), mode: "touch-connect"},
		// Past the 512 MiB ordinary cap: a suspect file is hashed anyway.
		{name: "sparse-600MiB", dir: dir, mode: "connect", pad: 600 << 20},
		{name: "tmpfs-anywhere", dir: anywhere, mode: "connect", classes: "tmpfs", fsType: "tmpfs"},
		{name: "btrfs-classes", dir: top, mode: "connect", classes: "tmp", fsType: "btrfs"},
	}
	shas := map[string]string{}
	for _, c := range cases {
		at := c.dir
		if c.at != "" {
			at = c.at
		}
		p, sha := implant(t, at, c.name, c.name)
		if c.pad > 0 {
			sha = padSparse(t, p, c.pad)
		}
		tool := filepath.Join(c.dir, c.name)
		shas[c.name] = sha
		cmd := n.Command(tool, external)
		cmd.Env = append(os.Environ(), helperEnv+"="+c.mode)
		var live io.WriteCloser
		if c.mode == "touch-connect" {
			var err error
			if live, err = cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatalf("%s: implant: %v", c.name, err)
			}
		} else if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: implant: %v %s", c.name, err, b)
		}
		launch := out.await(t, c.name+" launch", func(r *event.Record) bool {
			return r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == tool
		})
		if x := launch.Process.Exe; x.SHA256 != sha || x.HashStatus != "" || x.Trust == nil || x.Trust.Verdict != "unowned" {
			t.Errorf("%s: launch sha256 %q status %q trust %+v, want %s, unowned", c.name, x.SHA256, x.HashStatus, x.Trust, sha)
		}
		if x := launch.Process.Exe; c.classes != "" && (strings.Join(x.PathClasses, ",") != c.classes || x.FSType != c.fsType) {
			t.Errorf("%s: classes %v fs_type %q, want %s, %s", c.name, x.PathClasses, x.FSType, c.classes, c.fsType)
		}
		det := out.await(t, c.name+" detection", func(r *event.Record) bool {
			return r.Kind == event.KindDetection && r.Detection.SHA256 == sha
		})
		if d := det.Detection; d.Technique != "T1587" || len(d.Events) != 2 || d.Events[0].Process.Exe.Path != tool {
			t.Errorf("%s: detection %+v", c.name, d)
		}
		if live != nil {
			live.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s: implant: %v", c.name, err)
			}
		}
	}
	stop()
	stopped = true
	for _, c := range cases {
		if got := out.detections(t, shas[c.name]); got != 1 {
			t.Errorf("%s: %d detections, want exactly 1", c.name, got)
		}
	}
}

// padSparse grows the file at p to size with a hole, ending in a marker
// byte, and returns its new sha256.
func padSparse(t *testing.T, p string, size int64) string {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{1}, size-1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// An implant whose hash cannot be had (here: over a cap set below its
// size) is still detected, once, joined on its file identity, and the
// detection says why the hash is missing.
func TestT1587WithoutHash(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out, stop := startAgentWith(t, dir, func(c *Config) {
		c.Hasher.MaxFileSize, c.Hasher.SuspectMaxFileSize = 1<<20, 1<<20
		c.Outputs[0].File.MaxBytes = 4 << 30
	})
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	tool, _ := implant(t, dir, "unhashable", "unhashable")
	for range 2 {
		c := n.Command(tool, external)
		c.Env = append(os.Environ(), helperEnv+"=connect")
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("implant: %v %s", err, b)
		}
	}
	launch := out.await(t, "launch", func(r *event.Record) bool {
		return r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == tool
	})
	x := launch.Process.Exe
	if x.SHA256 != "" || x.HashStatus != "too_large" {
		t.Fatalf("launch sha256 %q status %q, want too_large", x.SHA256, x.HashStatus)
	}
	identity := strconv.FormatUint(x.Device, 10) + ":" + strconv.FormatUint(x.Inode, 10) + ":" + strconv.FormatInt(x.CtimeNs, 10)
	isDet := func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.FileIdentity == identity
	}
	det := out.await(t, "detection on the file identity", isDet)
	if d := det.Detection; d.JoinKey != "file_identity" || d.HashStatus != "too_large" || d.SHA256 != "" ||
		len(d.Events) != 2 || d.Events[0].Process.Exe.Path != tool {
		t.Fatalf("detection %+v", d)
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
