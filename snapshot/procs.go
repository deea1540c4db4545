package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
)

// Process is one process found in /proc.
type Process struct {
	PID, PPID uint32
	UID, GID  uint32
	// StartTicks is /proc/<pid>/stat field 22: start time since boot in
	// USER_HZ (100 Hz) ticks. StartNs is the same in nanoseconds, at tick
	// precision.
	StartTicks uint64
	StartNs    uint64
	Comm       string
	ExePath    string
	Exe        fileid.ID
	HaveExe    bool
	Nlink      uint32
	Memfd      bool
	Deleted    bool
	Cwd        string
	Args       []string
	NetNS      uint64 // inode of /proc/<pid>/ns/net
	// ExeUnreadable: the process exists but its exe, cwd and namespace
	// links could not be read (another user's, without CAP_SYS_PTRACE).
	ExeUnreadable bool
}

// Unreadable counts the processes whose executable could not be read.
func Unreadable(procs []Process) int {
	n := 0
	for _, p := range procs {
		if p.ExeUnreadable {
			n++
		}
	}
	return n
}

// Processes scans root (normally /proc) for user-space processes. Kernel
// threads (no exe) are skipped, as are processes that vanish mid-read.
func Processes(root string) ([]Process, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	var out []Process
	for _, e := range ents {
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		p, ok := readProcess(root, uint32(pid))
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func readProcess(root string, pid uint32) (Process, bool) {
	p := Process{PID: pid}
	ps, err := procfs.ReadStat(root, pid)
	if err != nil {
		return p, false
	}
	p.Comm, p.PPID, p.StartTicks, p.StartNs = ps.Comm, ps.PPID, ps.StartTicks, ps.StartNs()
	im := procfs.ReadImage(root, pid)
	if errors.Is(im.ExeErr, fs.ErrNotExist) {
		return p, false // a kernel thread, or gone
	}
	if im.ExeErr != nil {
		// Not ours to read (no CAP_SYS_PTRACE): still a process that
		// exists, reported with what can be read.
		p.ExeUnreadable = true
		p.Args = im.Args
		return p, true
	}
	p.ExePath, p.Deleted, p.Memfd = im.ExePath, im.Deleted, im.Memfd
	if im.HaveExe {
		p.Exe, p.HaveExe, p.Nlink = fileid.FromStat(&im.Exe), true, uint32(im.Exe.Nlink)
	}
	p.Cwd, p.Args = im.Cwd, im.Args
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		p.UID, p.GID = statusIDs(status)
	}
	var ns unix.Stat_t
	if unix.Stat(filepath.Join(dir, "ns", "net"), &ns) == nil {
		p.NetNS = ns.Ino
	}
	return p, true
}

// statusIDs returns the real uid and gid from /proc/<pid>/status.
func statusIDs(b []byte) (uid, gid uint32) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "Uid" && k != "Gid") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			continue
		}
		if k == "Uid" {
			uid = uint32(n)
		} else {
			gid = uint32(n)
		}
	}
	return uid, gid
}

// SocketOwners maps socket inodes to the pids holding them, from the
// /proc/<pid>/fd links ("socket:[12345]").
func SocketOwners(root string, pids []uint32) map[uint64]uint32 {
	out := map[uint64]uint32{}
	for _, pid := range pids {
		dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10), "fd")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			l, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			s, ok := strings.CutPrefix(l, "socket:[")
			if !ok {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
			if err == nil {
				if _, seen := out[ino]; !seen {
					out[ino] = pid
				}
			}
		}
	}
	return out
}
