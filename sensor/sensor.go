package sensor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Options configures a Sensor. The zero value is usable: every field has a
// default.
type Options struct {
	// RingBytes is the ring buffer size, a power of two multiple of the
	// page size. Default [DefaultRingBytes]: 2 MiB per online CPU, within
	// 4-64 MiB.
	RingBytes int
	// WakeupBytes is how much queued data makes a producer wake the reader
	// instead of waiting for the next poll. Default RingBytes/4.
	WakeupBytes int
	// PollInterval is how long records gather in the ring after a drain
	// before the reader reads again: the first record into an empty ring
	// wakes the reader, which reads once the interval since its last
	// drain has passed (sooner if WakeupBytes are queued). It bounds how
	// stale a record can be when read, and sets how many wakeups a busy
	// host costs. Default 25ms.
	PollInterval time.Duration
	// QueueLen is the capacity of the Events channel. Default 65536.
	QueueLen int
	// QueueBytes, when set, also bounds the Events channel by size: the
	// records waiting in it, each counted as its ring record plus
	// EventOverhead, until the consumer hands it to Release. A record
	// that would pass the bound is dropped and counted, like one that
	// finds the channel full. 0: no size bound (a consumer that never
	// calls Release).
	QueueBytes int64
	// Logger receives load and runtime diagnostics. Default slog.Default().
	Logger *slog.Logger
	// LegacyConnect forces the connect hooks for kernels before 5.15
	// (entry/exit pair with a per-thread stash) even where the single
	// exit program would load. Tests use it to cover both.
	LegacyConnect bool
	// CgroupRoot is the cgroup v2 hierarchy whose root the socket address
	// hooks attach to. Default: the first cgroup2 mount in /proc/mounts.
	// "-" leaves the socket address hooks and the DNS response hook out.
	CgroupRoot string
	// LoaderEnv names the environment variables whose values each exec
	// record carries (Exec.LoaderEnv), read in the kernel from the new
	// image's environment; the rest of the environment is never read
	// out. At most 8 names of at most 31 bytes. Nil means
	// DefaultLoaderEnv; an empty, non-nil slice captures none.
	LoaderEnv []string
	// NoLibraries leaves out the library hooks (executable file mappings,
	// bpf/mmap.bpf.c): no Library records.
	NoLibraries bool
	// DNS configures the DNS response hook.
	DNS DNSOptions
	// FoldInterval folds repeated connects: an attempt identical to one
	// reported less than FoldInterval before (same process, address
	// space, network namespace, destination, protocol and result) is
	// counted in the kernel instead of sent, and once the interval has
	// passed the count comes out as one summary record (Connect.Folded).
	// The first attempt is always sent at once. 0 reports every attempt.
	FoldInterval time.Duration
}

// DNSOptions configures the DNS response hook (bpf/dns.bpf.c), which copies
// DNS responses delivered to any socket on the host into the ring.
type DNSOptions struct {
	// Off leaves the hook out: no DNS responses are read.
	Off bool
	// Rate bounds the responses copied per second, over the whole host
	// (the refill of an in-kernel token bucket); the rest are counted in
	// Stats.DNSRateLimited. 0 means DefaultDNSRate; negative, no limit.
	Rate float64
	// Burst is how many responses may be copied at once before the rate
	// applies. 0 means DefaultDNSBurst.
	Burst int
}

// Defaults for DNSOptions.
const (
	DefaultDNSRate  = 1000
	DefaultDNSBurst = 2000
)

// ErrDNSOff is why the DNS response hook is not loaded when DNSOptions.Off
// is set.
var ErrDNSOff = errors.New("DNS response hook turned off in the configuration")

// DefaultLoaderEnv are the dynamic loader's variables that make a program
// run code it did not ask for: libraries to preload, where to look for
// libraries first, and audit modules the loader calls into.
var DefaultLoaderEnv = []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}

// loaderNames encodes names for the exec program's loader_names: each
// "NAME=" as little-endian words with a mask of the bytes that count.
func loaderNames(names []string) (uint32, [loaderNamesMax]execLoaderName, error) {
	var out [loaderNamesMax]execLoaderName
	if len(names) > loaderNamesMax {
		return 0, out, fmt.Errorf("loader environment: %d names, at most %d", len(names), loaderNamesMax)
	}
	for i, n := range names {
		if n == "" || strings.ContainsAny(n, "=\x00") || len(n)+1 > 8*len(out[i].Word) {
			return 0, out, fmt.Errorf("loader environment name %q: want 1 to %d bytes without '=' or NUL", n, 8*len(out[i].Word)-1)
		}
		var b, m [32]byte
		copy(b[:], n+"=")
		for j := range len(n) + 1 {
			m[j] = 0xff
		}
		for w := range out[i].Word {
			out[i].Word[w] = binary.LittleEndian.Uint64(b[8*w:])
			out[i].Mask[w] = binary.LittleEndian.Uint64(m[8*w:])
		}
	}
	return uint32(len(names)), out, nil
}

// CheckLoaderEnv reports whether names can be Options.LoaderEnv.
func CheckLoaderEnv(names []string) error {
	_, _, err := loaderNames(names)
	return err
}

// loaderNamesMax is LOADER_NAMES_MAX in bpf/include/events.h.
const loaderNamesMax = 8

// DefaultRingBytes is the default ring size: 2 MiB per online CPU (every
// CPU produces into the one ring), rounded up to a power of two and kept
// within 4-64 MiB. Online, not possible, CPUs: some hypervisors report
// hundreds of hot-pluggable CPUs a small VM will never have. The reader's
// process maps the ring's pages twice, so its resident size grows by twice
// this.
func DefaultRingBytes() int {
	n := onlineCPUs()
	size := 4 << 20
	for size < n*(2<<20) && size < 64<<20 {
		size <<= 1
	}
	return size
}

// onlineCPUs counts the CPUs in /sys/devices/system/cpu/online ("0-3,6"),
// or returns runtime.NumCPU when that cannot be read.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n, ok := countCPUList(strings.TrimSpace(string(b)))
	if !ok || n < 1 {
		return runtime.NumCPU()
	}
	return n
}

