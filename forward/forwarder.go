package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/filter"
	"github.com/argus-sensor/argus-sensor/forward/format"
	"github.com/argus-sensor/argus-sensor/forward/spool"
)

// DefaultQueueBytes bounds each sink's in-memory queue.
const DefaultQueueBytes = 16 << 20

// Config configures a Forwarder.
type Config struct {
	// Outputs are the destinations; none means stdout in native format.
	Outputs []Output
	// SpoolDir is the parent of the network sinks' spool directories
	// when an Output does not set its own. Default DefaultDir.
	SpoolDir string
	Logger   *slog.Logger
	// Resolver checks at start that host names exist; nil is
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// Forwarder delivers records to every configured sink. Send encodes a
// record once per format and hands it to each sink's queue without
// waiting; each sink delivers from its own goroutines, so a slow or dead
// receiver delays only itself.
type Forwarder struct {
	log   *slog.Logger
	sinks []*sink

	mu      sync.Mutex // serialises Send's encode buffers
	formats []format.Format
	enc     [][]byte
	encoded []bool // enc[i] holds this Send's record
	closed  atomic.Bool

	wg     sync.WaitGroup
	ctx    context.Context // cancelled to abandon delivery on Close
	cancel context.CancelFunc

	removed []RemovedSpool
}

// RemovedSpool is the spool of an output no longer configured (its URL,
// format or mode changed, or it was removed), which New deleted.
type RemovedSpool struct {
	Dir     string
	Output  string // as the directory's "output" file named it
	Records uint64 // undelivered records lost with it
	Bytes   int64
}

// SinkStats are one sink's counters since New. Records the sink could not
// keep are counted in exactly one of QueueDropped, SpoolDropped,
// SpoolCorrupt, Rejected, Oversize or (for local sinks) WriteDropped.
type SinkStats struct {
	// Name is the output spec without credentials or options.
	Name   string
	Format format.Format
	// Sent counts records the receiver accepted (for local sinks:
	// written); Bytes their encoded size before compression.
	Sent, Bytes uint64
	// Batches counts successful writes or requests.
	Batches uint64
	// Errors counts failed delivery attempts; Retries the attempts
	// repeated after one.
	Errors, Retries uint64
	// QueueRecords and QueueBytes are waiting in memory.
	QueueRecords, QueueBytes int
	// QueueDropped counts records refused because the in-memory queue
	// was full (the sink, or its disk, could not keep up).
	QueueDropped uint64
	// SpoolRecords and SpoolBytes are on disk, not yet acknowledged.
	SpoolRecords uint64
	SpoolBytes   int64
	// SpoolDropped counts records deleted unsent because the spool was
	// full (oldest first) or could not be written.
	SpoolDropped uint64
	// SpoolCorrupt counts records lost to spool data that failed its
	// checksum.
	SpoolCorrupt uint64
	// Rejected counts records the receiver refused for good (an HTTP
	// 400/413/422 for that record alone).
	Rejected uint64
	// ReceiverRefusing is true while the receiver refuses every request
	// for a reason of its own configuration (a Splunk HEC index the token
	// may not write, a missing data channel): nothing is dropped, the
	// spool grows and delivery is retried. ConfigRefusals counts those
	// answers.
	ReceiverRefusing bool
	ConfigRefusals   uint64
	// Oversize counts records too large for a UDP datagram.
	Oversize uint64
	// WriteDropped counts records a local sink failed to write.
	WriteDropped uint64
	// Filtered counts records this output's kinds: or drop: kept from it
	// on purpose (not a loss: every other output and the rules had them);
	// FilterErrors counts conditions that failed at run time, each of
	// which kept its record.
	Filtered, FilterErrors uint64
	LastError              string
	LastErrorAt            time.Time
}

// Dropped is the total of records this sink lost.
func (s SinkStats) Dropped() uint64 {
	return s.QueueDropped + s.SpoolDropped + s.SpoolCorrupt + s.Rejected + s.Oversize + s.WriteDropped
}

// deliverer sends spooled records to a receiver.
type deliverer interface {
	// deliver sends recs, in order. rejected counts those the receiver
	// refused for good, which are dropped; any error means the batch is
	// to be sent again.
	deliver(ctx context.Context, recs [][]byte) (rejected int, err error)
	close() error
}

// retryAfter is an error carrying a receiver's requested wait.
type retryAfter struct {
	err   error
	after time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

type sink struct {
	name   string
	format format.Format
	fidx   int
	// envelope wraps a formatted record in the sink's framing (syslog
	// header, HEC event); false drops it as oversize.
	envelope func(dst []byte, r *event.Record, formatted []byte) ([]byte, bool)
	scratch  []byte
	q        *memQueue
	log      *slog.Logger

	local *localWriter

	// filter picks the records this output takes; nil takes all.
	filter *filter.Filter
	// filtered counts records the filter kept from this output.
	filtered atomic.Uint64

	spool       *spool.Spool
	d           deliverer
	maxRecords  int
	maxBytes    int
	backoff     Backoff
	spoolerDone chan struct{}

	sent, bytes, batches, errs, retries, rejected, oversize, writeDropped atomic.Uint64
	configRefusals                                                        atomic.Uint64
	refusing                                                              atomic.Bool

	errMu     sync.Mutex
	lastErr   string
	lastErrAt time.Time
	failing   bool
	lastLog   time.Time
}

// New validates every output and starts its sink. An output that cannot
// work as configured (bad spec, unknown format, a host name that does not
// exist, a certificate or token file that does not load, an unwritable
// file or spool directory) fails New with an error naming the output and
// the setting. A receiver that is merely down does not: its records wait
// in the spool.
func New(cfg Config) (*Forwarder, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	outs := cfg.Outputs
	if len(outs) == 0 {
		outs = []Output{{Spec: "stdout"}}
	}
	f := &Forwarder{log: log}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	seen := map[string]string{}
	for i := range outs {
		p, err := parseOutput(outs[i])
		if err != nil {
			f.abort()
			return nil, err
		}
		if prev, dup := seen[p.id]; dup {
			f.abort()
			return nil, badOutput(&outs[i], "", fmt.Errorf("same destination and format as output %q", prev))
		}
		seen[p.id] = p.name
		s, err := f.build(p, cfg.SpoolDir, cfg.Resolver)
		if err != nil {
			f.abort()
			return nil, err
		}
		f.sinks = append(f.sinks, s)
	}
	f.removeOrphanSpools()
	for _, s := range f.sinks {
		f.start(s)
		log.Info("output started", "output", s.name, "format", s.format)
	}
	return f, nil
}

// RemovedSpools returns the spools of former outputs that New deleted.
func (f *Forwarder) RemovedSpools() []RemovedSpool { return f.removed }

// removeOrphanSpools deletes, in each directory holding a current
// output's spool, the spools no current output uses: the directory name
// is a hash of the destination, so a corrected URL would otherwise leave
// the old backlog on disk for ever, never delivered. It is not delivered
// to the new destination either: its records were encoded for the old
// one's format and mode, and which new output succeeds which old one is
// a guess. What it held is logged as an error and returned by
// RemovedSpools. A spool that another process (or a forwarder not yet
// closed) holds locked is left alone.
func (f *Forwarder) removeOrphanSpools() {
	inUse := map[string]bool{}
	parents := map[string]bool{}
	for _, s := range f.sinks {
		if s.spool != nil {
			inUse[s.spool.Dir()] = true
			parents[filepath.Dir(s.spool.Dir())] = true
		}
	}
	for parent := range parents {
		ents, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range ents {
			dir := filepath.Join(parent, e.Name())
			if !e.IsDir() || inUse[dir] || !isSpoolID(e.Name()) {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, "lock")); err != nil {
				continue // not a spool
			}
			sp, err := spool.Open(dir, spool.Options{MaxBytes: 1 << 62}, slog.New(slog.DiscardHandler))
			if err != nil {
				continue // in use, or unreadable: leave it
			}
			r := RemovedSpool{Dir: dir}
			r.Records, r.Bytes = sp.Depth()
			sp.Close()
			if b, err := os.ReadFile(filepath.Join(dir, "output")); err == nil {
				r.Output, _, _ = strings.Cut(string(b), "\n")
			}
			if err := os.RemoveAll(dir); err != nil {
				f.log.Error("spool of a former output: remove failed", "dir", dir, "err", err)
				continue
			}
			f.removed = append(f.removed, r)
			if r.Records > 0 {
				f.log.Error("spool of a former output deleted with undelivered records", "dir", dir,
					"output", r.Output, "records", r.Records, "bytes", r.Bytes)
			} else {
				f.log.Info("empty spool of a former output deleted", "dir", dir, "output", r.Output)
			}
		}
	}
}

// isSpoolID reports whether name looks like a spool directory's name (the
// 16 hex digits of parseOutput's id), so nothing else in the parent is
// touched.
func isSpoolID(name string) bool {
	if len(name) != 16 {
		return false
	}
	for _, c := range name {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Validate checks outputs as New would, without opening files, spools or
// connections: for `argus-sensor check --config`, and for a reload that
// must be refused before the running outputs are touched.
func Validate(outputs []Output) error {
	seen := map[string]string{}
	for i := range outputs {
		p, err := parseOutput(outputs[i])
		if err != nil {
			return err
		}
		if prev, dup := seen[p.id]; dup {
			return badOutput(&outputs[i], "", fmt.Errorf("same destination and format as output %q", prev))
		}
		seen[p.id] = p.name
		// Certificates and keys are read here too: a file that does not
		// load is a bad configuration, not a delivery failure.
		switch p.kind {
		case kindSyslogTLS:
			if _, err := tlsConfig(p.Syslog.TLS, p.host); err != nil {
				return badOutput(&p.Output, "tls", err)
			}
		case kindHTTP:
			if _, err := tlsConfig(p.HTTP.TLS, p.host); err != nil {
				return badOutput(&p.Output, "tls", err)
			}
			if p.HTTP.TokenFile != "" {
				if _, err := os.ReadFile(p.HTTP.TokenFile); err != nil {
					return badOutput(&p.Output, "token_file", err)
				}
			}
		}
	}
	return nil
}

func (f *Forwarder) formatIndex(fm format.Format) int {
	for i, x := range f.formats {
		if x == fm {
			return i
		}
	}
	f.formats = append(f.formats, fm)
	f.enc = append(f.enc, make([]byte, 0, 4096))
	f.encoded = append(f.encoded, false)
	return len(f.formats) - 1
}

func (f *Forwarder) build(p *parsedOutput, spoolDir string, res *net.Resolver) (*sink, error) {
	qb := p.QueueBytes
	if qb <= 0 {
		qb = DefaultQueueBytes
	}
	fm := p.Format
	if p.kind == kindStdout {
		fm = format.ForTerminal(fm, os.Stdout)
	}
	s := &sink{
		name: p.name, format: p.Format, fidx: f.formatIndex(fm),
		q: newMemQueue(qb), log: f.log.With("output", p.name), filter: p.filter,
	}
	var err error
	switch p.kind {
	case kindStdout:
		s.local = openStdout()
		return s, nil
	case kindFile:
		if s.local, err = openFile(p.path, p.File); err != nil {
			return nil, badOutput(&p.Output, "path", err)
		}
		return s, nil
	case kindSyslogUDP, kindSyslogTCP, kindSyslogTLS, kindSyslogRELP:
		if p.kind == kindSyslogRELP {
			s.d = newRELPSink(p)
		} else if s.d, err = newSyslogSink(p); err != nil {
			return nil, badOutput(&p.Output, "", err)
		}
		s.envelope = syslogEnvelope(p)
		s.maxRecords, s.maxBytes = 1000, 4<<20
		s.backoff = p.Syslog.Backoff
		if s.backoff.Max <= 0 {
			s.backoff.Max = 30 * time.Second
		}
	case kindHTTP:
		h, err := newHTTPSink(p, s.log)
		if err != nil {
			return nil, badOutput(&p.Output, "", err)
		}
		s.d = h
		if h.mode == "splunk_hec" {
			s.envelope = h.envelope
		}
		s.maxRecords, s.maxBytes = h.payloadLimits()
		s.backoff = p.HTTP.Backoff
	}
	if err := checkResolvable(f.ctx, res, p.host); err != nil {
		s.d.close()
		return nil, badOutput(&p.Output, "host", err)
	}
	if p.Spool.Dir == "" {
		p.Spool.Dir = spoolDir
	}
	if p.Spool.Dir == "" {
		p.Spool.Dir = spool.DefaultDir
	}
	dir := filepath.Join(p.Spool.Dir, p.id)
	if s.spool, err = spool.Open(dir, p.Spool, s.log); err != nil {
		s.d.close()
		return nil, badOutput(&p.Output, "spool_dir", err)
	}
	// Say whose spool this is, for whoever looks in the directory.
	os.WriteFile(filepath.Join(dir, "output"), []byte(p.name+"\nformat="+string(p.Format)+"\n"), 0o600)
	return s, nil
}

// abort releases what New built before failing.
func (f *Forwarder) abort() {
	for _, s := range f.sinks {
		if s.local != nil && s.local.path != "" {
			s.local.close()
		}
		if s.d != nil {
			s.d.close()
		}
		if s.spool != nil {
			s.spool.Close()
		}
	}
	f.cancel()
}

func (f *Forwarder) start(s *sink) {
	if s.local != nil {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			s.runLocal()
		}()
		return
	}
	s.spoolerDone = make(chan struct{})
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		s.runSpooler()
	}()
	go func() {
		defer f.wg.Done()
		s.runSender(f.ctx)
	}()
}

// Send hands r to every sink. It never blocks on a sink: a sink whose
// queue is full counts the record in QueueDropped. r is not retained.
// Send after Close drops r.
func (f *Forwarder) Send(r *event.Record) {
	if f.closed.Load() {
		return
	}
	f.mu.Lock()
	for i := range f.encoded {
		f.encoded[i] = false
	}
	env := filter.NewEnv(r)
	for _, s := range f.sinks {
		if s.filter != nil {
			if keep, _ := s.filter.Keep(r, env); !keep {
				s.filtered.Add(1)
				continue
			}
		}
		if !f.encoded[s.fidx] {
			f.enc[s.fidx] = f.formats[s.fidx].Append(f.enc[s.fidx][:0], r)
			f.encoded[s.fidx] = true
		}
		p := f.enc[s.fidx]
		if s.envelope != nil {
			var ok bool
			if s.scratch, ok = s.envelope(s.scratch[:0], r, p); !ok {
				s.oversize.Add(1)
				continue
			}
			p = s.scratch
		}
		s.q.Put(p)
	}
	f.mu.Unlock()
}

// Stats returns every sink's counters, in output order.
func (f *Forwarder) Stats() []SinkStats {
	out := make([]SinkStats, 0, len(f.sinks))
	for _, s := range f.sinks {
		st := SinkStats{
			Name: s.name, Format: s.format,
			Sent: s.sent.Load(), Bytes: s.bytes.Load(), Batches: s.batches.Load(),
			Filtered: s.filtered.Load(), FilterErrors: s.filter.Errors(),
			Errors: s.errs.Load(), Retries: s.retries.Load(),
			QueueDropped: s.q.Dropped(),
			Rejected:     s.rejected.Load(), Oversize: s.oversize.Load(),
			WriteDropped:     s.writeDropped.Load(),
			ReceiverRefusing: s.refusing.Load(), ConfigRefusals: s.configRefusals.Load(),
		}
		st.QueueRecords, st.QueueBytes = s.q.Depth()
		if s.spool != nil {
			st.SpoolRecords, st.SpoolBytes = s.spool.Depth()
			st.SpoolDropped, st.SpoolCorrupt = s.spool.Counters()
		}
		s.errMu.Lock()
		st.LastError, st.LastErrorAt = s.lastErr, s.lastErrAt
		s.errMu.Unlock()
		out = append(out, st)
	}
	return out
}

// Close stops accepting records and drains: queues go to their files or
// spools, and network sinks keep delivering until their spool is empty or
// ctx is done. What is still spooled then is delivered after the next
// New on the same spool directory. Close returns ctx's error if it had
// to abandon delivery, joined with any error closing the sinks.
func (f *Forwarder) Close(ctx context.Context) error {
	if !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Send may be mid-record: take its lock so no Put races the close.
	f.mu.Lock()
	for _, s := range f.sinks {
		s.q.Close()
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	var errs []error
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close forwarder: delivery abandoned, records stay spooled: %w", ctx.Err()))
		f.cancel()
		<-done
	}
	f.cancel()
	for _, s := range f.sinks {
		if s.local != nil {
			if err := s.local.close(); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := s.d.close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.name, err))
		}
		if err := s.spool.Close(); err != nil {
			errs = append(errs, err)
		}
		if r, b := s.spool.Depth(); r > 0 {
			s.log.Info("output closed with records spooled", "records", r, "bytes", b)
		}
	}
	return errors.Join(errs...)
}

