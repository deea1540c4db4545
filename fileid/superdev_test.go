package fileid

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountinfo(t *testing.T) {
	in := "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"garbage\n" +
		"41 36 0:300 / /b rw - btrfs /dev/loop0 rw\n" +
		"x 36 0:1 / /c rw - tmpfs tmpfs rw\n" +
		"42 36 259:1048575 / /d rw - ext4 /dev/nvme rw" // no final newline
	got := ParseMountinfo([]byte(in))
	want := map[uint64]uint64{36: unix.Mkdev(98, 0), 41: unix.Mkdev(0, 300), 42: unix.Mkdev(259, 1048575)}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("mount %d: %#x, want %#x", k, got[k], v)
		}
	}
}

// On a filesystem whose st_dev is s_dev (the test's own temporary
// directory, normally), Of agrees with fstat; and Resolve leaves another
// inode alone.
func TestSuperDevOf(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	have, err := Fstat(fd)
	if err != nil {
		t.Fatal(err)
	}
	var s SuperDevs
	dev, err := s.Of(fd, "/proc/self/mountinfo", false)
	if err != nil {
		t.Fatal(err)
	}
	var sfs unix.Statfs_t
	unix.Fstatfs(fd, &sfs)
	if sfs.Type != 0x9123683E && dev != have.Dev { // btrfs names subvolumes apart
		t.Errorf("superblock device %#x, st_dev %#x", dev, have.Dev)
	}
	other := have
	other.Dev, other.Ino = have.Dev+1, have.Ino+1
	if got := s.Resolve(fd, have, other, "/proc/self/mountinfo"); got != have {
		t.Errorf("another inode resolved: %v", got)
	}
	// Same inode number under a device that is not this mount's: no match.
	other.Ino = have.Ino
	if got := s.Resolve(fd, have, other, "/proc/self/mountinfo"); got.SameFile(other) {
		t.Errorf("a device that is not fd's superblock matched: %v", got)
	}
	// Missing mountinfo: an error, never a guess.
	if _, err := s.Of(fd, "/nonexistent/mountinfo", true); err == nil {
		t.Error("no error without mountinfo")
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw\n"))
	f.Add([]byte("1 2 3:4\n\n 5 6:7 8\n"))
	f.Add([]byte("18446744073709551615 0 4294967295:4294967295 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for id, dev := range ParseMountinfo(b) {
			if unix.Mkdev(unix.Major(dev), unix.Minor(dev)) != dev {
				t.Fatalf("mount %d: device %#x does not round-trip", id, dev)
			}
		}
	})
}