// countCPUList counts the CPUs in a kernel cpu list such as "0-3,6,8-9".
func countCPUList(s string) (int, bool) {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, false
			}
		}
		n += b - a + 1
	}
	return n, true
}

// Defaults for Options.
const (
	DefaultPollInterval = 25 * time.Millisecond
	DefaultQueueLen     = 1 << 16
	// DefaultQueueBytes is the size bound a daemon gives the Events
	// channel (Options.QueueBytes).
	DefaultQueueBytes = 64 << 20
)

func (o *Options) setDefaults() error {
	if o.RingBytes == 0 {
		o.RingBytes = DefaultRingBytes()
	}
	page := os.Getpagesize()
	if o.RingBytes < page || o.RingBytes&(o.RingBytes-1) != 0 {
		return fmt.Errorf("ring buffer size %d: must be a power of two and at least %d", o.RingBytes, page)
	}
	if o.WakeupBytes == 0 {
		o.WakeupBytes = o.RingBytes / 4
	}
	if o.WakeupBytes <= 0 || o.WakeupBytes > o.RingBytes {
		return fmt.Errorf("wakeup threshold %d: must be between 1 and the ring size %d", o.WakeupBytes, o.RingBytes)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.FoldInterval < 0 || (o.FoldInterval > 0 && o.FoldInterval < time.Millisecond) {
		// An entry must outlive the drain that reads its record
		// (flushFolds).
		return fmt.Errorf("connect fold interval %v: must be 0 (off) or at least 1ms", o.FoldInterval)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DNS.Rate == 0 {
		o.DNS.Rate = DefaultDNSRate
	}
	if o.DNS.Burst <= 0 {
		o.DNS.Burst = DefaultDNSBurst
	}
	if o.LoaderEnv == nil {
		o.LoaderEnv = DefaultLoaderEnv
	}
	if _, _, err := loaderNames(o.LoaderEnv); err != nil {
		return err
	}
	return nil
}

// dnsBucket returns the token bucket's constants: the credit one response
// costs and the most the bucket holds, in nanoseconds; cost 0 means no
// limit.
func (o *DNSOptions) dnsBucket() (cost, burst uint64) {
	if o.Rate < 0 {
		return 0, 0
	}
	// At least 1 ns a response; at most 1000 s (a rate of 0.001/s), so
	// burst * cost stays far from overflowing.
	c := min(max(1e9/o.Rate, 1), 1e12)
	cost = uint64(c)
	return cost, cost * uint64(o.Burst)
}

// Hook is one attach point and whether it is live.
type Hook struct {
	Name     string // what it captures, e.g. "exec"
	Attach   string // where, e.g. "tp_btf/sched_process_exec"
	Attached bool
	Err      error // why it is not attached
	// Optional hooks widen what is seen (the socket address hooks); the
	// sensor runs without them, reporting why each is missing.
	Optional bool
}

// Sensor owns the loaded BPF objects, their links and the ring reader.
type Sensor struct {
	opts Options
	log  *slog.Logger

	exec          execObjects
	lifecycle     lifecycleObjects
	connect       connectObjects
	connectLegacy connectlegacyObjects
	legacy        bool // connectLegacy is loaded instead of connect
	fold          folder

	sockaddr       sockaddrObjects
	sockaddrLegacy sockaddrlegacyObjects
	sockaddrErr    error  // why the socket address hooks are not loaded
	sockaddrMode   string // "", "regs" or "stash": how a 64-bit connect(2) is told apart
	cgroupRoot     string

	dns         dnsObjects
	dnsErr      error // why the DNS response hook is not loaded
	libs        libraryObjects
	libMprotect *ebpf.Program // nil where bpf_find_vma is missing
	libErr      error         // why the library hooks are not loaded
	mprotectErr error         // why the mprotect hook is not loaded

	linkMu sync.Mutex
	links  []link.Link
	hooks  []Hook

	reader *ringbuf.Reader
	waiter *ringWaiter // nil: the reader blocks in its own epoll_wait
	out    chan Event

	read         [KindCgroup + 1]atomic.Uint64
	dropped      atomic.Uint64
	urgentSeen   uint64        // urgent_execs when the last drain began (reader only)
	droppedBytes atomic.Uint64 // of dropped: for QueueBytes
	droppedShare atomic.Uint64 // of dropped: shed from a process over its share
	droppedTrust atomic.Uint64 // of dropped: a trusted program's connects shed first
	queuedBytes  atomic.Int64
	// shares counts the connect records queued per process (by a seeded
	// hash of the tgid), for shedding a flood (see queue).
	shares    [shareSlots]atomic.Int32
	shareSeed uint32
	// codeOriginErr says why connect records do not say where the
	// calling code lives (Connect.Code); nil when they do.
	codeOriginErr error
	// trustedExes are the executables userspace judged trusted (TrustExe);
	// sheddable the processes, by tgid, that exec'd one with nothing
	// loaded beside it: the reader's own, no lock (see shedTrusted).
	trustMu      sync.RWMutex
	trustedExes  map[fileKey]int64 // ctime_ns
	sheddable    map[uint32]procImage
	decodeErrors atomic.Uint64
	lastDecodeMu sync.Mutex
	lastDecode   error
	draining     atomic.Bool
	lastRead     atomic.Int64 // unix ns the reader last emptied the ring or made progress
}

// New loads the BPF programs, attaches every hook and opens the ring reader.
// It fails, having released everything, if any required hook cannot be
// attached: a sensor that silently misses a hook family is worse than one
// that does not start. The optional socket address hooks (Hook.Optional)
// are the exception: where they cannot load or attach (no cgroup v2, an
// old kernel) the sensor runs without them and Hooks says why.
func New(opts Options) (*Sensor, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := supported(); err != nil {
		return nil, err
	}
	if _, err := EnsureMounts(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise memlock rlimit: %w", err)
	}

	s := &Sensor{opts: opts, log: opts.Logger, out: make(chan Event, opts.QueueLen), shareSeed: rand.Uint32()}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.attach(); err != nil {
		s.Close()
		return nil, err
	}
	r, err := ringbuf.NewReader(s.exec.Events)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open ring buffer reader: %w", err)
	}
	s.reader = r
	if w, err := newRingWaiter(s.exec.Events.FD()); err != nil {
		s.log.Warn("ring buffer reader falls back to blocking waits", "err", err)
	} else {
		s.waiter = w
	}
	s.lastRead.Store(time.Now().UnixNano())
	return s, nil
}

func (s *Sensor) load() error {
	cache := btf.NewCache()
	vars := map[string]any{
		"self_tgid":    uint32(os.Getpid()),
		"wakeup_bytes": uint64(s.opts.WakeupBytes),
	}
	execFiles := execFilesSize()
	prepare := func(name string, spec *ebpf.CollectionSpec) error {
		spec.Maps["events"].MaxEntries = uint32(s.opts.RingBytes)
		if m := spec.Maps["exec_files"]; m != nil {
			m.MaxEntries = execFiles
		}
		for v, val := range vars {
			if err := spec.Variables[v].Set(val); err != nil {
				return fmt.Errorf("set %s variable %s: %w", name, v, err)
			}
		}
		return nil
	}

	execSpec, err := loadExec()
	if err != nil {
		return fmt.Errorf("parse exec object: %w", err)
	}
	if err := prepare("exec", execSpec); err != nil {
		return err
	}
	count, names, err := loaderNames(s.opts.LoaderEnv)
	if err != nil {
		return err
	}
	if err := execSpec.Variables["loader_name_count"].Set(count); err != nil {
		return fmt.Errorf("set exec variable loader_name_count: %w", err)
	}
	if err := execSpec.Variables["loader_names"].Set(names); err != nil {
		return fmt.Errorf("set exec variable loader_names: %w", err)
	}
	if err := execSpec.LoadAndAssign(&s.exec, &ebpf.CollectionOptions{Cache: cache}); err != nil {
		return fmt.Errorf("load exec programs: %w", err)
	}

	shared := &ebpf.CollectionOptions{
		Cache:           cache,
		MapReplacements: map[string]*ebpf.Map{"events": s.exec.Events, "stats": s.exec.Stats, "exec_files": s.exec.ExecFiles},
	}
	lcSpec, err := loadLifecycle()
	if err != nil {
		return fmt.Errorf("parse lifecycle object: %w", err)
	}
	if err := prepare("lifecycle", lcSpec); err != nil {
		return err
	}
	if err := lcSpec.LoadAndAssign(&s.lifecycle, shared); err != nil {
		return fmt.Errorf("load lifecycle programs: %w", err)
	}
	s.legacy = s.opts.LegacyConnect || !haveModernConnect()
	s.cgroupRoot, s.sockaddrErr = cgroupRoot(s.opts.CgroupRoot)
	if s.sockaddrErr == nil {
		// A 64-bit connect(2) passes through the socket address hooks
		// too and is left to the syscall hooks, which have its result.
		// The hooks tell it by the syscall number in the task's
		// registers, or else by the legacy hooks' per-thread stash.
		s.sockaddrMode = "regs"
		if s.legacy || !haveSockaddrRegs() {
			s.sockaddrMode, s.legacy = "stash", true
		}
	}
	name, load, objs := "connect", loadConnect, any(&s.connect)
	if s.legacy {
		name, load, objs = "connect (legacy)", loadConnectlegacy, any(&s.connectLegacy)
	}
	connSpec, err := load()
	if err != nil {
		return fmt.Errorf("parse %s object: %w", name, err)
	}
	if err := prepare(name, connSpec); err != nil {
		return err
	}
	if s.opts.FoldInterval > 0 {
		if s.fold.off = canTakeFromHash(); s.fold.off != nil {
			s.log.Warn("connect folding off: every connect attempt is reported", "reason", s.fold.off)
		}
	}
	foldNs := uint64(s.opts.FoldInterval)
	if s.fold.off != nil {
		foldNs = 0
	}
	if err := connSpec.Variables["fold_ns"].Set(foldNs); err != nil {
		return fmt.Errorf("set %s variable fold_ns: %w", name, err)
	}
	if v, ok := connSpec.Variables["have_find_vma"]; ok {
		var have uint32
		if err := features.HaveProgramHelper(ebpf.TracePoint, asm.FnFindVma); err == nil {
			have = 1
		} else {
			s.codeOriginErr = fmt.Errorf("bpf_find_vma (Linux 5.17+) not available: %w", err)
			s.log.Info("connect records do not say where the calling code lives", "reason", s.codeOriginErr)
		}
		if err := v.Set(have); err != nil {
			return fmt.Errorf("set %s variable have_find_vma: %w", name, err)
		}
	}
	if err := connSpec.LoadAndAssign(objs, shared); err != nil {
		return fmt.Errorf("load %s programs: %w", name, err)
	}
	s.fold.m = s.connect.ConnectFolds
	if s.legacy {
		s.fold.m = s.connectLegacy.ConnectFolds
	}
	s.fold.interval = time.Duration(foldNs)
	if n := int(s.fold.m.ValueSize()); n != foldValueSize {
		return fmt.Errorf("load %s programs: fold entry is %d bytes, want %d", name, n, foldValueSize)
	}
	cgErr := s.sockaddrErr
	if s.sockaddrErr == nil {
		s.sockaddrErr = s.loadSockaddr(cache, prepare)
	}
	switch {
	case s.opts.DNS.Off:
		s.dnsErr = ErrDNSOff
	case cgErr != nil:
		s.dnsErr = cgErr
	default:
		s.dnsErr = s.loadDNS(cache, prepare)
	}
	s.libErr = errors.New("library hooks disabled")
	if !s.opts.NoLibraries {
		s.libErr = s.loadLibraries(cache, prepare)
	}
	return nil
}

// libraryObjects are the parts of the mmap object every kernel loads; the
// mprotect program is loaded apart, where bpf_find_vma exists.
type libraryObjects struct {
	HandleMmap     *ebpf.Program `ebpf:"handle_mmap"`
	LibTrusted     *ebpf.Map     `ebpf:"lib_trusted"`
	LibSeen        *ebpf.Map     `ebpf:"lib_seen"`
	LibraryScratch *ebpf.Map     `ebpf:"library_scratch"`
}

func (o *libraryObjects) Close() error {
	// Close on a nil program or map (not loaded) returns nil.
	return errors.Join(o.HandleMmap.Close(), o.LibTrusted.Close(), o.LibSeen.Close(), o.LibraryScratch.Close())
}

// loadLibraries loads the library hooks (bpf/mmap.bpf.c). An error leaves
// them out; the sensor runs with the rest.
func (s *Sensor) loadLibraries(cache *btf.Cache, prepare func(string, *ebpf.CollectionSpec) error) error {
	spec, err := loadMmap()
	if err != nil {
		return fmt.Errorf("parse mmap object: %w", err)
	}
	if err := prepare("mmap", spec); err != nil {
		return err
	}
	repl := map[string]*ebpf.Map{"events": s.exec.Events, "stats": s.exec.Stats}
	if err := spec.LoadAndAssign(&s.libs, &ebpf.CollectionOptions{Cache: cache, MapReplacements: repl}); err != nil {
		return fmt.Errorf("load mmap programs: %w", err)
	}
	if err := features.HaveProgramHelper(ebpf.TracePoint, asm.FnFindVma); err != nil {
		s.mprotectErr = fmt.Errorf("bpf_find_vma not available: %w", err)
		return nil
	}
	repl["lib_trusted"], repl["lib_seen"], repl["library_scratch"] = s.libs.LibTrusted, s.libs.LibSeen, s.libs.LibraryScratch
	var mp struct {
		P *ebpf.Program `ebpf:"handle_mprotect"`
	}
	if err := spec.LoadAndAssign(&mp, &ebpf.CollectionOptions{Cache: cache, MapReplacements: repl}); err != nil {
		s.mprotectErr = fmt.Errorf("load mprotect program: %w", err)
		return nil
	}
	s.libMprotect = mp.P
	return nil
}

// AddInterpreter marks the file f as a script interpreter: its execs
// whose first argument may name a script (anything but -c) wake the
// reader at once and end its gathering (see bpf/exec.bpf.c), so the script is opened before its payload can unlink
// it. Userspace adds the interpreters it finds at start and those it
// recognises as they run (a container's python is its own file). A full
// map (1,024 files) refuses more: their execs keep the poll interval.
func (s *Sensor) AddInterpreter(f File) error {
	key := struct {
		Ino uint64
		Dev uint32
		_   uint32
	}{Ino: f.Ino, Dev: uint32(unix.Major(f.Dev)<<20 | unix.Minor(f.Dev))}
	if err := s.exec.Interpreters.Update(&key, uint8(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("add interpreter %d:%d: %w", f.Dev, f.Ino, err)
	}
	return nil
}

// urgentCount reads urgent_execs, the kernel's count of interpreter
// execs, through the .bss page mapped into the sensor (no system call).
func (s *Sensor) urgentCount() uint64 {
	var n uint64
	if v := s.exec.UrgentExecs; v != nil {
		v.Get(&n)
	}
	return n
}

// urgent reports whether an interpreter exec was reported since the last
// drain began. It does not consume the news: only a drain does (Run), so
// a check inside the waiter and the gathering loop's own check agree.
func (s *Sensor) urgent() bool { return s.urgentCount() != s.urgentSeen }

// TrustLibrary tells the kernel that f, at its current ctime, is trusted:
// its executable mappings are no longer reported. Userspace calls it once
// it has hashed the file and a package database or signature vouched for
// that content; a write to the file changes its ctime, which ends the
// exemption. A full map (16,384 files) refuses more: they stay reported.
func (s *Sensor) TrustLibrary(f File) error {
	if s.libs.LibTrusted == nil {
		return nil
	}
	key := struct {
		Ino uint64
		Dev uint32
		_   uint32
	}{Ino: f.Ino, Dev: uint32(unix.Major(f.Dev)<<20 | unix.Minor(f.Dev))}
	if err := s.libs.LibTrusted.Update(&key, uint64(f.CtimeNs), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("trust library %d:%d: %w", f.Dev, f.Ino, err)
	}
	return nil
}

// loadDNS loads the DNS response hook. It shares the socket address
// hooks' map of sockets that sent to port 53, which names the querying
// process; without those hooks it has its own, empty one. An error leaves
// the hook out; the sensor runs with the rest.
func (s *Sensor) loadDNS(cache *btf.Cache, prepare func(string, *ebpf.CollectionSpec) error) error {
	repl := map[string]*ebpf.Map{"events": s.exec.Events, "stats": s.exec.Stats}
	switch {
	case s.sockaddrErr != nil:
		s.log.Warn("DNS responses are read without their querying process: the socket address hooks are not loaded",
			"err", s.sockaddrErr)
	case s.sockaddrMode == "stash":
		repl["dns_socks"] = s.sockaddrLegacy.DnsSocks
	default:
		repl["dns_socks"] = s.sockaddr.DnsSocks
	}
	spec, err := loadDns()
	if err != nil {
		return fmt.Errorf("parse dns object: %w", err)
	}
	if err := prepare("dns", spec); err != nil {
		return err
	}
	cost, burst := s.opts.DNS.dnsBucket()
	for v, val := range map[string]uint64{"dns_cost_ns": cost, "dns_burst_ns": burst} {
		if err := spec.Variables[v].Set(val); err != nil {
			return fmt.Errorf("set dns variable %s: %w", v, err)
		}
	}
	if err := spec.LoadAndAssign(&s.dns, &ebpf.CollectionOptions{Cache: cache, MapReplacements: repl}); err != nil {
		return fmt.Errorf("load dns program: %w", err)
	}
	return nil
}

// DNSCapture reports whether the DNS response hook was attached (it stays
// so until shutdown), and if not, why.
func (s *Sensor) DNSCapture() (bool, error) {
	if s.dnsErr != nil {
		return false, s.dnsErr
	}
	for _, h := range s.Hooks() {
		if h.Name == "dns" {
			// Attached at start; detached only by shutdown.
			return h.Err == nil, h.Err
		}
	}
	return false, errors.New("not attached")
}

// loadSockaddr loads the socket address hooks. An error leaves them out;
// the sensor runs with the rest.
func (s *Sensor) loadSockaddr(cache *btf.Cache, prepare func(string, *ebpf.CollectionSpec) error) error {
	repl := map[string]*ebpf.Map{"events": s.exec.Events, "stats": s.exec.Stats, "exec_files": s.exec.ExecFiles}
	name, load, objs := "sockaddr", loadSockaddr, any(&s.sockaddr)
	if s.sockaddrMode == "stash" {
		name, load, objs = "sockaddr (legacy)", loadSockaddrlegacy, any(&s.sockaddrLegacy)
		repl["pending_connects"] = s.connectLegacy.PendingConnects
	}
	spec, err := load()
	if err != nil {
		return fmt.Errorf("parse %s object: %w", name, err)
	}
	if err := prepare(name, spec); err != nil {
		return err
	}
	if err := spec.LoadAndAssign(objs, &ebpf.CollectionOptions{Cache: cache, MapReplacements: repl}); err != nil {
		return fmt.Errorf("load %s programs: %w", name, err)
	}
	return nil
}

// haveSockaddrRegs reports whether cgroup sock_addr programs may call
// bpf_task_pt_regs and bpf_get_current_task_btf, which the default socket
// address hooks need to read the syscall number.
func haveSockaddrRegs() bool {
	return features.HaveProgramHelper(ebpf.CGroupSockAddr, asm.FnTaskPtRegs) == nil &&
		features.HaveProgramHelper(ebpf.CGroupSockAddr, asm.FnGetCurrentTaskBtf) == nil
}

// ErrNoCgroup2 means no cgroup v2 hierarchy is mounted, so the socket
// address hooks have nowhere to attach.
var ErrNoCgroup2 = errors.New("no cgroup v2 hierarchy mounted")

// cgroupRoot returns the cgroup v2 mount the socket address hooks attach
// to: want if set, else the first mount of a cgroup2 hierarchy's root in
// /proc/self/mountinfo (wherever it is mounted: /sys/fs/cgroup on a
// unified host, /sys/fs/cgroup/unified on a hybrid one).
func cgroupRoot(want string) (string, error) {
	switch want {
	case "-":
		return "", errors.New("cgroup hooks disabled (cgroup root \"-\")")
	case "":
	default:
		return want, nil
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup v2 mount: %w", err)
	}
	if p, ok := findCgroup2(string(b)); ok {
		return p, nil
	}
	return "", fmt.Errorf("%w (mount one, e.g. mount -t cgroup2 none /sys/fs/cgroup/unified)", ErrNoCgroup2)
}

// findCgroup2 finds, in /proc/self/mountinfo text, the first mount point
// of a cgroup2 hierarchy's root (not a bind mount of a subtree, whose
// programs would cover only that subtree).
func findCgroup2(mountinfo string) (string, bool) {
	for _, line := range strings.Split(mountinfo, "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && f[3] == "/" && strings.HasPrefix(post, "cgroup2 ") {
			// mountinfo escapes space, tab, newline and backslash as octal.
			return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(f[4]), true
		}
	}
	return "", false
}

// CodeOrigin reports whether connect records made by the connect hook say
// where the calling code lives (Connect.Code), and if not, why.
func (s *Sensor) CodeOrigin() (bool, error) {
	if s.legacy {
		return false, errors.New("not with the legacy connect hooks (Linux 5.8 to 5.14)")
	}
	return s.codeOriginErr == nil, s.codeOriginErr
}

// execFilesSize is how many processes the kernel's exec_files map holds:
// as many as there can be (kernel.pid_max), from 4,096 up to 65,536
// (about 6 MiB of kernel memory).
func execFilesSize() uint32 {
	n := uint64(1 << 16)
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			n = min(max(v, 1<<12), n)
		}
	}
	return uint32(n)
}