// Handover closes the forwarder for a successor on the same spools (a
// reload): queues are written to their files and spools, delivery in
// flight is abandoned at once (those records stay spooled and are sent
// again by the successor), and no receiver is waited for. It returns the
// errors closing the sinks.
func (f *Forwarder) Handover() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.Close(ctx)
	if errors.Is(err, context.Canceled) {
		// Abandoning delivery is the point here; only other errors count.
		var rest []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				if !errors.Is(e, context.Canceled) {
					rest = append(rest, e)
				}
			}
		}
		return errors.Join(rest...)
	}
	return err
}

// runLocal writes queue batches to stdout or a file.
func (s *sink) runLocal() {
	var spare []byte
	for {
		<-s.q.notify
		batch, n, closed := s.q.Take(spare)
		if n > 0 {
			recs, bytes, err := s.local.write(batch)
			s.sent.Add(uint64(recs))
			s.bytes.Add(uint64(bytes))
			s.batches.Add(1)
			if err != nil {
				// A local sink has no spool: what failed is lost, and
				// counted.
				s.writeDropped.Add(uint64(n - recs))
				s.fail(err)
			} else {
				s.recovered()
			}
		}
		spare = batch
		if closed {
			return
		}
	}
}

// runSpooler moves queue batches to the disk spool and fsyncs it on its
// interval.
func (s *sink) runSpooler() {
	defer close(s.spoolerDone)
	var tick <-chan time.Time
	if iv := s.spool.SyncInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	var spare []byte
	for {
		select {
		case <-s.q.notify:
		case <-tick:
			if err := s.spool.Sync(); err != nil {
				s.fail(err)
			}
			continue
		}
		batch, n, closed := s.q.Take(spare)
		if n > 0 {
			if err := s.spool.Append(batch, n); err != nil {
				s.fail(err)
			}
		}
		spare = batch
		if closed {
			return
		}
	}
}

