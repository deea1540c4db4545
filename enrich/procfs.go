package enrich

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	p := &Proc{PID: pid, StartNs: startNs, PPID: st.PPID, Comm: st.Comm, Source: SourceProcfs}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.ExePath, p.Exe.Deleted = strings.CutSuffix(exe, " (deleted)")
		p.Exe.Memfd = strings.HasPrefix(p.ExePath, "/memfd:")
		var st unix.Stat_t
		if unix.Stat(filepath.Join(dir, "exe"), &st) == nil {
			p.Exe = fileFromStat(&st, p.Exe.Deleted || st.Nlink == 0, p.Exe.Memfd)
			p.HaveExe = true
		}
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		p.Cwd = cwd
	}
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmdline) > 0 {
		p.Args = strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
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

// readExePath returns a live process's executable path, or "".
func readExePath(root string, pid uint32) string {
	exe, err := os.Readlink(filepath.Join(root, strconv.FormatUint(uint64(pid), 10), "exe"))
	if err != nil {
		return ""
	}
	exe, _ = strings.CutSuffix(exe, " (deleted)")
	return exe
}
