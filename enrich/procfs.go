package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/sensor"
)

// ticksPerSecond is USER_HZ, the unit of /proc/<pid>/stat's starttime. It
// is 100 on every Linux architecture's user ABI.
const ticksPerSecond = 100

var errStartMismatch = errors.New("start time does not match: pid was reused")

// procStat is what /proc/<pid>/stat tells about a process.
type procStat struct {
	comm       string
	ppid       uint32
	startTicks uint64
}

func readStat(root string, pid uint32) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.FormatUint(uint64(pid), 10), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses /proc/<pid>/stat. comm may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("parse stat: no (comm)")
	}
	st := procStat{comm: string(b[open+1 : closing])}
	fields := strings.Fields(string(b[closing+1:]))
	// fields[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("parse stat: %d fields after comm, need 20", len(fields))
	}
	ppid, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat ppid: %w", err)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat starttime: %w", err)
	}
	st.ppid, st.startTicks = uint32(ppid), start
	return st, nil
}

// startMatches reports whether a kernel start time (CLOCK_BOOTTIME ns)
// and a /proc starttime (USER_HZ ticks) name the same instant: the kernel
// derives the latter from the former by integer division.
func startMatches(startNs, ticks uint64) bool {
	return startNs/(1e9/ticksPerSecond) == ticks
}

// readProc reads a live process's details from procfs, provided it is the
// process that started at startNs.
func readProc(root string, pid uint32, startNs uint64) (*Proc, error) {
	st, err := readStat(root, pid)
	if err != nil {
		return nil, fmt.Errorf("read /proc/%d: %w", pid, err)
	}
	if !startMatches(startNs, st.startTicks) {
		return nil, fmt.Errorf("read /proc/%d: %w", pid, errStartMismatch)
	}
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	p := &Proc{PID: pid, StartNs: startNs, PPID: st.ppid, Comm: st.comm, Source: SourceProcfs}
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
	if st2, err := readStat(root, pid); err != nil || st2.startTicks != st.startTicks {
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