// haveModernConnect reports whether tracepoint programs may call
// bpf_task_pt_regs and bpf_get_current_task_btf (Linux 5.15+), which the
// single-program connect hook needs.
func haveModernConnect() bool {
	return features.HaveProgramHelper(ebpf.TracePoint, asm.FnTaskPtRegs) == nil &&
		features.HaveProgramHelper(ebpf.TracePoint, asm.FnGetCurrentTaskBtf) == nil
}

func (s *Sensor) attach() error {
	tracing := func(p *ebpf.Program) func() (link.Link, error) {
		return func() (link.Link, error) {
			return link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		}
	}
	tracepoint := func(group, name string, p *ebpf.Program) func() (link.Link, error) {
		return func() (link.Link, error) { return link.Tracepoint(group, name, p, nil) }
	}
	// Exit before fork before exec, and connect exit before enter, so a
	// process never has an exec or stash without the hook that frees it.
	type hook struct {
		name, where string
		attach      func() (link.Link, error)
		optional    bool
		warn        string // what is missed without it
	}
	plan := []hook{
		// Before exec: a cgroup's record precedes its processes'.
		{"cgroup_mkdir", "tp_btf/cgroup_mkdir", tracing(s.lifecycle.HandleCgroupMkdir), true,
			"cgroup hook not attached: a container whose process and cgroup are gone before the sensor reads its records is not named"},
		{"exit", "tp_btf/sched_process_exit", tracing(s.lifecycle.HandleExit), false, ""},
		{"fork", "tp_btf/sched_process_fork", tracing(s.lifecycle.HandleFork), false, ""},
		{"exec", "tp_btf/sched_process_exec", tracing(s.exec.HandleExec), false, ""},
	}
	if s.legacy {
		plan = append(plan,
			hook{"connect_exit", "tracepoint/syscalls/sys_exit_connect", tracepoint("syscalls", "sys_exit_connect", s.connectLegacy.HandleConnectExit), false, ""},
			hook{"connect_enter", "tracepoint/syscalls/sys_enter_connect", tracepoint("syscalls", "sys_enter_connect", s.connectLegacy.HandleConnectEnter), false, ""})
	} else {
		plan = append(plan,
			hook{"connect", "tracepoint/syscalls/sys_exit_connect", tracepoint("syscalls", "sys_exit_connect", s.connect.HandleConnectExit), false, ""})
	}
	for _, p := range s.sockaddrPlan() {
		plan = append(plan, hook{p.name, p.where, p.attach, true,
			"socket address hook not attached: 32-bit, io_uring, datagram and Fast Open connections are not seen"})
	}
	if !s.opts.NoLibraries {
		lib := func(name string, p *ebpf.Program, err error) func() (link.Link, error) {
			return func() (link.Link, error) {
				if err != nil {
					return nil, err
				}
				return link.Tracepoint("syscalls", name, p, nil)
			}
		}
		mprotectErr := s.libErr
		if mprotectErr == nil {
			mprotectErr = s.mprotectErr
		}
		plan = append(plan,
			hook{"library_mmap", "tracepoint/syscalls/sys_enter_mmap", lib("sys_enter_mmap", s.libs.HandleMmap, s.libErr), true,
				"library hook not attached: shared libraries and other executable file mappings are not seen"},
			hook{"library_mprotect", "tracepoint/syscalls/sys_enter_mprotect", lib("sys_enter_mprotect", s.libMprotect, mprotectErr), true,
				"library hook not attached: file mappings made executable by mprotect(2) are not seen"})
	}
	if p, ok := s.dnsPlan(); ok {
		plan = append(plan, hook{p.name, p.where, p.attach, true,
			"DNS response hook not attached: connections carry no destination name and no dns_query records are written"})
	}
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	failed := false
	for _, p := range plan {
		h := Hook{Name: p.name, Attach: p.where, Optional: p.optional}
		l, err := p.attach()
		if err != nil {
			h.Err = err
			failed = failed || !p.optional
			if p.optional {
				s.log.Warn(p.warn, "hook", p.name, "attach", p.where, "err", err)
			}
		} else {
			h.Attached = true
			s.links = append(s.links, l)
		}
		s.hooks = append(s.hooks, h)
	}
	if failed {
		return &AttachError{Hooks: append([]Hook(nil), s.hooks...)}
	}
	return nil
}

