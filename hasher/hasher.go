package hasher

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
)

// Defaults for Options.
const (
	DefaultCacheSize   = 16384
	DefaultMaxFileSize = 512 << 20
	DefaultQueueSize   = 4096
	// DefaultSuspectMaxFileSize is the cap for suspect executables (see
	// Request.Suspect): a pad of zeros must not buy an implant its way
	// out of the hash the detection joins on.
	DefaultSuspectMaxFileSize = 16 << 30
	// DefaultWait is how long the pipeline should wait for a hash before
	// emitting the event as pending.
	DefaultWait = 2 * time.Second
)

// maxExtraProcs bounds the pids that joiners offer a queued hash.
const maxExtraProcs = 8

var (
	// ErrClosed is the Err of requests the Hasher could not serve because
	// it was closed.
	ErrClosed = errors.New("hasher closed")
	// ErrQueueFull is the Err of requests refused because the work queue
	// was full. They are not cached; a later request tries again.
	ErrQueueFull = errors.New("hash queue full")

	errNoIdentity = errors.New("request has no file identity")
)

// Request asks for the hash of a process's executable.
type Request struct {
	// PID and StartNs (CLOCK_BOOTTIME ns, as the kernel records it) name the
	// process whose /proc/<pid>/exe is tried first. PID 0 means there is no
	// process to try.
	PID     uint32
	StartNs uint64
	// Path is the executable's absolute path, tried once the process is
	// gone.
	Path string
	// ID is the executable's identity as the kernel recorded it at exec.
	// Only a file with exactly this identity is hashed.
	ID      fileid.ID
	WantMD5 bool
	// Suspect marks an executable the detection rules care about (not a
	// package's file, from a place a user can write): it is hashed up to
	// SuspectMaxFileSize rather than MaxFileSize, and ahead of the rest
	// when the queue is long.
	Suspect bool
	// File, when set, is the file itself, opened as close to exec as the
	// caller could: a script opened through its process's root while the
	// interpreter runs it. It is read instead of Path, so a script
	// unlinked or renamed over after it was opened still hashes as what
	// ran, and one in a container as the container's file. ID must be
	// its identity at the open. The Hasher owns it from Submit on and
	// closes it, whatever the outcome.
	File *os.File
}

// Options configures a Hasher. Zero values mean the defaults.
type Options struct {
	// CacheSize is the number of hashes kept. Default DefaultCacheSize.
	CacheSize int
	// MaxFileSize is the largest file hashed, in bytes. Default
	// DefaultMaxFileSize.
	MaxFileSize int64
	// Workers is the number of files hashed at once. Default half of
	// GOMAXPROCS, at least one: a burst of new binaries (a deploy, the
	// bench's hash workload) should not take every CPU from the workload.
	// Measured on 2 CPUs, 400 new 4 MiB binaries: one worker hashed at
	// 0.90x sha256 on one core and left the workload 0.56 of its
	// throughput; two hashed at 0.73x each and left it 0.38.
	Workers int
	// SuspectMaxFileSize is the largest suspect file hashed. Default
	// DefaultSuspectMaxFileSize, and never below MaxFileSize.
	SuspectMaxFileSize int64
	// QueueSize bounds the hashes waiting for a worker, suspect ones
	// apart: they have a queue of their own of the same size. Default
	// DefaultQueueSize.
	QueueSize int
	// ProcRoot is where procfs is mounted. Default "/proc".
	ProcRoot string
	Logger   *slog.Logger

	// afterRead is a test hook; see reader.afterRead.
	afterRead func(read int64)
}

// Stats counts a Hasher's work. Failures are counted once per attempt to
// hash a file, not once per request that shared it.
type Stats struct {
	Hits        uint64 // requests answered from the cache
	Misses      uint64 // requests the cache could not answer, joined ones included
	Joined      uint64 // misses that shared a hash already queued or running
	FilesHashed uint64 // files read to the end and hashed
	BytesHashed uint64 // bytes hashed, including reads rejected afterwards
	// HashTime is the workers' wall time spent opening, reading and
	// hashing, summed: BytesHashed/HashTime is one worker's throughput.
	HashTime time.Duration
	InFlight int64 // hashes queued or running now
	Gone     uint64
	Changed  uint64
	TooLarge uint64
	// QueueFull counts requests refused because the queue was full; they
	// are among Errors too.
	QueueFull uint64
	Errors    uint64
	Pending   uint64 // waits that ended before the hash was ready
	Evictions uint64
	CacheLen  int
}

