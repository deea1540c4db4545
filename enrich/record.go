package enrich

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/sensor"
)

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
		execID:           v.Task.ExecID,
		haveExecID:       true,
	}
	if v.PathTruncated {
		if full, ok := e.wholeExePath(v); ok {
			p.ExePath, p.ExePathTruncated = full, false
			e.stats.PathsRecovered++
		}
	}
	p.detached, p.usernsBind = v.Detached, v.UsernsBind
	p.Ancestors = e.ancestors(p.PPID)
	e.track(p, v.Task.CgroupID)
	e.add(p)
	r := e.newRecord(event.KindProcessLaunch, &v.Header)
	r.Process = e.process(p, &v.Task, v.TID, v.Exe, v.ParentComm)
	r.Process.Ancestors = p.Ancestors
	r.Process.LoaderEnv, p.preload = e.loaderEnv(v.LoaderEnv)
	r.Process.LoaderEnvTruncated = v.LoaderEnvTruncated
	return Item{Rec: r, proc: p}
}

func (e *Enricher) connectItem(v *sensor.Connect) Item {
	p := e.lookup(v.TGID, v.Task.StartNs, v.Task.CgroupID)
	if p == nil {
		// Neither the table nor /proc knows it (it exited before its
		// records were read): report what the kernel said, and remember
		// that, so its next connect does not retry /proc.
		p = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel}
		e.add(p)
	}
	p, relabel := e.reresolve(p, v)
	p.connected = true
	r := e.newRecord(event.KindNetworkConnection, &v.Header)
	exe := v.Exe
	if relabel != nil {
		// The code running is the executed file's: the record is about
		// that file, and says what the process had it called instead.
		exe = p.Exe
	}
	// The connect hook does not look at mounts; memfd-ness is fixed at
	// exec and comes from the table.
	exe.Memfd = exe.Memfd || p.Exe.Memfd
	r.Process = e.process(p, &v.Task, v.TID, exe, "")
	r.Process.ExeRelabeled = relabel
	r.Process.CodeOrigin = e.codeOrigin(v)
	r.Network = e.network(v)
	r.Network.DstHostname = e.dstHostname(v)
	return Item{Rec: r, proc: p}
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
	if c := p.ctr; c != nil {
		out.Container, out.K8s = c.Container, c.K8s
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
		FSType:        classify.FSType(f.FSMagic),
	}
	if e.opts.Paths != nil && x.Path != "" && !x.PathTruncated {
		x.PathClasses = classify.WithFS(e.exeClasses(p, x.Memfd, x.Deleted), x.FSType)
		if p.detached {
			x.PathClasses = append(slices.Clip(x.PathClasses), classify.ClassDetached)
		}
		// A system path bound from elsewhere inside a user namespace is
		// not the system file it names. (Binds elsewhere, flatpak's /app
		// or a rootless container's volumes, do not pretend to be one.)
		if p.usernsBind && e.opts.Paths.IsSystem(x.Path) {
			x.PathClasses = append(slices.Clip(x.PathClasses), classify.ClassUsernsBind)
		}
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
		if !memfd && !deleted && e.inUpper(p) {
			c = append(c, classify.ClassContainerUpper)
		}
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
		parent.Exe.Path = procfs.ExePath(e.root, ppid)
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
	if v.Folded > 0 {
		n.Count = v.Folded
		n.FirstSeen = e.clock.Wall(v.FoldFirstNs)
		n.LastSeen = e.clock.Wall(v.FoldLastNs)
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

// wholeExePath recovers the path of an executable deeper than the kernel
// walks (sensor.TruncatedPrefix + its last components) from
// /proc/<pid>/exe, while the process still runs it: the link must end in
// the components the kernel recorded and name the inode it recorded. An
// implant buried 70 directories down under /tmp keeps its path, and so
// its tmp class and its hash request.
func (e *Enricher) wholeExePath(v *sensor.Exec) (string, bool) {
	tail, ok := strings.CutPrefix(v.Path, sensor.TruncatedPrefix)
	if !ok || tail == "" {
		return "", false
	}
	dir := e.root + "/" + strconv.FormatUint(uint64(v.TGID), 10)
	full := procfs.ExePath(e.root, v.TGID)
	var st unix.Stat_t
	if full == "" || !strings.HasSuffix(full, tail) || unix.Stat(dir+"/exe", &st) != nil || st.Ino != v.Exe.Ino {
		return "", false
	}
	if stat, err := procfs.ReadStat(e.root, v.TGID); err != nil || !stat.SameStart(v.Task.StartNs) {
		return "", false
	}
	return full, true
}