type plannedHook struct {
	name, where string
	attach      func() (link.Link, error)
}

// sockaddrPlan lists the socket address hooks, each on the cgroup v2 root.
// When they could not be found a place or loaded, each attach returns why.
func (s *Sensor) sockaddrPlan() []plannedHook {
	var progs [4]*ebpf.Program
	if s.sockaddrMode == "stash" {
		o := &s.sockaddrLegacy
		progs = [4]*ebpf.Program{o.SockaddrConnect4, o.SockaddrConnect6, o.SockaddrSendmsg4, o.SockaddrSendmsg6}
	} else {
		o := &s.sockaddr
		progs = [4]*ebpf.Program{o.SockaddrConnect4, o.SockaddrConnect6, o.SockaddrSendmsg4, o.SockaddrSendmsg6}
	}
	kinds := [4]struct {
		name, section string
		typ           ebpf.AttachType
	}{
		{"sockaddr_connect4", "cgroup/connect4", ebpf.AttachCGroupInet4Connect},
		{"sockaddr_connect6", "cgroup/connect6", ebpf.AttachCGroupInet6Connect},
		{"sockaddr_sendmsg4", "cgroup/sendmsg4", ebpf.AttachCGroupUDP4Sendmsg},
		{"sockaddr_sendmsg6", "cgroup/sendmsg6", ebpf.AttachCGroupUDP6Sendmsg},
	}
	var plan []plannedHook
	for i, k := range kinds {
		where := k.section + " on " + s.cgroupRoot
		if s.cgroupRoot == "" {
			where = k.section
		}
		p, typ, err := progs[i], k.typ, s.sockaddrErr
		plan = append(plan, plannedHook{k.name, where, func() (link.Link, error) {
			if err != nil {
				return nil, err
			}
			return link.AttachCgroup(link.CgroupOptions{Path: s.cgroupRoot, Attach: typ, Program: p})
		}})
	}
	return plan
}