// HitRatio is the share of requests answered from the cache.
func (s Stats) HitRatio() float64 {
	n := s.Hits + s.Misses
	if n == 0 {
		return 0
	}
	return float64(s.Hits) / float64(n)
}

type counters struct {
	hits, misses, joined           atomic.Uint64
	files, bytes                   atomic.Uint64
	busyNs                         atomic.Int64
	inFlight                       atomic.Int64
	gone, changed, tooLarge, other atomic.Uint64
	queueFull                      atomic.Uint64
	pending, evictions             atomic.Uint64
}

// flightKey names one hash in progress. A file's hash with md5 and without
// are different work.
type flightKey struct {
	id      fileid.ID
	withMD5 bool
}

type proc struct {
	pid     uint32
	startNs uint64
}

// flight is the state of a queued or running hash.
type flight struct {
	key   flightKey
	req   Request
	extra []proc // offered by joiners; guarded by Hasher.mu until started
	// started is set, under Hasher.mu, when a worker takes the hash; extra
	// is not touched after.
	started bool
}

// Hasher hashes executed files off the event path. Its methods may be
// called from any goroutine.
type Hasher struct {
	log        *slog.Logger
	root       string
	maxSize    int64
	suspectMax int64

	mu      sync.Mutex
	cache   *simplelru.LRU[fileid.ID, *Future]
	flights map[flightKey]*Future
	closed  bool
	queue   chan *Future
	urgent  chan *Future // suspect executables, taken first
	quit    chan struct{}
	wg      sync.WaitGroup
	running atomic.Int32 // workers not yet returned

	stats     counters
	afterRead func(read int64)
	// devs puts st_dev in the kernel's encoding where they differ (btrfs,
	// overlayfs over several filesystems).
	devs fileid.SuperDevs
}

