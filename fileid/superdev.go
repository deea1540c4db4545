package fileid

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The kernel's file identity names the device by the superblock's s_dev;
// stat(2) names it by what the filesystem's getattr reports. Most
// filesystems report s_dev, but btrfs reports the subvolume's anonymous
// device (the top subvolume's included) and overlayfs, when its layers are
// on different filesystems, reports the device of the layer that holds the
// file. A file on either never matched the identity the kernel recorded at
// exec. The mount a descriptor was opened through names the superblock
// exactly: statx gives the mount's id, and mountinfo's major:minor field
// is that superblock's s_dev.

// SuperDevs maps mount ids to the s_dev of their superblocks, in the
// encoding stat(2) uses. It is safe for concurrent use.
type SuperDevs struct {
	mu  sync.Mutex
	dev map[uint64]uint64
}

// maxSuperDevs bounds the cached mounts; past it the cache starts again.
const maxSuperDevs = 4096

// errNoMount is returned when mountinfo does not list a descriptor's mount
// (a detached mount, or one in another namespace).
var errNoMount = errors.New("mount not in mountinfo")

// Of returns the superblock device of the mount fd was opened through,
// reading mountinfo (a /proc/<pid>/mountinfo whose namespace sees that
// mount) when the mount is not cached. fresh forces a reread: mount ids
// are reused once a mount is gone.
func (s *SuperDevs) Of(fd int, mountinfo string, fresh bool) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("statx mount id: %w", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("statx mount id: not reported")
	}
	id := stx.Mnt_id
	s.mu.Lock()
	dev, ok := s.dev[id]
	s.mu.Unlock()
	if ok && !fresh {
		return dev, nil
	}
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return 0, fmt.Errorf("read mountinfo: %w", err)
	}
	devs := ParseMountinfo(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev == nil || len(s.dev)+len(devs) > maxSuperDevs {
		s.dev = make(map[uint64]uint64, len(devs))
	}
	for m, d := range devs {
		s.dev[m] = d
	}
	dev, ok = devs[id]
	if !ok {
		return 0, fmt.Errorf("mount %d: %w", id, errNoMount)
	}
	return dev, nil
}

// ParseMountinfo returns the superblock device of each mount that
// /proc/<pid>/mountinfo lists, by mount id. Lines it cannot read are
// skipped.
func ParseMountinfo(b []byte) map[uint64]uint64 {
	out := make(map[uint64]uint64)
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw"
		idF, rest, ok1 := bytes.Cut(line, []byte{' '})
		_, rest, ok2 := bytes.Cut(rest, []byte{' '})
		devF, _, ok3 := bytes.Cut(rest, []byte{' '})
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		majF, minF, ok := bytes.Cut(devF, []byte{':'})
		if !ok {
			continue
		}
		id, err1 := strconv.ParseUint(string(idF), 10, 64)
		maj, err2 := strconv.ParseUint(string(majF), 10, 32)
		mnr, err3 := strconv.ParseUint(string(minF), 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out[id] = unix.Mkdev(uint32(maj), uint32(mnr))
	}
	return out
}

// Resolve returns have, the fstat identity of fd, with its device put in
// the kernel's encoding when it is want's file under another device name:
// same inode, and fd's mount's superblock is want's device. Otherwise
// have comes back unchanged, and SameFile against want stays false.
func (s *SuperDevs) Resolve(fd int, have, want ID, mountinfo string) ID {
	if have.Dev == want.Dev || have.Ino != want.Ino {
		return have
	}
	dev, err := s.Of(fd, mountinfo, false)
	if err == nil && dev != want.Dev {
		dev, err = s.Of(fd, mountinfo, true)
	}
	if err != nil || dev != want.Dev {
		return have
	}
	have.Dev = want.Dev
	return have
}

var selfDevs SuperDevs

// StatAs stats path (following symlinks, as stat(2) does) and returns its
// identity with the device in want's terms when it is want's inode on a
// filesystem that names its device apart from the superblock (see
// SuperDevs.Resolve); the sensor's own mountinfo names the mounts.
func StatAs(path string, want ID) (ID, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return ID{}, err
	}
	defer unix.Close(fd)
	have, err := Fstat(fd)
	if err != nil {
		return ID{}, err
	}
	return selfDevs.Resolve(fd, have, want, "/proc/self/mountinfo"), nil
}

// FstatAs is StatAs for an open file.
func FstatAs(fd int, want ID) (ID, error) {
	have, err := Fstat(fd)
	if err != nil {
		return ID{}, err
	}
	return selfDevs.Resolve(fd, have, want, "/proc/self/mountinfo"), nil
}