// dnsPlan is the DNS response hook on the cgroup v2 root; none when it is
// turned off. When it could not be found a place or loaded, its attach
// returns why.
func (s *Sensor) dnsPlan() (plannedHook, bool) {
	if errors.Is(s.dnsErr, ErrDNSOff) {
		return plannedHook{}, false
	}
	where := "cgroup_skb/ingress"
	if s.cgroupRoot != "" {
		where += " on " + s.cgroupRoot
	}
	err, p := s.dnsErr, s.dns.DnsIngress
	return plannedHook{"dns", where, func() (link.Link, error) {
		if err != nil {
			return nil, err
		}
		return link.AttachCgroup(link.CgroupOptions{Path: s.cgroupRoot, Attach: ebpf.AttachCGroupInetIngress, Program: p})
	}}, true
}

// AttachError is returned by New when one or more hooks failed to attach.
// Hooks lists every hook with its state.
type AttachError struct {
	Hooks []Hook
}

func (e *AttachError) Error() string {
	var b strings.Builder
	for _, h := range e.Hooks {
		if h.Err == nil || h.Optional {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "attach %s hook (%s): %v", h.Name, h.Attach, h.Err)
	}
	return b.String()
}

// Unwrap returns each hook's error.
func (e *AttachError) Unwrap() []error {
	var errs []error
	for _, h := range e.Hooks {
		if h.Err != nil && !h.Optional {
			errs = append(errs, h.Err)
		}
	}
	return errs
}