// New starts a Hasher's workers.
func New(opts Options) (*Hasher, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.Workers <= 0 {
		opts.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.SuspectMaxFileSize <= 0 {
		opts.SuspectMaxFileSize = DefaultSuspectMaxFileSize
	}
	opts.SuspectMaxFileSize = max(opts.SuspectMaxFileSize, opts.MaxFileSize)
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Hasher{
		log:        opts.Logger,
		root:       opts.ProcRoot,
		maxSize:    opts.MaxFileSize,
		suspectMax: opts.SuspectMaxFileSize,
		flights:    make(map[flightKey]*Future),
		queue:      make(chan *Future, opts.QueueSize),
		urgent:     make(chan *Future, opts.QueueSize),
		quit:       make(chan struct{}),

		afterRead: opts.afterRead,
	}
	cache, err := simplelru.NewLRU[fileid.ID, *Future](opts.CacheSize, func(fileid.ID, *Future) {
		h.stats.evictions.Add(1)
	})
	if err != nil {
		return nil, fmt.Errorf("create hash cache: %w", err)
	}
	h.cache = cache
	for range opts.Workers {
		h.wg.Add(1)
		go h.work()
	}
	return h, nil
}

// Submit asks for a hash without waiting for it. A cached hash comes back
// complete; otherwise the file is queued for a worker, or joins the hash of
// the same file version already queued or running.
func (h *Hasher) Submit(req Request) *Future {
	f := h.submit(req)
	if req.File != nil && (f.fl == nil || f.fl.req.File != req.File) {
		req.File.Close() // answered without it: cached, joined or refused
	}
	return f
}

func (h *Hasher) submit(req Request) *Future {
	if req.ID.Ino == 0 {
		h.stats.other.Add(1)
		return completed(Result{Status: StatusError, Err: errNoIdentity})
	}
	limit := h.maxSize
	if req.Suspect {
		limit = h.suspectMax
	}
	if req.ID.Size > limit {
		h.stats.tooLarge.Add(1)
		return completed(tooLarge(req.ID.Size, limit))
	}
	h.mu.Lock()
	if f, ok := h.cache.Get(req.ID); ok && (!req.WantMD5 || f.res.MD5 != "") {
		h.mu.Unlock()
		h.stats.hits.Add(1)
		return f
	}
	h.stats.misses.Add(1)
	if f := h.joinLocked(&req); f != nil {
		h.mu.Unlock()
		h.stats.joined.Add(1)
		return f
	}
	if h.closed {
		h.mu.Unlock()
		h.stats.other.Add(1)
		return completed(Result{Status: StatusError, Err: ErrClosed})
	}
	key := flightKey{id: req.ID, withMD5: req.WantMD5}
	f := &Future{done: make(chan struct{}), h: h, fl: &flight{key: key, req: req}}
	q := h.queue
	if req.Suspect {
		q = h.urgent
	}
	select {
	case q <- f:
	default:
		h.mu.Unlock()
		h.stats.other.Add(1)
		h.stats.queueFull.Add(1)
		return completed(Result{Status: StatusError, Err: ErrQueueFull})
	}
	h.flights[key] = f
	h.stats.inFlight.Add(1)
	h.mu.Unlock()
	return f
}

// joinLocked returns the hash in flight that answers req, or nil.
func (h *Hasher) joinLocked(req *Request) *Future {
	f, ok := h.flights[flightKey{id: req.ID, withMD5: true}]
	if !ok && !req.WantMD5 {
		f, ok = h.flights[flightKey{id: req.ID, withMD5: false}]
	}
	if !ok {
		return nil
	}
	fl := f.fl
	if fl.started || req.PID == 0 || len(fl.extra) >= maxExtraProcs {
		return f
	}
	p := proc{pid: req.PID, startNs: req.StartNs}
	if p == (proc{pid: fl.req.PID, startNs: fl.req.StartNs}) {
		return f
	}
	for _, q := range fl.extra {
		if q == p {
			return f
		}
	}
	fl.extra = append(fl.extra, p)
	return f
}

// Close stops the workers. A hash being read is abandoned; it and the
// queued ones complete with ErrClosed. Cache hits are still served.
func (h *Hasher) Close() error {
	h.stop()
	h.wg.Wait()
	return nil
}

// CloseWithin is Close waiting at most d for the workers. A worker stuck
// in a read that never returns (a hung NFS server, a FUSE daemon that
// stopped answering) is left behind, and the error says how many were:
// shutdown must go on to write out the records and the final health
// record rather than wait to be killed.
func (h *Hasher) CloseWithin(d time.Duration) error {
	h.stop()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("close hasher: %d hash worker(s) still reading after %v, abandoned", h.running.Load(), d)
	}
}

func (h *Hasher) stop() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.quit)
		close(h.queue)
		close(h.urgent)
	}
	h.mu.Unlock()
}

// Stats returns the Hasher's counters.
func (h *Hasher) Stats() Stats {
	s := Stats{
		Hits:        h.stats.hits.Load(),
		Misses:      h.stats.misses.Load(),
		Joined:      h.stats.joined.Load(),
		FilesHashed: h.stats.files.Load(),
		BytesHashed: h.stats.bytes.Load(),
		HashTime:    time.Duration(h.stats.busyNs.Load()),
		InFlight:    h.stats.inFlight.Load(),
		Gone:        h.stats.gone.Load(),
		Changed:     h.stats.changed.Load(),
		TooLarge:    h.stats.tooLarge.Load(),
		QueueFull:   h.stats.queueFull.Load(),
		Errors:      h.stats.other.Load(),
		Pending:     h.stats.pending.Load(),
		Evictions:   h.stats.evictions.Load(),
	}
	h.mu.Lock()
	s.CacheLen = h.cache.Len()
	h.mu.Unlock()
	return s
}

