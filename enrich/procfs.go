package enrich

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/sensor"
)

var errStartMismatch = errors.New("start time does not match: pid was reused")

// readProc reads a live process's details from procfs, provided it is the
// process that started at startNs.
func readProc(root string, pid uint32, startNs uint64) (*Proc, error) {
	st, err := procfs.ReadStat(root, pid)
	if err != nil {
		return nil, fmt.Errorf("read /proc/%d: %w", pid, err)
	}
	if !st.SameStart(startNs) {
		return nil, fmt.Errorf("read /proc/%d: %w", pid, errStartMismatch)
	}
	im := procfs.ReadImage(root, pid)
	p := &Proc{PID: pid, StartNs: startNs, PPID: st.PPID, Comm: st.Comm, Source: SourceProcfs,
		ExePath: im.ExePath, Cwd: im.Cwd, Args: im.Args}
	p.Exe.Deleted, p.Exe.Memfd = im.Deleted, im.Memfd
	if im.HaveExe {
		p.Exe, p.HaveExe = fileFromStat(&im.Exe, im.Deleted, im.Memfd), true
	}
	// Re-check: if the process exited and the pid was reused while we read,
	// what we read may belong to the newcomer.
	if st2, err := procfs.ReadStat(root, pid); err != nil || st2.StartTicks != st.StartTicks {
		return nil, fmt.Errorf("read /proc/%d: %w", pid, errStartMismatch)
	}
	return p, nil
}

// fileFromStat describes a file as the kernel hooks do.
func fileFromStat(st *unix.Stat_t, deleted, memfd bool) sensor.File {
	return sensor.File{
		Dev: st.Dev, Ino: st.Ino, Size: st.Size, MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
		Nlink: uint32(st.Nlink), Mode: st.Mode, UID: st.Uid, Deleted: deleted, Memfd: memfd,
	}
}