// Hooks reports every attach point and its state.
func (s *Sensor) Hooks() []Hook {
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	return append([]Hook(nil), s.hooks...)
}

// LegacyConnect reports whether the pre-5.15 connect hooks are in use.
func (s *Sensor) LegacyConnect() bool { return s.legacy }

// Events is where decoded records arrive. It is closed when Run returns.
func (s *Sensor) Events() <-chan Event { return s.out }

// Run reads the ring buffer until ctx is done. Then it detaches every hook,
// drains what the kernel already queued, closes Events and returns.
func (s *Sensor) Run(ctx context.Context) error {
	defer close(s.out)
	if s.waiter == nil {
		return s.runBlocking(ctx)
	}
	stop := context.AfterFunc(ctx, func() {
		s.detach()
		s.draining.Store(true)
		s.waiter.interrupt()
	})
	defer stop()

	// Each ready is checked after its wait's deadline is set, so a
	// shutdown or a queue that came just before the wait is not slept
	// through.
	burst := func() bool {
		return s.draining.Load() || s.reader.AvailableBytes() >= s.opts.WakeupBytes || s.urgent()
	}
	queued := func() bool {
		return s.draining.Load() || s.reader.AvailableBytes() > 0
	}
	var rec ringbuf.Record
	last := time.Now()
	for {
		// Gather: records that arrive within a poll interval of the last
		// drain are read together. The first of them wakes the waiter
		// (the kernel wakes a reader that had caught up); only a burst
		// past WakeupBytes ends the gathering early.
		for end := last.Add(s.opts.PollInterval); !burst() && time.Now().Before(end); {
			if !s.waiter.wait(time.Until(end), burst) {
				return nil
			}
		}
		// Idle: sleep until a record arrives, waking now and then so
		// health sees the reader alive and fold entries are flushed on
		// time (a folded storm sends nothing to wake the reader).
		if !queued() && !s.waiter.wait(s.fold.wait(idleWait), queued) {
			return nil
		}
		// Read draining before the drain: once set, the hooks are
		// detached, so this drain reaches the end of what they wrote.
		stopping := s.draining.Load()
		// Interpreter execs counted so far are read by this drain; one
		// counted during it ends the next gathering at once.
		s.urgentSeen = s.urgentCount()
		// Fold entries made before the drain began have had their
		// records read by it.
		drained := bootNow()
		// A deadline already past: read what is queued, do not wait.
		if _, closed, err := s.drain(&rec, time.Unix(1, 0)); closed || err != nil {
			return err
		}
		// After the drain, so a summary follows the record it adds to.
		// Stopping, the hooks are detached: every entry is reported.
		s.flushFolds(drained, stopping)
		if stopping {
			return nil
		}
		last = time.Now()
	}
}