func (h *Hasher) work() {
	h.running.Add(1)
	defer h.wg.Done()
	defer h.running.Add(-1)
	// The worker keeps one buffer for its life, so steady-state hashing
	// neither allocates nor faults in fresh pages.
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	r := reader{buf: *bp, quit: h.quit, bytes: &h.stats.bytes, afterRead: h.afterRead}
	for {
		f := h.next()
		if f == nil {
			return
		}
		h.mu.Lock()
		f.fl.started = true
		extra := f.fl.extra
		h.mu.Unlock()
		var res Result
		select {
		case <-h.quit:
			res = Result{Status: StatusError, Err: ErrClosed}
		default:
			start := time.Now()
			res = h.hash(&r, &f.fl.req, extra)
			h.stats.busyNs.Add(int64(time.Since(start)))
		}
		h.complete(f, res)
	}
}

// next takes the next hash to do, a suspect executable's first; nil once
// the Hasher is closed and both queues are drained.
func (h *Hasher) next() *Future {
	urgent, queue := h.urgent, h.queue
	for urgent != nil || queue != nil {
		select {
		case f, ok := <-urgent:
			if ok {
				return f
			}
			urgent = nil
			continue
		default:
		}
		select {
		case f, ok := <-urgent:
			if ok {
				return f
			}
			urgent = nil
		case f, ok := <-queue:
			if ok {
				return f
			}
			queue = nil
		}
	}
	return nil
}

// complete publishes a finished hash: cache first, then out of flights, in
// one critical section, so no request can miss both and hash again.
func (h *Hasher) complete(f *Future, res Result) {
	req := &f.fl.req
	h.mu.Lock()
	if res.Status == "" {
		h.cacheLocked(req.ID, res)
	}
	delete(h.flights, f.fl.key)
	h.mu.Unlock()
	h.stats.inFlight.Add(-1)
	if req.File != nil {
		req.File.Close()
	}

	switch res.Status {
	case "":
		h.stats.files.Add(1)
	case StatusGone:
		h.stats.gone.Add(1)
		h.log.Debug("executable gone", "pid", req.PID, "path", req.Path, "file", req.ID.String(), "err", res.Err)
	case StatusChanged:
		h.stats.changed.Add(1)
		h.log.Debug("executable changed since exec", "pid", req.PID, "path", req.Path, "file", req.ID.String(), "err", res.Err)
	default:
		h.stats.other.Add(1)
		if !errors.Is(res.Err, ErrClosed) && !errors.Is(res.Err, errAborted) {
			h.log.Warn("hash executable", "pid", req.PID, "path", req.Path, "file", req.ID.String(), "err", res.Err)
		}
	}
	f.res = res
	close(f.done)
}

func (h *Hasher) cacheLocked(id fileid.ID, res Result) {
	if old, ok := h.cache.Peek(id); ok && old.res.MD5 != "" && res.MD5 == "" {
		return // the same bytes; keep the entry that also answers md5
	}
	res.Source = SourceCache
	h.cache.Add(id, completed(res))
}

// hash reads the file req names, by the best way still open.
func (h *Hasher) hash(r *reader, req *Request, extra []proc) Result {
	if req.File != nil {
		return h.fromFile(r, req)
	}
	if req.PID != 0 {
		if res, ok := h.fromProc(r, req, proc{pid: req.PID, startNs: req.StartNs}); ok {
			return res
		}
	}
	for _, p := range extra {
		if res, ok := h.fromProc(r, req, p); ok {
			return res
		}
	}
	return h.fromPath(r, req)
}

