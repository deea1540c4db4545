package enrich

import (
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// Where a Proc's details came from.
const (
	SourceExec   = "exec"   // captured in the kernel at exec
	SourceFork   = "fork"   // inherited from the parent at fork
	SourceProcfs = "procfs" // read from /proc after the fact
	SourceKernel = "kernel" // only what the record itself carried
)

// Proc is one process-table entry.
type Proc struct {
	PID     uint32
	StartNs uint64
	// coarseStart: StartNs came from /proc at tick (10 ms) precision and
	// is matched as such until a kernel record gives the exact value.
	coarseStart bool
	PPID        uint32
	UID, GID    uint32
	Comm        string

	ExePath          string
	ExePathTruncated bool
	ExeInvokedAs     string
	Exe              sensor.File
	HaveExe          bool // Exe holds the executed file's identity

	Args          []string
	ArgsTruncated bool
	Cwd           string
	CwdTruncated  bool
	Source        string
	Ancestors     []event.Ancestor

	// ctr is the process's container, nil on the host (ctrKnown says
	// whether it was looked up).
	ctr      *container.Info
	ctrKnown bool

	exeHash *hasher.Future
	// classes caches the exe's path classes by memfd<<1|deleted, for the
	// paths generation they were computed under.
	classes    [4][]string
	classesGen uint64
	owned      bool // a package owns the exe's path
	md5        bool // the exe's package records md5
	trust      [2]*event.Trust
	script     *script
}

// script is the file an interpreter process runs.
type script struct {
	path    string
	id      fileid.ID
	classes []string
	hash    *hasher.Future
	trust   *event.Trust
}

// add puts p in the table; pushing out the least recently used entry
// for lack of room is counted. (simplelru's eviction callback also runs on
// Remove, so it cannot tell an exit from an eviction.)
func (e *Enricher) add(p *Proc) {
	if e.procs.Add(p.PID, p) {
		e.stats.Evicted++
	}
}

// sameStart matches a table entry against a kernel start time; an entry
// read from /proc matches at tick precision, and learns the exact value.
func (e *Enricher) sameStart(p *Proc, startNs uint64) bool {
	if p.StartNs == startNs {
		return true
	}
	if p.coarseStart && (procfs.Stat{StartTicks: p.StartNs / procfs.NsPerTick}).SameStart(startNs) {
		p.StartNs, p.coarseStart = startNs, false
		return true
	}
	return false
}

// track starts what a new table entry needs: the exe's hash, and the
// script's if the process is an interpreter running one.
func (e *Enricher) track(p *Proc, cgroupID uint64) {
	if r := e.opts.Containers; r != nil && !p.ctrKnown {
		p.ctr, p.ctrKnown = r.Lookup(p.PID, cgroupID), true
	}
	if h := e.opts.Hasher; h != nil && p.HaveExe && p.ExePath != "" && !p.ExePathTruncated {
		if e.opts.Trust != nil {
			if o, owned := e.owner(p, p.ExePath); owned {
				p.owned, p.md5 = true, o.NeedsMD5()
			}
		}
		path := p.ExePath
		if p.ctr != nil {
			// The path is in the container's mount namespace.
			path = filepath.Join(e.containerRoot(p), p.ExePath)
		}
		p.exeHash = h.Submit(hasher.Request{
			PID: p.PID, StartNs: p.StartNs, Path: path, ID: exeID(p.Exe), WantMD5: p.md5,
			Suspect: e.suspect(p),
		})
	}
	sp := classify.ScriptPath(p.ExePath, p.Args, p.Cwd)
	if sp == "" || p.ctr != nil {
		// A container's script path is in its mount namespace, not ours.
		return
	}
	var st unix.Stat_t
	if unix.Stat(sp, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return // an argument that names no file: not a script after all
	}
	e.stats.Scripts++
	s := &script{path: sp, id: fileid.FromStat(&st)}
	if e.opts.Paths != nil {
		s.classes = e.opts.Paths.Classes(sp, false, false)
	}
	if h := e.opts.Hasher; h != nil {
		md5 := false
		if e.opts.Trust != nil {
			if o, owned := e.opts.Trust.Owner(sp); owned {
				md5 = o.NeedsMD5()
			}
		}
		s.hash = h.Submit(hasher.Request{Path: sp, ID: s.id, WantMD5: md5})
	}
	p.script = s
}

// suspect reports whether p's executable is one the T1587 rule could
// fire on: no package owns it and its path has a class (a user-writable
// place, deleted, memfd). Its hash then has no size cap worth the name and
// goes ahead of package files.
func (e *Enricher) suspect(p *Proc) bool {
	if p.owned {
		return false
	}
	if p.Exe.Memfd || p.Exe.Deleted {
		return true
	}
	return e.inUpper(p) || e.opts.Paths != nil && len(e.opts.Paths.Classes(p.ExePath, p.Exe.Memfd, p.Exe.Deleted)) > 0
}

func exeID(f sensor.File) fileid.ID {
	return fileid.ID{Dev: f.Dev, Ino: f.Ino, Size: f.Size, MtimeNs: f.MtimeNs, CtimeNs: f.CtimeNs}
}

// ancestors lists the table's entries from pid upwards.
func (e *Enricher) ancestors(pid uint32) []event.Ancestor {
	var out []event.Ancestor
	for range e.opts.AncestorDepth {
		if pid == 0 {
			break
		}
		a := event.Ancestor{PID: pid}
		pp, ok := e.procs.Peek(pid)
		if ok {
			a.ExePath = pp.ExePath
			a.Args = pp.Args[:min(len(pp.Args), maxAncestorArgs)]
		} else {
			a.ExePath = procfs.ExePath(e.root, pid)
		}
		out = append(out, a)
		if !ok {
			break
		}
		pid = pp.PPID
	}
	return out
}

func (e *Enricher) fork(v *sensor.Fork) {
	parent := e.lookup(v.PPID, v.ParentStartNs, 0)
	if parent == nil {
		return // the child is looked up in /proc if it ever connects
	}
	child := *parent
	child.PID, child.StartNs, child.coarseStart, child.PPID, child.Source = v.TGID, v.StartNs, false, v.PPID, SourceFork
	child.Ancestors = nil
	e.add(&child)
}

// lookup finds the process that started at startNs, in the table or else
// in /proc.
func (e *Enricher) lookup(pid uint32, startNs, cgroupID uint64) *Proc {
	if p, ok := e.procs.Get(pid); ok && e.sameStart(p, startNs) {
		return p
	}
	e.stats.ProcfsLookups++
	p, err := readProc(e.root, pid, startNs)
	if err != nil {
		e.stats.ProcfsFailures++
		return nil
	}
	p.Ancestors = e.ancestors(p.PPID)
	e.track(p, cgroupID)
	e.add(p)
	return p
}
