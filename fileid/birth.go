package fileid

import (
	"time"

	"golang.org/x/sys/unix"
)

// Birth is when a file came to be, as well as the filesystem can say.
type Birth struct {
	Time time.Time
	// Source is "btime" when the filesystem records a birth time (ext4,
	// xfs, btrfs, tmpfs since Linux 5.18 (so memfd files too), ...), or
	// "ctime" when it does not and the last status change stands in: a
	// lower bound on age that chmod, chown, link and rename also reset.
	Source string
}

// BirthOf returns the birth time of the open file fd with statx(2),
// falling back to its ctime where the filesystem keeps no birth time.
func BirthOf(fd int) (Birth, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_BTIME|unix.STATX_CTIME, &stx); err != nil {
		return Birth{}, err
	}
	if stx.Mask&unix.STATX_BTIME != 0 && (stx.Btime.Sec != 0 || stx.Btime.Nsec != 0) {
		return Birth{Time: time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)), Source: "btime"}, nil
	}
	return Birth{Time: time.Unix(stx.Ctime.Sec, int64(stx.Ctime.Nsec)), Source: "ctime"}, nil
}

// AgeSeconds is how long before at the file was born, in whole seconds,
// never negative (a birth after the exec means a clock step or a file
// replaced since; 0 says "new").
func (b Birth) AgeSeconds(at time.Time) int64 {
	if d := at.Sub(b.Time); d > 0 {
		return int64(d / time.Second)
	}
	return 0
}