// fromProc hashes through /proc/<pid>/exe. ok is false when that is not
// the executed file: the process is gone or is another one, or it runs
// another inode now.
func (h *Hasher) fromProc(r *reader, req *Request, p proc) (res Result, ok bool) {
	name := h.root + "/" + strconv.FormatUint(uint64(p.pid), 10) + "/exe"
	fd, err := openRetry(name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY)
	if err != nil {
		return Result{}, false
	}
	defer unix.Close(fd)
	raw, err := fileid.Fstat(fd)
	if err != nil {
		return Result{}, false
	}
	have := h.devs.Resolve(fd, raw, req.ID, h.root+"/"+strconv.FormatUint(uint64(p.pid), 10)+"/mountinfo")
	if !have.SameFile(req.ID) {
		return Result{}, false
	}
	// The start time is checked after the open and the fstat. Had the pid
	// been recycled before the open, it is the newcomer's and does not
	// match; if it matches, the process lived from exec until after the
	// fstat, and so, below, did the kernel's ban on writing its executable.
	st, err := procfs.ReadStat(h.root, p.pid)
	if err != nil || !st.SameStart(p.startNs) {
		return Result{}, false
	}
	if have != req.ID {
		// ctime also moves when the file is unlinked, renamed over,
		// chmod'ed or linked, which is what happens to the binaries most
		// worth hashing; while the process runs, exec's write denial
		// (ETXTBSY) vouches for the content instead. It vouches for mtime
		// too (an implant touching its own binary) where the filesystem
		// keeps every writer to that inode behind the denial; see
		// writeDenied. A memfd has no such protection: its creator can
		// still write through its own descriptor, then restore mtime.
		if have.Size != req.ID.Size || isMemfd(fd) ||
			(have.MtimeNs != req.ID.MtimeNs && !writeDenied(fd)) {
			return changedSinceExec(name, have, req.ID), true
		}
	}
	// A process touching its own binary while it is read moves its times
	// under the reader; the write denial still vouches for the bytes if
	// the process outlived the read.
	vouched := writeDenied(fd) && !isMemfd(fd)
	res = r.digest(fd, raw, req.WantMD5, name, vouched)
	if res.Status == "" && vouched {
		if after, err := fileid.Fstat(fd); err != nil || after != raw {
			if st, err := procfs.ReadStat(h.root, p.pid); err != nil || !st.SameStart(p.startNs) {
				return changed(name, "modified while read, and its process exited"), true
			}
		}
	}
	if res.Status == "" {
		res.Source = SourceProcExe
	}
	return res, true
}

// fromFile hashes the descriptor the caller opened if its content is
// still what it was at the open: same inode, size and mtime. ctime alone
// may move: unlinking or renaming over the file (what a payload covering
// its tracks does) moves it, and the open descriptor still reads the very
// bytes that ran. What that lets through is an in-place rewrite that also
// restores mtime between the open and the read, a few milliseconds on a
// short queue; anything that moves while it is read counts as a change.
func (h *Hasher) fromFile(r *reader, req *Request) Result {
	fd := int(req.File.Fd())
	have, err := fileid.Fstat(fd)
	if err != nil {
		return Result{Status: StatusError, Err: fmt.Errorf("fstat %s: %w", req.Path, err)}
	}
	if !sameContent(have, req.ID) {
		return changedSinceExec(req.Path, have, req.ID)
	}
	res := r.digest(fd, have, req.WantMD5, req.Path, false)
	if res.Status == "" {
		res.Source = SourceFile
	}
	return res
}

// sameContent reports whether have is want's inode with want's size and
// mtime, whatever its ctime.
func sameContent(have, want fileid.ID) bool {
	have.CtimeNs = want.CtimeNs
	return have == want
}

// fromPath hashes the file at the recorded path if it is still the version
// that ran.
func (h *Hasher) fromPath(r *reader, req *Request) Result {
	if !filepath.IsAbs(req.Path) {
		// memfd and other pathless executables: only /proc could reach them.
		return Result{Status: StatusGone, Err: fmt.Errorf("process exited and %q is not a path", req.Path)}
	}
	fd, err := openRegular(req.Path)
	if err != nil {
		if isGone(err) {
			return Result{Status: StatusGone, Err: err}
		}
		return Result{Status: StatusError, Err: err}
	}
	defer unix.Close(fd)
	raw, err := fileid.Fstat(fd)
	if err != nil {
		return Result{Status: StatusError, Err: fmt.Errorf("fstat %s: %w", req.Path, err)}
	}
	have := h.devs.Resolve(fd, raw, req.ID, h.root+"/self/mountinfo")
	if !have.SameFile(req.ID) {
		return Result{Status: StatusGone, Err: fmt.Errorf("%s: another file is there now", req.Path)}
	}
	// With no running process to vouch for the content, all of the identity
	// must match: a write followed by a restored mtime still moves ctime.
	if have != req.ID {
		return changedSinceExec(req.Path, have, req.ID)
	}
	res := r.digest(fd, raw, req.WantMD5, req.Path, false)
	if res.Status == "" {
		res.Source = SourcePath
	}
	return res
}
