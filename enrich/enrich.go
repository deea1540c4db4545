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

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// Where a Proc's details came from.
const (
	SourceExec   = "exec"   // captured in the kernel at exec
	SourceFork   = "fork"   // inherited from the parent at fork
	SourceProcfs = "procfs" // read from /proc after the fact
	SourceKernel = "kernel" // only what the record itself carried
)

// DefaultMaxProcesses bounds the process table.
const DefaultMaxProcesses = 1 << 16

// Proc is one process-table entry.
type Proc struct {
	PID     uint32
	StartNs uint64
	PPID    uint32
	Comm    string

	ExePath          string
	ExePathTruncated bool
	ExeInvokedAs     string
	ExeDeleted       bool // as seen by procfs; kernel records carry their own flags
	Exe              sensor.File
	HaveExe          bool // Exe holds a kernel-captured identity

	Args          []string
	ArgsTruncated bool
	Cwd           string
	CwdTruncated  bool
	Source        string
}

// Options configures an Enricher.
type Options struct {
	Hostname string
	BootID   string
	// MaxProcesses bounds the process table. Default DefaultMaxProcesses.
	MaxProcesses int
	// ProcRoot is where procfs is mounted. Default "/proc".
	ProcRoot string
	Logger   *slog.Logger
}

// Stats counts the Enricher's work.
type Stats struct {
	Processes      int    // entries in the table now
	Evicted        uint64 // entries pushed out by the bound
	ProcfsLookups  uint64 // processes read from /proc
	ProcfsFailures uint64 // processes /proc could not vouch for
}

// Enricher builds argus.v1 records from sensor events.
type Enricher struct {
	host  event.Host
	root  string
	log   *slog.Logger
	procs *simplelru.LRU[uint32, *Proc]
	clock Clock
	stats Stats
	idBuf []byte
	held  map[uint32]interrupted // by thread id
}

