package enrich

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/pdns"
	"github.com/argus-sensor/argus-sensor/prevalence"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// Defaults.
const (
	DefaultMaxProcesses  = 1 << 16
	DefaultAncestorDepth = 8
	DefaultQueueLimit    = 1 << 16
	// DefaultQueueBytes bounds the records waiting in order by their
	// approximate size, whatever their count.
	DefaultQueueBytes = 64 << 20
	// lateLimit bounds the records kept for a follow-up after going out
	// with a pending hash.
	lateLimit = 1 << 14
	// maxAncestorArgs bounds the argv kept per ancestor.
	maxAncestorArgs = 8
)

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
	// Prevalence, when set, gives launches, scripts and connections how
	// new and how common their binary is on this host.
	Prevalence *prevalence.Store
	// Containers, when set, names the container of every record's
	// process, judges a container's executables by its own package
	// databases, and classes files in its writable layer.
	Containers *container.Resolver
	Logger     *slog.Logger
	// HashWait bounds how long a record waits in order for its hashes
	// before it goes out with hash_status "pending". Default
	// hasher.DefaultWait.
	HashWait time.Duration
	// QueueLimit is how many records may wait in order before Full says
	// to stop taking events. Default DefaultQueueLimit.
	QueueLimit int
	// QueueBytes bounds the same records by approximate size: Full says
	// stop once they hold this much. Default DefaultQueueBytes.
	QueueBytes int64
	// DNSCache, when set, learns from DNS responses which names gave
	// which addresses, and names connections' destinations
	// (network.dst_hostname).
	DNSCache *pdns.Cache
	// NoDNSRecords leaves dns_query records out; the cache still learns.
	NoDNSRecords bool
	// TrustLibrary, when set, is told each library file a package
	// database or trusted signature vouched for, with the identity the
	// kernel reported: the sensor then stops reporting its mappings.
	TrustLibrary func(sensor.File)
	// Interpreter, when set, is told each script interpreter's file the
	// first time one runs (a file the kernel has not been told about):
	// the sensor then reads that interpreter's execs at once, before a
	// script can unlink itself.
	Interpreter func(sensor.File)
	// TrustExe, when set, is told each executable a package database or
	// trusted signature vouched for that is not an interpreter (whose
	// script could be anything), with the identity the kernel reported:
	// under a flood, the sensor sheds its processes' connects first.
	TrustExe func(sensor.File)
	// PreloadFile is the loader's system-wide preload list. Default
	// DefaultPreloadFile.
	PreloadFile string
}

// Stats counts the Enricher's work.
type Stats struct {
	Processes      int    // entries in the table now
	Evicted        uint64 // entries pushed out by the bound
	ProcfsLookups  uint64 // processes read from /proc
	ProcfsFailures uint64 // processes /proc could not vouch for
	Scripts        uint64 // interpreter scripts identified
	// PathsRecovered counts executables deeper than the kernel walks whose
	// whole path was read back from /proc/<pid>/exe.
	PathsRecovered uint64
	// ScriptsInRoot counts those opened inside their process's own root
	// (the rest were opened in the sensor's: the process was gone).
	ScriptsInRoot uint64
	Libraries     uint64 // library_load records made
	Queued        int    // records waiting in order, e.g. behind a pending hash
	QueuedBytes   int64  // their approximate size
	LateDropped   uint64 // records sent with a pending hash and given up on before their follow-up
	// Reresolved counts connects whose executable was not the table
	// entry's, so the process was read again (see reresolve).
	Reresolved uint64
	// Relabeled counts labels seen on connects: a process that made the
	// kernel name another file as its executable without an exec (see
	// reresolve), once per process and label.
	Relabeled uint64
	// CodeLookups counts /proc/<pid>/maps reads for connections seen by
	// the socket address hooks (see codeOrigin), once per process and
	// call site.
	CodeLookups uint64
	// DNSResponses counts DNS responses read; DNSTruncated those cut at
	// the kernel's copy bound, DNSParseErrors those that did not parse,
	// DNSRecords the dns_query records made.
	DNSResponses, DNSTruncated, DNSParseErrors, DNSRecords uint64
}

