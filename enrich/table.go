package enrich

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"

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

	// execID is the kernel's exec count (sensor.Task.ExecID) of the
	// program image Exe describes; haveExecID says it is known: from the
	// exec or fork record, or, for an entry read from /proc, from the
	// first kernel record that agreed with it on the executable.
	execID     uint64
	haveExecID bool
	// relabel is what the process made the kernel name as its executable
	// without an exec (reresolve.go), once seen.
	relabel *event.Relabel
	// connected: the process made a connect record. Such a process is
	// kept a while after it exits (Enricher.exited), for the summary of
	// its folded connects, which the sensor sends after the exit.
	connected bool

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
	// detached: the exe is on a mount in no namespace (sensor.Exec.Detached)
	detached bool
	// usernsBind: the exe's mount is a bind made in a user namespace
	// (sensor.Exec.UsernsBind).
	usernsBind bool
	owned      bool // a package owns the exe's path
	md5        bool // the exe's package records md5
	trust      [2]*event.Trust
	script     *script
	// libs are the files the process mapped executable (library.go);
	// preload the paths its LD_PRELOAD named at exec.
	libs    []*library
	preload []string
}

// script is the file an interpreter process runs.
type script struct {
	path    string
	id      fileid.ID
	classes []string
	hash    *hasher.Future
	trust   *event.Trust
	// ctr is the container the interpreter runs in (nil on the host):
	// path is then in its mount namespace, root the container's root as
	// the sensor reads it, and the script is judged by its packages.
	ctr  *container.Info
	root string
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
	if h := e.opts.Hasher; h != nil && p.HaveExe && p.ExePath != "" {
		path, suspect := p.ExePath, true
		switch {
		case p.ExePathTruncated:
			// Deeper than the kernel walks and not recovered (the
			// process was gone): only /proc/<pid>/exe can reach it.
			path = ""
		default:
			if e.opts.Trust != nil {
				if o, owned := e.owner(p, p.ExePath); owned {
					p.owned, p.md5 = true, o.NeedsMD5()
				}
			}
			suspect = e.suspect(p)
			if p.ctr != nil {
				// The path is in the container's mount namespace.
				path = filepath.Join(e.containerRoot(p), p.ExePath)
			}
		}
		p.exeHash = h.Submit(hasher.Request{
			PID: p.PID, StartNs: p.StartNs, Path: path, ID: exeID(p.Exe), WantMD5: p.md5,
			Suspect: suspect,
		})
	}
	e.noteInterpreter(p)
	sp := classify.ScriptPath(p.ExePath, p.Args, p.Cwd)
	if sp == "" {
		return
	}
	f, st, ok := e.openScript(p, sp)
	if !ok {
		return // an argument that names no file: not a script after all
	}
	e.stats.Scripts++
	s := &script{path: sp, id: fileid.FromStat(&st), ctr: p.ctr}
	if e.opts.Paths != nil {
		s.classes = e.opts.Paths.Classes(sp, false, false)
	}
	hashPath := sp
	if p.ctr != nil {
		// sp is in the container's mount namespace: its package database,
		// its writable layer and (once the process is gone) its root.
		s.root = e.containerRoot(p)
		hashPath = filepath.Join(s.root, sp)
		var fs unix.Statfs_t
		if unix.Fstatfs(int(f.Fd()), &fs) == nil && uint32(fs.Type) == overlayMagic &&
			container.InUpperDir(e.upperDir(p), sp, st.Size) {
			s.classes = append(s.classes, classify.ClassContainerUpper)
		}
	}
	if h := e.opts.Hasher; h != nil {
		md5 := false
		if e.opts.Trust != nil {
			if o, owned := e.owner(p, sp); owned {
				md5 = o.NeedsMD5()
			}
		}
		s.hash = h.Submit(hasher.Request{Path: hashPath, ID: s.id, WantMD5: md5, File: f})
	} else {
		f.Close()
	}
	p.script = s
}

// maxInterpreters bounds the interpreter files told to the kernel (its
// map holds 1,024).
const maxInterpreters = 1024

// noteInterpreter hands p's executable to Options.Interpreter the first
// time an interpreter file runs, so its later execs are read at once.
func (e *Enricher) noteInterpreter(p *Proc) {
	if e.opts.Interpreter == nil || !p.HaveExe || p.Exe.Memfd || !classify.IsInterpreter(p.ExePath) {
		return
	}
	k := [2]uint64{p.Exe.Dev, p.Exe.Ino}
	if e.interps[k] || len(e.interps) >= maxInterpreters {
		return
	}
	if e.interps == nil {
		e.interps = map[[2]uint64]bool{}
	}
	e.interps[k] = true
	e.opts.Interpreter(p.Exe)
}

// openScript opens the script sp that p's interpreter runs, as the
// process sees it: resolved inside the process's own root (openat2
// RESOLVE_IN_ROOT on /proc/<pid>/root, so a container's /app/run.sh is
// the container's file and its absolute symlinks stay inside), while
// the interpreter still runs. The descriptor anchors the script's
// identity and content from here on: a payload that unlinks itself, or
// a benign file renamed over it, later changes neither. Only when the
// process is already gone (or its root unreadable) is sp opened in the
// sensor's own namespace, the best there is. ok is false when sp names
// no regular file.
func (e *Enricher) openScript(p *Proc, sp string) (f *os.File, st unix.Stat_t, ok bool) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	fd := -1
	if p.PID != 0 {
		root := e.root + "/" + strconv.FormatUint(uint64(p.PID), 10) + "/root"
		if rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			fd, err = unix.Openat2(rfd, sp, &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
			if err == unix.ENOSYS {
				fd, _ = unix.Open(root+sp, flags, 0) // before 5.6: the root's absolute symlinks escape it
			}
			unix.Close(rfd)
			if fd >= 0 {
				// The root was the process's if it still runs the start
				// time recorded (a reused pid is another process).
				if stat, err := procfs.ReadStat(e.root, p.PID); err != nil || !stat.SameStart(p.StartNs) {
					unix.Close(fd)
					fd = -1
				} else {
					e.stats.ScriptsInRoot++
				}
			}
		}
	}
	if fd < 0 {
		if p.ctr != nil {
			// Gone: a container's script is only in its root, never at the
			// same path on the host.
			if p.ctr.Root == "" {
				return nil, st, false
			}
			if fd = openInRoot(p.ctr.Root, sp, flags); fd < 0 {
				return nil, st, false
			}
		} else {
			var err error
			if fd, err = unix.Open(sp, flags, 0); err != nil {
				return nil, st, false
			}
		}
	}
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, st, false
	}
	return os.NewFile(uintptr(fd), sp), st, true
}

// openInRoot opens path resolved inside the directory root (openat2
// RESOLVE_IN_ROOT), or returns -1.
func openInRoot(root, path string, flags int) int {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, path, &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err == unix.ENOSYS {
		fd, err = unix.Open(filepath.Join(root, path), flags, 0)
	}
	if err != nil {
		return -1
	}
	return fd
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
	child.execID, child.haveExecID = v.ExecID, true
	child.Ancestors = nil
	child.libs = slices.Clip(parent.libs) // the child has the parent's mappings
	e.add(&child)
}

// lookup finds the process that started at startNs, in the table or else
// in /proc.
func (e *Enricher) lookup(pid uint32, startNs, cgroupID uint64) *Proc {
	if p, ok := e.procs.Get(pid); ok && e.sameStart(p, startNs) {
		return p
	}
	if p, ok := e.exited.Peek(pid); ok && e.sameStart(p, startNs) {
		return p // a fold summary after the exit
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
