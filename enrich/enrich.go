package enrich

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// Where a Proc's details came from.
const (
	SourceExec   = "exec"   // captured in the kernel at exec
	SourceFork   = "fork"   // inherited from the parent at fork
	SourceProcfs = "procfs" // read from /proc after the fact
	SourceKernel = "kernel" // only what the record itself carried
)

// Defaults.
const (
	DefaultMaxProcesses  = 1 << 16
	DefaultAncestorDepth = 8
	// maxAncestorArgs bounds the argv kept per ancestor.
	maxAncestorArgs = 8
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

// Item is a record on its way out, with the process entry whose hashes it
// waits for.
type Item struct {
	Rec  *event.Record
	proc *Proc
}

// Options configures an Enricher.
type Options struct {
	Hostname string
	BootID   string
	// MaxProcesses bounds the process table. Default DefaultMaxProcesses.
	MaxProcesses int
	// AncestorDepth is how many ancestors a launch record lists.
	AncestorDepth int
	// ProcRoot is where procfs is mounted. Default "/proc".
	ProcRoot string
	// Hasher, Trust, Paths and Networks are optional: without one, the
	// fields it provides are left out.
	Hasher   *hasher.Hasher
	Trust    *signature.Checker
	Paths    *classify.Paths
	Networks *classify.Networks
	Logger   *slog.Logger
}

// Stats counts the Enricher's work.
type Stats struct {
	Processes      int    // entries in the table now
	Evicted        uint64 // entries pushed out by the bound
	ProcfsLookups  uint64 // processes read from /proc
	ProcfsFailures uint64 // processes /proc could not vouch for
	Scripts        uint64 // interpreter scripts identified
}

// Enricher builds argus.v1 records from sensor events. It is used from
// one goroutine.
type Enricher struct {
	opts  Options
	host  event.Host
	root  string
	log   *slog.Logger
	procs *simplelru.LRU[uint32, *Proc]
	clock Clock
	stats Stats
	idBuf []byte
	held  map[uint32]interrupted // by thread id
	// pathsGen counts SetPaths calls, so classes cached on table entries
	// are recomputed after a reload.
	pathsGen uint64
}

// New returns an Enricher.
func New(opts Options) (*Enricher, error) {
	if opts.MaxProcesses <= 0 {
		opts.MaxProcesses = DefaultMaxProcesses
	}
	if opts.AncestorDepth <= 0 {
		opts.AncestorDepth = DefaultAncestorDepth
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Enricher{
		opts: opts,
		host: event.Host{Hostname: opts.Hostname, BootID: opts.BootID},
		root: opts.ProcRoot,
		log:  opts.Logger,
		held: map[uint32]interrupted{},
	}
	procs, err := simplelru.NewLRU[uint32, *Proc](opts.MaxProcesses, nil)
	if err != nil {
		return nil, fmt.Errorf("create process table: %w", err)
	}
	e.procs = procs
	return e, nil
}

// SetPaths replaces the path classifier (a configuration reload).
func (e *Enricher) SetPaths(p *classify.Paths) {
	e.opts.Paths = p
	e.pathsGen++
}

// Stats returns the Enricher's counters.
func (e *Enricher) Stats() Stats {
	s := e.stats
	s.Processes = e.procs.Len()
	return s
}

// Host is the host block every record carries.
func (e *Enricher) Host() event.Host { return e.host }

// Handle updates the process table from ev and appends the records to
// emit to out: none for events that only feed the table (fork, exit), and
// sometimes two for a connect (see Flush).
func (e *Enricher) Handle(ev sensor.Event, out []Item) []Item {
	switch v := ev.(type) {
	case *sensor.Exec:
		return append(out, e.exec(v))
	case *sensor.Connect:
		return e.connect(v, out)
	case *sensor.Fork:
		e.fork(v)
	case *sensor.Exit:
		if p, ok := e.procs.Peek(v.TGID); ok && e.sameStart(p, v.StartNs) {
			e.procs.Remove(v.TGID)
		}
	}
	return out
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

func (e *Enricher) exec(v *sensor.Exec) Item {
	p := &Proc{
		PID:              v.TGID,
		StartNs:          v.Task.StartNs,
		PPID:             v.Task.PPID,
		UID:              v.Task.UID,
		GID:              v.Task.GID,
		Comm:             v.Task.Comm,
		ExePath:          v.Path,
		ExePathTruncated: v.PathTruncated,
		ExeInvokedAs:     v.Filename,
		Exe:              v.Exe,
		HaveExe:          true,
		Args:             v.Args,
		ArgsTruncated:    v.ArgsTruncated || v.ArgsUnreadable,
		Cwd:              v.Cwd,
		CwdTruncated:     v.CwdTruncated,
		Source:           SourceExec,
	}
	p.Ancestors = e.ancestors(p.PPID)
	e.track(p)
	e.add(p)
	r := e.newRecord(event.KindProcessLaunch, &v.Header)
	r.Process = e.process(p, &v.Task, v.TID, v.Exe, v.ParentComm)
	r.Process.Ancestors = p.Ancestors
	return Item{Rec: r, proc: p}
}

// track starts what a new table entry needs: the exe's hash, and the
// script's if the process is an interpreter running one.
func (e *Enricher) track(p *Proc) {
	if h := e.opts.Hasher; h != nil && p.HaveExe && p.ExePath != "" && !p.ExePathTruncated {
		if e.opts.Trust != nil {
			if o, owned := e.opts.Trust.Owner(p.ExePath); owned {
				p.owned, p.md5 = true, o.NeedsMD5()
			}
		}
		p.exeHash = h.Submit(hasher.Request{
			PID: p.PID, StartNs: p.StartNs, Path: p.ExePath, ID: exeID(p.Exe), WantMD5: p.md5,
		})
	}
	sp := classify.ScriptPath(p.ExePath, p.Args, p.Cwd)
	if sp == "" {
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
			a.ExePath = readExePath(e.root, pid)
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
	parent := e.lookup(v.PPID, v.ParentStartNs)
	if parent == nil {
		return // the child is looked up in /proc if it ever connects
	}
	child := *parent
	child.PID, child.StartNs, child.coarseStart, child.PPID, child.Source = v.TGID, v.StartNs, false, v.PPID, SourceFork
	child.Ancestors = nil
	e.add(&child)
}

// InterruptedHold is how long a connect interrupted by a signal is held
// back waiting for the kernel to restart it.
const InterruptedHold = time.Second

// interrupted is a connect record whose call a signal interrupted.
type interrupted struct {
	item Item
	fd   uint64
	dst  netip.AddrPort
	seen time.Time
}

// Flush appends to out the interrupted connects that no restarted call
// followed within InterruptedHold of now (all of them if now is zero):
// those went back to the program as EINTR, or are still blocked in a
// restarted call that will report on its own.
func (e *Enricher) Flush(now time.Time, out []Item) []Item {
	for tid, h := range e.held {
		if now.IsZero() || now.Sub(h.seen) >= InterruptedHold {
			out = append(out, h.item)
			delete(e.held, tid)
		}
	}
	return out
}

// connect reports a connect. A call interrupted by a signal ends with a
// kernel restart code and is normally restarted as the same call, which
// brings its own record: the interrupted one is held, keyed by thread, and
// dropped when that restarted call (same fd and destination) reports, so
// one connection gives one record. If the thread's next connect is a
// different one, the interrupted call went back to the program as EINTR and
// its record is emitted first.
func (e *Enricher) connect(v *sensor.Connect, out []Item) []Item {
	it := e.connectItem(v)
	h, held := e.held[v.TID]
	if held {
		delete(e.held, v.TID)
		if h.fd != v.FD || h.dst != v.Dst {
			out = append(out, h.item)
		}
	}
	if sensor.IsRestart(v.Result) {
		e.held[v.TID] = interrupted{item: it, fd: v.FD, dst: v.Dst, seen: time.Now()}
		return out
	}
	return append(out, it)
}

func (e *Enricher) connectItem(v *sensor.Connect) Item {
	p := e.lookup(v.TGID, v.Task.StartNs)
	if p == nil {
		// Neither the table nor /proc knows it (it exited before its
		// records were read): report what the kernel said, and remember
		// that, so its next connect does not retry /proc.
		p = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel}
		e.add(p)
	}
	r := e.newRecord(event.KindNetworkConnection, &v.Header)
	exe := v.Exe
	// The connect hook does not look at mounts; memfd-ness is fixed at
	// exec and comes from the table.
	exe.Memfd = exe.Memfd || p.Exe.Memfd
	r.Process = e.process(p, &v.Task, v.TID, exe, "")
	r.Network = e.network(v)
	return Item{Rec: r, proc: p}
}

// lookup finds the process that started at startNs, in the table or else
// in /proc.
func (e *Enricher) lookup(pid uint32, startNs uint64) *Proc {
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
	e.track(p)
	e.add(p)
	return p
}

// process builds the record's process object. t and exe are what the
// kernel reported with this record; p supplies path, argv and cwd.
func (e *Enricher) process(p *Proc, t *sensor.Task, tid uint32, exe sensor.File, parentComm string) *event.Process {
	out := &event.Process{
		PID:           p.PID,
		PPID:          t.PPID,
		UID:           t.UID,
		GID:           t.GID,
		EUID:          t.EUID,
		EGID:          t.EGID,
		StartTimeNs:   t.StartNs,
		Comm:          t.Comm,
		Args:          p.Args,
		ArgsTruncated: p.ArgsTruncated,
		Cwd:           p.Cwd,
		CwdTruncated:  p.CwdTruncated,
		CgroupID:      t.CgroupID,
		Source:        p.Source,
		Exe:           e.exe(p, exe),
	}
	if tid != p.PID {
		out.TID = tid
	}
	if t.AUID != 0xffffffff {
		auid := t.AUID
		out.AUID = &auid
	}
	out.Parent = e.parent(t.PPID, parentComm)
	return out
}

func (e *Enricher) exe(p *Proc, f sensor.File) event.Exe {
	x := event.Exe{
		Path:          p.ExePath,
		PathTruncated: p.ExePathTruncated,
		InvokedAs:     p.ExeInvokedAs,
		Device:        f.Dev,
		Inode:         f.Ino,
		Size:          f.Size,
		MtimeNs:       f.MtimeNs,
		CtimeNs:       f.CtimeNs,
		Nlink:         f.Nlink,
		Mode:          f.Mode,
		UID:           f.UID,
		Memfd:         f.Memfd,
		Deleted:       f.Deleted,
	}
	if e.opts.Paths != nil && x.Path != "" && !x.PathTruncated {
		x.PathClasses = e.exeClasses(p, x.Memfd, x.Deleted)
	}
	return x
}

// exeClasses returns the path classes of p's executable, computed once per
// process and flag combination: every record of a process shares them.
func (e *Enricher) exeClasses(p *Proc, memfd, deleted bool) []string {
	if p.classesGen != e.pathsGen+1 {
		p.classes, p.classesGen = [4][]string{}, e.pathsGen+1
	}
	i := 0
	if memfd {
		i |= 2
	}
	if deleted {
		i |= 1
	}
	if p.classes[i] == nil {
		c := e.opts.Paths.Classes(p.ExePath, memfd, deleted)
		if c == nil {
			c = []string{} // computed: none
		}
		p.classes[i] = c
	}
	if len(p.classes[i]) == 0 {
		return nil
	}
	return p.classes[i]
}

func (e *Enricher) parent(ppid uint32, comm string) *event.Parent {
	parent := &event.Parent{PID: ppid, Comm: comm}
	if pp, ok := e.procs.Peek(ppid); ok {
		parent.Exe.Path = pp.ExePath
		if parent.Comm == "" {
			parent.Comm = pp.Comm
		}
	} else {
		parent.Exe.Path = readExePath(e.root, ppid)
	}
	return parent
}

func (e *Enricher) newRecord(kind event.Kind, h *sensor.Header) *event.Record {
	return &event.Record{
		Schema: event.Schema,
		ID:     e.recordID(h),
		Kind:   kind,
		Time:   e.clock.Wall(h.BootNs),
		Host:   e.host,
	}
}

// recordID names a kernel record uniquely and reproducibly: boot, the
// record's CLOCK_BOOTTIME stamp, thread and kind. A redelivered copy of a
// record carries the same id.
func (e *Enricher) recordID(h *sensor.Header) string {
	b := e.idBuf[:0]
	boot := e.host.BootID
	if len(boot) > 8 {
		boot = boot[:8]
	}
	b = append(b, boot...)
	b = append(b, '-')
	b = strconv.AppendUint(b, h.BootNs, 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(h.TID), 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(h.Kind), 10)
	e.idBuf = b
	return string(b)
}

func (e *Enricher) network(v *sensor.Connect) *event.Network {
	n := &event.Network{
		Protocol:   protocolName(v.Protocol),
		DstIP:      v.Dst.Addr().String(),
		DstPort:    v.Dst.Port(),
		Result:     ResultName(v.Result),
		ResultCode: v.Result,
		NetNS:      v.NetNS,
		Via:        ViaName(v),
	}
	if v.Submitted {
		n.Result = ResultSubmitted
	}
	if v.Family == unix.AF_INET6 {
		n.Family = "ipv6"
	} else {
		n.Family = "ipv4"
	}
	if v.Src.IsValid() && v.Src != (netip.AddrPort{}) {
		n.SrcIP = v.Src.Addr().String()
		n.SrcPort = v.Src.Port()
	}
	if e.opts.Networks != nil {
		ext := e.opts.Networks.External(v.Dst.Addr())
		n.External = &ext
	}
	return n
}

// Finalize fills the record's digests and trust from its process's hash
// results. A hash not ready yet is left as hash_status "pending" and
// Finalize returns true: call FollowUp once Wait's channel closes.
func (e *Enricher) Finalize(it Item) (pending bool) {
	p, proc := it.proc, it.Rec.Process
	if p == nil || proc == nil {
		return false
	}
	exe := &proc.Exe
	switch {
	case p.exeHash != nil:
		res, ok := p.exeHash.Result()
		if !ok {
			exe.HashStatus = string(hasher.StatusPending)
			pending = true
			break
		}
		exe.SHA256, exe.HashStatus = res.SHA256, string(res.Status)
		exe.Trust = e.exeTrust(p, exe, res)
	case p.Source == SourceKernel:
		exe.HashStatus = string(hasher.StatusGone) // exited before it could be read
	}
	if s := p.script; s != nil {
		out := &event.Script{Path: s.path, PathClasses: s.classes}
		if s.hash != nil {
			res, ok := s.hash.Result()
			if ok {
				out.SHA256, out.HashStatus = res.SHA256, string(res.Status)
				out.Trust = e.scriptTrust(s, res)
			} else {
				out.HashStatus = string(hasher.StatusPending)
				pending = true
			}
		}
		proc.Script = out
	}
	return pending
}

// Wait returns a channel that closes when the item's pending hashes are
// known, or nil if none is pending.
func (e *Enricher) Wait(it Item) <-chan struct{} {
	p := it.proc
	if p == nil {
		return nil
	}
	if p.exeHash != nil {
		if _, ok := p.exeHash.Result(); !ok {
			return p.exeHash.Done()
		}
	}
	if p.script != nil && p.script.hash != nil {
		if _, ok := p.script.hash.Result(); !ok {
			return p.script.hash.Done()
		}
	}
	return nil
}

// FollowUp completes a record that went out with a pending hash: it fills
// it.Rec in place (so the detection rules can see the digest), and for a
// process_launch returns the hash_update record that carries the hash to
// the output. Connections sent while pending need no record of their own:
// the launch's hash_update names the same process.
func (e *Enricher) FollowUp(it Item) *event.Record {
	e.Finalize(it)
	r := it.Rec
	if r.Kind != event.KindProcessLaunch {
		return nil
	}
	return &event.Record{
		Schema: event.Schema,
		ID:     r.ID + "-hash",
		Kind:   event.KindHashUpdate,
		Time:   time.Now().UTC(),
		Host:   r.Host,
		RefID:  r.ID,
		Process: &event.Process{
			PID:         r.Process.PID,
			PPID:        r.Process.PPID,
			UID:         r.Process.UID,
			GID:         r.Process.GID,
			EUID:        r.Process.EUID,
			EGID:        r.Process.EGID,
			StartTimeNs: r.Process.StartTimeNs,
			Comm:        r.Process.Comm,
			Args:        r.Process.Args,
			Cwd:         r.Process.Cwd,
			Exe:         r.Process.Exe,
			Script:      r.Process.Script,
			Parent:      r.Process.Parent,
			Ancestors:   r.Process.Ancestors,
			Source:      r.Process.Source,
		},
	}
}

func (e *Enricher) exeTrust(p *Proc, exe *event.Exe, res hasher.Result) *event.Trust {
	c := e.opts.Trust
	if c == nil {
		return nil
	}
	slot := 0
	if exe.Deleted {
		slot = 1
	}
	if t := p.trust[slot]; t != nil {
		return t
	}
	// Where the IMA signature is read. A package-owned file is judged by
	// its database record and its xattr rarely matters; for any other,
	// read through the process while it still runs the very inode: a
	// binary that unlinked or replaced itself after starting is gone from
	// its path but not from /proc/<pid>/exe.
	in := signature.Input{
		Path: exe.Path, XattrPath: exe.Path, ID: exeID(p.Exe), SHA256: res.SHA256, MD5: res.MD5,
		HashStatus: hashStatusReason(res), Memfd: exe.Memfd, Deleted: exe.Deleted,
	}
	procExe := e.root + "/" + strconv.FormatUint(uint64(p.PID), 10) + "/exe"
	if exe.Deleted || exe.Memfd {
		in.XattrPath = procExe
	} else if !p.owned {
		// The checker stats it only when the verdict is not cached.
		in.ProcExe = procExe
	}
	v := c.Verdict(in)
	t := &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	p.trust[slot] = t
	return t
}

func (e *Enricher) scriptTrust(s *script, res hasher.Result) *event.Trust {
	c := e.opts.Trust
	if c == nil {
		return nil
	}
	if s.trust == nil {
		v := c.Verdict(signature.Input{
			Path: s.path, XattrPath: s.path, ID: s.id, SHA256: res.SHA256, MD5: res.MD5, HashStatus: hashStatusReason(res),
		})
		s.trust = &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	}
	return s.trust
}

// hashStatusReason is the hasher's status with its error, for the trust
// verdict's reason.
func hashStatusReason(res hasher.Result) string {
	if res.Status == "" {
		return ""
	}
	if res.Err != nil {
		return string(res.Status) + ": " + res.Err.Error()
	}
	return string(res.Status)
}

func protocolName(p uint16) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_ICMPV6:
		return "icmpv6"
	case unix.IPPROTO_SCTP:
		return "sctp"
	case unix.IPPROTO_MPTCP:
		return "mptcp"
	case unix.IPPROTO_UDPLITE:
		return "udplite"
	}
	return strconv.Itoa(int(p))
}

// ResultSubmitted is the result of a connection the socket address hooks
// saw being made, whose outcome the sensor cannot know.
const ResultSubmitted = "submitted"

// ViaName names how a connection was made: the operation, prefixed
// "io_uring_" or "kernel_" and suffixed "32" as the record says.
func ViaName(v *sensor.Connect) string {
	s := v.Via.String()
	if v.IOUring {
		s = "io_uring_" + s
	} else if v.KernelThread {
		s = "kernel_" + s
	}
	if v.Compat {
		s += "32"
	}
	return s
}

// ResultName names a connect(2) return value: "success", "EINPROGRESS",
// "interrupted" for a kernel restart code, or the errno's name.
func ResultName(ret int32) string {
	if ret == 0 {
		return "success"
	}
	if sensor.IsRestart(ret) {
		return "interrupted"
	}
	if ret < 0 {
		if name := unix.ErrnoName(syscall.Errno(-ret)); name != "" {
			return name
		}
	}
	return "errno_" + strconv.Itoa(int(-ret))
}

// Clock converts CLOCK_BOOTTIME stamps to wall time. The offset between
// the two clocks changes when the wall clock is stepped, so it is
// re-sampled at most once a second.
type Clock struct {
	offset  int64 // realtime - boottime, ns
	sampled time.Time
}

// Wall returns the wall time of a CLOCK_BOOTTIME stamp.
func (c *Clock) Wall(bootNs uint64) time.Time {
	now := time.Now()
	if now.Sub(c.sampled) > time.Second || c.sampled.IsZero() {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err == nil {
			c.offset = time.Now().UnixNano() - ts.Nano()
			c.sampled = now
		}
	}
	return time.Unix(0, int64(bootNs)+c.offset).UTC()
}

// BootID reads the kernel's boot id, or "" if it cannot.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