// idleWait is the longest the reader sleeps on an empty ring: a record
// wakes it sooner, but health needs it to report in.
const idleWait = time.Second

// drain hands records to handle until the ring is empty at deadline (at
// once, for a deadline already past), until a Flush has been read through
// (flushed), or until the reader is closed (closed).
func (s *Sensor) drain(rec *ringbuf.Record, deadline time.Time) (flushed, closed bool, err error) {
	s.reader.SetDeadline(deadline)
	var n uint
	for {
		err := s.reader.ReadInto(rec)
		switch {
		case err == nil:
			s.handle(rec.RawSample)
			// Under sustained load the ring may never run empty: note
			// progress every so often, so health can tell a busy reader
			// from a stuck one.
			if n++; n%1024 == 0 {
				s.lastRead.Store(time.Now().UnixNano())
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.lastRead.Store(time.Now().UnixNano())
			return false, false, nil
		case errors.Is(err, ringbuf.ErrFlushed):
			return true, false, nil
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, os.ErrClosed):
			return false, true, nil
		default:
			return false, true, fmt.Errorf("read ring buffer: %w", err)
		}
	}
}

// runBlocking is Run for when the ring fd could not be registered with the
// netpoller: the reader waits in its own epoll_wait, a poll interval at a
// time, and shutdown interrupts it with Flush.
func (s *Sensor) runBlocking(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.detach()
		s.draining.Store(true)
		if err := s.reader.Flush(); err != nil {
			s.log.Error("flush ring buffer", "err", err)
		}
	})
	defer stop()

	var rec ringbuf.Record
	for {
		drained := bootNow()
		flushed, closed, err := s.drain(&rec, time.Now().Add(s.opts.PollInterval))
		if closed || err != nil {
			return err
		}
		stopping := flushed && ctx.Err() != nil
		s.flushFolds(drained, stopping)
		if stopping {
			return nil
		}
	}
}

func (s *Sensor) handle(raw []byte) {
	ev, err := Decode(raw)
	if err != nil {
		s.decodeErrors.Add(1)
		s.lastDecodeMu.Lock()
		s.lastDecode = err
		s.lastDecodeMu.Unlock()
		return
	}
	h := ev.Head()
	if int(h.Kind) < len(s.read) {
		s.read[h.Kind].Add(1)
	}
	s.queue(ev, len(raw))
}

// Shedding a flood. A process that floods connects to new destinations
// faster than the pipeline drains them (a scan, or an implant hiding its
// own beacon in noise) would fill the queue, and the queue, once full,
// drops whatever comes next: another process's connect to its C2 as
// likely as the flood. So past shedFill of the queue, a connect record
// is shed, and counted (Stats.DroppedForShare, within Dropped), when its
// destination is not a public address and its process already has
// shedShare of the queue's length in connect records waiting. Every other
// record, a connect to a public address above all, is still queued until
// the queue is full. Needs Release (Options.QueueBytes set), which gives
// a record's share back.
const (
	shareSlots = 1024
	shedFill   = 0.75
	shedShare  = 4 // 1/shedShare of the queue's length
)

// shareSlot is the slot of shares a connect record of process tgid counts
// in: a hash seeded at start, so a process cannot choose a pid whose slot
// is another's.
func (s *Sensor) shareSlot(tgid uint32) int {
	return int(((tgid ^ s.shareSeed) * 2654435761) >> 22) // 10 bits: shareSlots
}

// public reports whether a is an address on the internet: not loopback,
// private (RFC 1918, fc00::/7), link-local, CGNAT, multicast or
// unspecified.
func public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	return !cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// queue hands ev, decoded from size ring bytes, to the consumer, or drops
// and counts it when the queue is full, or sheds it (see shedFill).
func (s *Sensor) queue(ev Event, size int) {
	h := ev.Head()
	slot := -1
	c, isConnect := ev.(*Connect)
	if !isConnect {
		s.track(ev)
	} else if s.shedTrusted(c) {
		s.dropped.Add(1)
		s.droppedTrust.Add(1)
		return
	}
	if isConnect && s.opts.QueueBytes > 0 && !public(c.Dst.Addr()) {
		slot = s.shareSlot(c.TGID)
		if int(s.shares[slot].Load()) >= cap(s.out)/shedShare && s.QueueFill() >= shedFill {
			s.dropped.Add(1)
			s.droppedShare.Add(1)
			return
		}
	}
	if s.opts.QueueBytes > 0 {
		n := int64(size) + EventOverhead
		if s.queuedBytes.Add(n) > s.opts.QueueBytes {
			s.queuedBytes.Add(-n)
			s.dropped.Add(1)
			s.droppedBytes.Add(1)
			return
		}
		h.queued = n
	}
	if slot >= 0 {
		s.shares[slot].Add(1)
		h.share = uint16(slot + 1)
	}
	select {
	case s.out <- ev:
	default:
		s.queuedBytes.Add(-h.queued)
		if slot >= 0 {
			s.shares[slot].Add(-1)
			h.share = 0
		}
		s.dropped.Add(1)
	}
}

