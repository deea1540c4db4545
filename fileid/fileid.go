// Package fileid names a file version by what the kernel records about it
// at exec time: device, inode, size, mtime and ctime.
//
// Two reads of the "same" path can be two different files (replaced,
// renamed over) and one inode can change content in place; the tuple
// catches both, because replacing changes (device, inode) and writing
// changes size or mtime, and even a write that restores mtime (touch -d,
// utimensat) bumps ctime, which userspace cannot set. The hash cache and
// the trust cache are both keyed by ID, so a cached answer is only ever
// reused for the file version it was computed from.
//
// The kernel names the device by the superblock's s_dev, which stat(2)
// does not report on btrfs (a subvolume's anonymous device) or on overlayfs
// over several filesystems (the layer's device). SuperDevs, StatAs and
// FstatAs compare a file opened in userspace with a recorded ID in the
// kernel's terms: the mount the file was opened through (statx's mount id)
// names its superblock in mountinfo.
package fileid

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// ID identifies one version of one file.
type ID struct {
	Dev     uint64 // st_dev, in the encoding stat(2) reports
	Ino     uint64
	Size    int64
	MtimeNs int64
	CtimeNs int64
}

// FromStat returns the ID of a stat(2) result.
func FromStat(st *unix.Stat_t) ID {
	return ID{
		Dev:     st.Dev,
		Ino:     st.Ino,
		Size:    st.Size,
		MtimeNs: st.Mtim.Nano(),
		CtimeNs: st.Ctim.Nano(),
	}
}

// Fstat returns the ID of an open file.
func Fstat(fd int) (ID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return ID{}, err
	}
	return FromStat(&st), nil
}

// SameFile reports whether a and b are the same inode, whatever its
// content.
func (id ID) SameFile(o ID) bool { return id.Dev == o.Dev && id.Ino == o.Ino }

func (id ID) String() string {
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, id.Dev, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, id.Ino, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.Size, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.MtimeNs, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.CtimeNs, 10)
	return string(b)
}