// runSender delivers from the spool in order, one batch at a time,
// retrying a failed batch with backoff until it is accepted; only then is
// the cursor moved past it. It returns once the spooler is done and the
// spool is empty, or when ctx is cancelled.
func (s *sink) runSender(ctx context.Context) {
	attempt := 0
	finishing := false
	for {
		recs, end, err := s.spool.Peek(s.maxRecords, s.maxBytes)
		if err != nil {
			if s.spool.Closed() || ctx.Err() != nil {
				return
			}
			// A read error (EIO) may pass; stopping here would stop
			// this output until the sensor restarted. Retry as for a
			// failed delivery.
			s.fail(err)
			s.retries.Add(1)
			if !sleepCtx(ctx, s.backoff.Delay(attempt)) {
				return
			}
			attempt++
			continue
		}
		if len(recs) == 0 {
			select {
			case <-s.spoolerDone:
				// Nothing more will be appended. The empty look may have
				// come just before the spooler's last batch: look once more.
				if finishing {
					return
				}
				finishing = true
				continue
			default:
			}
			select {
			case <-s.spool.Notify():
			case <-s.spoolerDone:
			case <-ctx.Done():
				return
			}
			continue
		}
		for {
			rejected, err := s.d.deliver(ctx, recs)
			if err == nil {
				var n uint64
				for _, r := range recs {
					n += uint64(len(r))
				}
				s.sent.Add(uint64(len(recs) - rejected))
				s.rejected.Add(uint64(rejected))
				s.bytes.Add(n)
				s.batches.Add(1)
				if attempt > 0 {
					s.log.Info("output delivering again", "retries", attempt)
				}
				s.refusing.Store(false)
				s.recovered()
				break
			}
			if ctx.Err() != nil {
				return // stopping: the batch stays spooled
			}
			var refusal *receiverRefusal
			if errors.As(err, &refusal) {
				s.configRefusals.Add(1)
				if !s.refusing.Swap(true) {
					s.log.Error("receiver refuses every record: fix its configuration; records stay spooled and are retried",
						"err", err)
				}
			}
			s.fail(err)
			wait := s.backoff.Delay(attempt)
			var ra *retryAfter
			if errors.As(err, &ra) && ra.after > wait {
				wait = min(ra.after, s.backoff.withDefaults().Max)
			}
			attempt++
			s.retries.Add(1)
			if !sleepCtx(ctx, wait) {
				return
			}
		}
		attempt = 0
		if !s.spool.Ack(end) {
			// The batch's segment was dropped while it was in flight; it
			// was delivered all the same.
			s.spool.Delivered(uint64(len(recs)))
		}
	}
}

// sleepCtx waits d, reporting false if ctx was cancelled first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail counts and records err, logging the first failure of a run and
// then at most every 30 seconds.
func (s *sink) fail(err error) {
	s.errs.Add(1)
	now := time.Now()
	s.errMu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), now
	log := !s.failing || now.Sub(s.lastLog) >= 30*time.Second
	if log {
		s.lastLog = now
	}
	s.failing = true
	s.errMu.Unlock()
	if log {
		s.log.Warn("output failing", "err", err)
	}
}

func (s *sink) recovered() {
	s.errMu.Lock()
	s.failing = false
	s.errMu.Unlock()
}
