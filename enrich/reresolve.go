package enrich

import "github.com/argus-sensor/argus-sensor/sensor"

// reresolve answers a connect whose executable, as the kernel saw it at
// the connect, is not the table entry's: the entry is stale (the process's
// exec record was lost, so the entry still holds what it inherited from its
// parent at fork). The process is read again from /proc; if that fails, it
// is described by what the kernel said alone, never by the parent's
// identity. Inode numbers are compared, not devices: an entry read from
// /proc carries stat(2)'s device, which on btrfs and overlayfs is not the
// kernel's.
func (e *Enricher) reresolve(p *Proc, v *sensor.Connect) *Proc {
	if !p.HaveExe || p.Exe.Ino == 0 || v.Exe.Ino == 0 || p.Exe.Ino == v.Exe.Ino {
		return p
	}
	e.stats.Reresolved++
	e.stats.ProcfsLookups++
	np, err := readProc(e.root, v.TGID, v.Task.StartNs)
	if err != nil || !np.HaveExe || np.Exe.Ino != v.Exe.Ino {
		e.stats.ProcfsFailures++
		np = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel,
			Exe: v.Exe, HaveExe: true}
		e.add(np)
		return np
	}
	np.Ancestors = e.ancestors(np.PPID)
	e.track(np, v.Task.CgroupID)
	e.add(np)
	return np
}