// Enricher builds argus.v1 records from sensor events and hands them on
// complete, in order (see the package comment). It is used from one
// goroutine.
// maxExited bounds the processes kept after their exit for the fold
// summaries that follow it (Enricher.exited): only processes that made a
// connect, the most recent ones. A summary whose process has left it is
// described by what the kernel said alone (process.source "kernel").
const maxExited = 1024

type Enricher struct {
	opts Options
	// interps are the interpreter files handed to Options.Interpreter,
	// bounded (maxInterpreters) as the kernel's map is.
	interps map[[2]uint64]bool
	host    event.Host
	root    string
	log     *slog.Logger
	procs   *simplelru.LRU[uint32, *Proc]
	// exited keeps, for a while, processes that connected and have exited:
	// a fold summary of their connects comes after their exit record.
	exited *simplelru.LRU[uint32, *Proc]
	// codes caches where a process's calls from one place were made from
	// (codeOrigin), by process and instruction pointer.
	codes *simplelru.LRU[codeKey, string]
	clock Clock
	stats Stats
	idBuf []byte
	held  map[uint32]interrupted // by thread id
	// pathsGen counts SetPaths calls, so classes cached on table entries
	// are recomputed after a reload.
	pathsGen uint64
	// nextSweep is when Tick next drops gone containers' cgroups.
	nextSweep time.Time

	// The order records leave in (complete.go).
	queue []queued // in order; the head may wait for its hashes
	// queueBytes is the sum of the queued records' sizes.
	queueBytes int64
	late       []Item // sent with a pending hash, to follow up
	items      []Item // scratch for the records one call makes
	out        []Out  // what the last Ready, Tick or Drain returned
	preload    *preloadList
	// ctrPreload are containers' own preload lists, by container id.
	ctrPreload *simplelru.LRU[string, *preloadList]
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
	if opts.HashWait <= 0 {
		opts.HashWait = hasher.DefaultWait
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = DefaultQueueLimit
	}
	if opts.PreloadFile == "" {
		opts.PreloadFile = DefaultPreloadFile
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
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
	if e.exited, err = simplelru.NewLRU[uint32, *Proc](maxExited, nil); err != nil {
		return nil, fmt.Errorf("create exited process table: %w", err)
	}
	if e.codes, err = simplelru.NewLRU[codeKey, string](maxCodes, nil); err != nil {
		return nil, fmt.Errorf("create code origin cache: %w", err)
	}
	if e.ctrPreload, err = simplelru.NewLRU[string, *preloadList](maxContainerPreloads, nil); err != nil {
		return nil, fmt.Errorf("create container preload cache: %w", err)
	}
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
	s.Processes, s.Queued, s.QueuedBytes = e.procs.Len(), len(e.queue), e.queueBytes
	return s
}

// Host is the host block every record carries.
func (e *Enricher) Host() event.Host { return e.host }

// handle updates the process table from ev and appends the records it
// makes to out: none for events that only feed the table (fork, exit, a
// cgroup's creation), and
// sometimes two for a connect (see flush).
func (e *Enricher) handle(ev sensor.Event, out []Item) []Item {
	switch v := ev.(type) {
	case *sensor.Exec:
		return append(out, e.exec(v))
	case *sensor.Connect:
		return e.connect(v, out)
	case *sensor.DNS:
		return e.dns(v, out)
	case *sensor.Library:
		return append(out, e.libraryItem(v))
	case *sensor.Cgroup:
		// A cut path lost its leaf, the part that names the container.
		if r := e.opts.Containers; r != nil && !v.PathTruncated {
			r.Created(v.ID, v.Path)
		}
	case *sensor.Fork:
		e.fork(v)
	case *sensor.Exit:
		if p, ok := e.procs.Peek(v.TGID); ok && e.sameStart(p, v.StartNs) {
			e.procs.Remove(v.TGID)
			if p.connected {
				e.exited.Add(v.TGID, p)
			}
		}
	}
	return out
}

// BootID reads the kernel's boot id, or "" if it cannot.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