// New returns an Enricher.
func New(opts Options) (*Enricher, error) {
	if opts.MaxProcesses <= 0 {
		opts.MaxProcesses = DefaultMaxProcesses
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Enricher{
		host: event.Host{Hostname: opts.Hostname, BootID: opts.BootID},
		root: opts.ProcRoot,
		log:  opts.Logger,
		held: map[uint32]interrupted{},
	}
	procs, err := simplelru.NewLRU[uint32, *Proc](opts.MaxProcesses, func(uint32, *Proc) { e.stats.Evicted++ })
	if err != nil {
		return nil, fmt.Errorf("create process table: %w", err)
	}
	e.procs = procs
	return e, nil
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
func (e *Enricher) Handle(ev sensor.Event, out []*event.Record) []*event.Record {
	switch v := ev.(type) {
	case *sensor.Exec:
		return append(out, e.exec(v))
	case *sensor.Connect:
		return e.connect(v, out)
	case *sensor.Fork:
		e.fork(v)
	case *sensor.Exit:
		if p, ok := e.procs.Peek(v.TGID); ok && p.StartNs == v.StartNs {
			e.procs.Remove(v.TGID)
		}
	}
	return out
}

// InterruptedHold is how long a connect interrupted by a signal is held
// back waiting for the kernel to restart it.
const InterruptedHold = time.Second

// interrupted is a connect record whose call a signal interrupted.
type interrupted struct {
	rec  *event.Record
	fd   uint64
	dst  netip.AddrPort
	seen time.Time
}

// Flush appends to out the interrupted connects that no restarted call
// followed within InterruptedHold of now (all of them if now is zero):
// those went back to the program as EINTR, or are still blocked in a
// restarted call that will report on its own.
func (e *Enricher) Flush(now time.Time, out []*event.Record) []*event.Record {
	for tid, h := range e.held {
		if now.IsZero() || now.Sub(h.seen) >= InterruptedHold {
			out = append(out, h.rec)
			delete(e.held, tid)
		}
	}
	return out
}

func (e *Enricher) exec(v *sensor.Exec) *event.Record {
	p := &Proc{
		PID:              v.TGID,
		StartNs:          v.Task.StartNs,
		PPID:             v.Task.PPID,
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
	e.procs.Add(p.PID, p)
	r := e.newRecord(event.KindProcessLaunch, &v.Header)
	r.Process = e.process(p, &v.Task, v.TID, v.Exe, v.ParentComm)
	return r
}

func (e *Enricher) fork(v *sensor.Fork) {
	parent := e.lookup(v.PPID, v.ParentStartNs)
	if parent == nil {
		return // the child is looked up in /proc if it ever connects
	}
	child := *parent
	child.PID, child.StartNs, child.PPID, child.Source = v.TGID, v.StartNs, v.PPID, SourceFork
	e.procs.Add(child.PID, &child)
}

// connect reports a connect. A call interrupted by a signal ends with a
// kernel restart code and is normally restarted as the same call, which
// brings its own record: the interrupted one is held, keyed by thread, and
// dropped when that restarted call (same fd and destination) reports, so
// one connection gives one record. If the thread's next connect is a
// different one, the interrupted call went back to the program as EINTR and
// its record is emitted first.
func (e *Enricher) connect(v *sensor.Connect, out []*event.Record) []*event.Record {
	rec := e.connectRecord(v)
	h, held := e.held[v.TID]
	if held {
		delete(e.held, v.TID)
		if h.fd != v.FD || h.dst != v.Dst {
			out = append(out, h.rec)
		}
	}
	if sensor.IsRestart(v.Result) {
		e.held[v.TID] = interrupted{rec: rec, fd: v.FD, dst: v.Dst, seen: time.Now()}
		return out
	}
	return append(out, rec)
}

func (e *Enricher) connectRecord(v *sensor.Connect) *event.Record {
	p := e.lookup(v.TGID, v.Task.StartNs)
	if p == nil {
		// Neither the table nor /proc knows it (it exited before its
		// records were read): report what the kernel said, and remember
		// that, so its next connect does not retry /proc.
		p = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel}
		e.procs.Add(p.PID, p)
	}
	r := e.newRecord(event.KindNetworkConnection, &v.Header)
	exe := v.Exe
	// The connect hook does not look at mounts; memfd-ness is fixed at
	// exec and comes from the table.
	exe.Memfd = exe.Memfd || p.Exe.Memfd
	r.Process = e.process(p, &v.Task, v.TID, exe, "")
	r.Network = network(v)
	return r
}

// lookup finds the process that started at startNs, in the table or else
// in /proc.
func (e *Enricher) lookup(pid uint32, startNs uint64) *Proc {
	if p, ok := e.procs.Get(pid); ok && p.StartNs == startNs {
		return p
	}
	e.stats.ProcfsLookups++
	p, err := readProc(e.root, pid, startNs)
	if err != nil {
		e.stats.ProcfsFailures++
		return nil
	}
	e.procs.Add(pid, p)
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
		Exe: event.Exe{
			Path:          p.ExePath,
			PathTruncated: p.ExePathTruncated,
			InvokedAs:     p.ExeInvokedAs,
			Device:        exe.Dev,
			Inode:         exe.Ino,
			Size:          exe.Size,
			MtimeNs:       exe.MtimeNs,
			CtimeNs:       exe.CtimeNs,
			Nlink:         exe.Nlink,
			Mode:          exe.Mode,
			UID:           exe.UID,
			Memfd:         exe.Memfd,
			Deleted:       exe.Deleted,
		},
	}
	if tid != p.PID {
		out.TID = tid
	}
	if t.AUID != 0xffffffff {
		auid := t.AUID
		out.AUID = &auid
	}
	parent := &event.Parent{PID: t.PPID, Comm: parentComm}
	if pp, ok := e.procs.Peek(t.PPID); ok {
		parent.Exe.Path = pp.ExePath
		if parent.Comm == "" {
			parent.Comm = pp.Comm
		}
	} else {
		parent.Exe.Path = readExePath(e.root, t.PPID)
	}
	out.Parent = parent
	return out
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

func network(v *sensor.Connect) *event.Network {
	n := &event.Network{
		Protocol:   protocolName(v.Protocol),
		DstIP:      v.Dst.Addr().String(),
		DstPort:    v.Dst.Port(),
		Result:     ResultName(v.Result),
		ResultCode: v.Result,
		NetNS:      v.NetNS,
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
	return n
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