// Shedding a trusted program's connects first. The share above bounds one
// process; a flood spread over many processes of a trusted program (curl
// run ten thousand times against random addresses, by an implant that
// then beacons from its own process) is bounded here: past shedFill, a
// connect by a process running an executable userspace judged trusted
// (TrustExe: package-verified or trusted-signed, not an interpreter) is
// shed, and counted (Stats.DroppedTrusted, within Dropped). Such a
// connect cannot make a T1587 detection; the implant's can. The reader
// decides from the records in ring order, ahead of the pipeline that
// judged the file: a process is sheddable from its exec record, when the
// executable's identity (device, inode, ctime) is trusted and the exec
// set no loader variable (LD_PRELOAD and kin), until it exits, maps a
// file the kernel does not trust (its library record), or execs again
// (the exec count in each record). A relabelled process (Connect.Relabeled)
// is never shed, nor a connect made by code that is not a file's text as
// mapped (Connect.Code: injected into the trusted program).
const (
	maxTrustedExes = 1 << 14
	maxSheddable   = 1 << 16
)

type fileKey struct {
	dev, ino uint64
}

// procImage is a process's program image: its start and exec count.
type procImage struct {
	startNs, execID uint64
}

// TrustExe tells the reader that f, at its current ctime, is a trusted
// executable whose processes' connects may be shed first (see
// shedTrusted). Up to maxTrustedExes files; more are not noted.
func (s *Sensor) TrustExe(f File) {
	k := fileKey{f.Dev, f.Ino}
	s.trustMu.Lock()
	defer s.trustMu.Unlock()
	if s.trustedExes == nil {
		s.trustedExes = map[fileKey]int64{}
	}
	if _, ok := s.trustedExes[k]; ok || len(s.trustedExes) < maxTrustedExes {
		s.trustedExes[k] = f.CtimeNs
	}
}

func (s *Sensor) exeTrusted(f File) bool {
	s.trustMu.RLock()
	ctime, ok := s.trustedExes[fileKey{f.Dev, f.Ino}]
	s.trustMu.RUnlock()
	return ok && ctime == f.CtimeNs
}

// track follows, from the records the reader sees, which processes run a
// trusted executable and nothing else.
func (s *Sensor) track(ev Event) {
	switch v := ev.(type) {
	case *Exec:
		if len(v.LoaderEnv) > 0 || v.LoaderEnvTruncated || v.Exe.Memfd || v.Exe.Deleted || !s.exeTrusted(v.Exe) {
			delete(s.sheddable, v.TGID)
			return
		}
		if s.sheddable == nil || len(s.sheddable) >= maxSheddable {
			// Exit records lost: start over rather than grow.
			s.sheddable = map[uint32]procImage{}
		}
		s.sheddable[v.TGID] = procImage{v.Task.StartNs, v.Task.ExecID}
	case *Library:
		delete(s.sheddable, v.TGID)
	case *Exit:
		delete(s.sheddable, v.TGID)
	}
}

// shedTrusted reports whether connect c is a trusted program's to shed.
func (s *Sensor) shedTrusted(c *Connect) bool {
	p, ok := s.sheddable[c.TGID]
	return ok && !c.Relabeled && c.Code == CodeFile && p == procImage{c.Task.StartNs, c.Task.ExecID} && s.QueueFill() >= shedFill
}

// QueueFill is how full the Events queue is, 0 to 1: the fuller of its
// length against its capacity and, with Options.QueueBytes, its size
// against that bound. Cheap enough to call on every tick.
func (s *Sensor) QueueFill() float64 {
	fill := 0.0
	if c := cap(s.out); c > 0 {
		fill = float64(len(s.out)) / float64(c)
	}
	if s.opts.QueueBytes > 0 {
		fill = max(fill, float64(s.queuedBytes.Load())/float64(s.opts.QueueBytes))
	}
	return fill
}

// EventOverhead is what a decoded record costs beyond its ring bytes, for
// QueueBytes: the Go values and string headers of a record.
const EventOverhead = 256

// Release tells the sensor the consumer has taken ev from Events: its
// bytes no longer count against QueueBytes. Releasing a record twice, or
// one read without QueueBytes, does nothing.
func (s *Sensor) Release(ev Event) {
	h := ev.Head()
	if h.queued != 0 {
		s.queuedBytes.Add(-h.queued)
		h.queued = 0
	}
	if h.share != 0 {
		s.shares[h.share-1].Add(-1)
		h.share = 0
	}
}

func (s *Sensor) detach() {
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	for _, l := range s.links {
		if err := l.Close(); err != nil {
			s.log.Warn("detach hook", "err", err)
		}
	}
	s.links = nil
	for i := range s.hooks {
		s.hooks[i].Attached = false
	}
}

// Close detaches every hook and releases the BPF objects. It is safe to call
// more than once and after Run has returned.
func (s *Sensor) Close() error {
	s.detach()
	var errs []error
	if s.waiter != nil {
		// Wakes a Run still waiting, which then sees the reader closed.
		s.waiter.interrupt()
	}
	if s.reader != nil {
		if err := s.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close ring reader: %w", err))
		}
	}
	if s.waiter != nil {
		if err := s.waiter.close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("close ring waiter: %w", err))
		}
	}
	for _, c := range []interface{ Close() error }{&s.dns, &s.libs, &s.sockaddr, &s.sockaddrLegacy, &s.connect, &s.connectLegacy, &s.lifecycle, &s.exec} {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.libMprotect != nil {
		errs = append(errs, s.libMprotect.Close())
	}
	return errors.Join(errs...)
}
