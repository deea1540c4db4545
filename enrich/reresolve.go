package enrich

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// reresolve answers a connect whose executable, as the kernel saw it at
// the connect, is not the table entry's. Inode numbers are compared, not
// devices: an entry read from /proc carries stat(2)'s device, which on
// btrfs and overlayfs is not the kernel's.
//
// Two causes, told apart by the kernel's exec count (sensor.Task.ExecID),
// which only an exec changes:
//
//   - The count is the entry's: no exec came between, so the process
//     relabelled itself (prctl PR_SET_MM_MAP or PR_SET_MM_EXE_FILE, allowed
//     to any user in a user namespace of its own). The code running is
//     still the executed file's, so the entry stands, and the relabel is
//     returned for the record to carry. Were the process read again, /proc
//     would name the new label, and the connection would be attributed to
//     whatever trusted file the implant chose.
//   - Otherwise the entry is stale: the process's exec record was lost, so
//     the entry still holds what it inherited at fork. The process is read
//     again from /proc; if that fails, it is described by what the kernel
//     said alone, never by the parent's identity.
//
// A third case needs no count: the kernel itself found the relabel
// (sensor.Connect.Relabeled) and named the executed file. See
// kernelRelabel.
func (e *Enricher) reresolve(p *Proc, v *sensor.Connect) (*Proc, *event.Relabel) {
	if v.Relabeled {
		return e.kernelRelabel(p, v)
	}
	if !p.HaveExe || p.Exe.Ino == 0 || v.Exe.Ino == 0 {
		return p, nil
	}
	if p.Exe.Ino == v.Exe.Ino {
		if !p.haveExecID {
			p.execID, p.haveExecID = v.Task.ExecID, true
		}
		return p, nil
	}
	if p.haveExecID && p.execID == v.Task.ExecID {
		return p, e.relabeled(p, v)
	}
	e.stats.Reresolved++
	e.stats.ProcfsLookups++
	np, err := readProc(e.root, v.TGID, v.Task.StartNs)
	if err != nil || !np.HaveExe || np.Exe.Ino != v.Exe.Ino {
		e.stats.ProcfsFailures++
		np = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel,
			Exe: v.Exe, HaveExe: true, execID: v.Task.ExecID, haveExecID: true}
		e.add(np)
		return np, nil
	}
	np.execID, np.haveExecID = v.Task.ExecID, true
	np.Ancestors = e.ancestors(np.PPID)
	e.track(np, v.Task.CgroupID)
	e.add(np)
	return np, nil
}

// kernelRelabel answers a connect the kernel marked relabelled: the
// process runs the file its last exec loaded (v.ExecDev, v.ExecIno) under
// the label v.Exe, with no exec since. When the entry describes that file
// (from its exec record) it stands. Otherwise the exec record was lost (the
// implant flooded the ring as it started, say) and the entry holds what
// the process inherited at fork, or what /proc says, which is the label:
// the process is read again for its argv, cwd and container, and its
// executable is the kernel's identity of the executed file, whose path is
// not known. Never the label: that is the evasion.
func (e *Enricher) kernelRelabel(p *Proc, v *sensor.Connect) (*Proc, *event.Relabel) {
	if p.HaveExe && p.Exe.Ino == v.ExecIno {
		if !p.haveExecID {
			p.execID, p.haveExecID = v.Task.ExecID, true
		}
		return p, e.relabeled(p, v)
	}
	e.stats.Reresolved++
	e.stats.ProcfsLookups++
	np, err := readProc(e.root, v.TGID, v.Task.StartNs)
	if err != nil {
		e.stats.ProcfsFailures++
		np = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel}
	}
	// Before track: with no path, nothing is hashed (through
	// /proc/PID/exe, the label's bytes would be).
	np.ExePath, np.ExePathTruncated, np.ExeInvokedAs = "", false, ""
	np.Exe, np.HaveExe = sensor.File{Dev: v.ExecDev, Ino: v.ExecIno}, true
	np.execID, np.haveExecID = v.Task.ExecID, true
	np.Ancestors = e.ancestors(np.PPID)
	e.track(np, v.Task.CgroupID)
	e.add(np)
	return np, e.relabeled(np, v)
}

// relabeled describes the file the connect found as p's executable in
// place of the one p executed: the kernel's identity, and the path
// /proc/PID/exe gives while it still names that file. Kept on p, so later
// connects with the same label do not read /proc again.
func (e *Enricher) relabeled(p *Proc, v *sensor.Connect) *event.Relabel {
	if rl := p.relabel; rl != nil && rl.Inode == v.Exe.Ino && rl.Device == v.Exe.Dev {
		return rl
	}
	e.stats.Relabeled++
	rl := &event.Relabel{Device: v.Exe.Dev, Inode: v.Exe.Ino}
	link := filepath.Join(e.root, strconv.FormatUint(uint64(v.TGID), 10), "exe")
	if fi, err := os.Stat(link); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == v.Exe.Ino {
			rl.Path = procfs.ExePath(e.root, v.TGID)
		}
	}
	p.relabel = rl
	return rl
}
