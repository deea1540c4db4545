package fileid

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

func birthOfPath(t *testing.T, p string) Birth {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	b, err := BirthOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A file written now is born now, by btime, on the filesystems that keep
// it: ext4 (the test's temp dir here), tmpfs (/dev/shm) and memfd.
func TestBirthNewFile(t *testing.T) {
	for _, dir := range []string{t.TempDir(), "/dev/shm"} {
		var fs unix.Statfs_t
		unix.Statfs(dir, &fs)
		f, err := os.CreateTemp(dir, "birth-")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		t.Cleanup(func() { os.Remove(f.Name()) })
		b := birthOfPath(t, f.Name())
		if age := b.AgeSeconds(time.Now()); age > 60 {
			t.Errorf("%s (fs %#x): new file is %d s old (%s)", dir, fs.Type, age, b.Source)
		}
		if fs.Type == unix.EXT4_SUPER_MAGIC && b.Source != "btime" {
			t.Errorf("ext4 gave %s, want btime", b.Source)
		}
	}
	fd, err := unix.MemfdCreate("birth", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	b, err := BirthOf(fd)
	if err != nil || b.AgeSeconds(time.Now()) > 60 {
		t.Errorf("memfd birth %+v %v", b, err)
	}
}

// An old file stays old after its timestamps are touched: btime is what
// utimensat cannot set. (/usr/bin/true was installed with the system.)
func TestBirthSurvivesTouch(t *testing.T) {
	src, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Skip("no /usr/bin/true")
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, src, 0o755)
	before := birthOfPath(t, p)
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	after := birthOfPath(t, p)
	if before.Source == "btime" && !after.Time.Equal(before.Time) {
		t.Errorf("btime moved with utimensat: %v -> %v", before.Time, after.Time)
	}
}

// btrfs records btime too (a loop-mounted image; root and btrfs-progs).
func TestBirthBtrfs(t *testing.T) {
	testutil.RequireRoot(t)
	mkfs, err := exec.LookPath("mkfs.btrfs")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mkfs.btrfs not found (apt-get install btrfs-progs): CI must have it")
		}
		t.Skip("skipping: mkfs.btrfs not found (apt-get install btrfs-progs)")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "img"), filepath.Join(dir, "mnt")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 128<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.btrfs: %v %s", err, out)
	}
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount btrfs: %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	p := filepath.Join(mnt, "x")
	if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if b := birthOfPath(t, p); b.Source != "btime" || b.AgeSeconds(time.Now()) > 60 {
		t.Errorf("btrfs birth %+v", b)
	}
}

func TestAgeNeverNegative(t *testing.T) {
	now := time.Now()
	if a := (Birth{Time: now.Add(time.Hour)}).AgeSeconds(now); a != 0 {
		t.Errorf("future birth: age %d", a)
	}
	if a := (Birth{Time: now.Add(-90 * time.Second)}).AgeSeconds(now); a != 90 {
		t.Errorf("age %d, want 90", a)
	}
}
