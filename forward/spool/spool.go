package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Spool defaults.
const (
	DefaultDir          = "/var/lib/argus-sensor/spool"
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentBytes = 16 << 20
	DefaultSync         = time.Second
	minSpoolBytes       = 1 << 20
	frameHeader         = 8
	// maxFrame bounds one record so a corrupt length cannot make the
	// reader allocate gigabytes.
	maxFrame    = 64 << 20
	cursorSize  = 32
	cursorMagic = 0x41524731 // "ARG1"
	segSuffix   = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configures a network sink's disk spool.
type Options struct {
	// Dir is the parent directory; each sink spools in its own
	// subdirectory named by a hash of its spec and format. Default
	// DefaultDir.
	Dir string
	// MaxBytes bounds the spool on disk. When a record would exceed it,
	// the oldest segment is deleted and its unsent records are counted
	// as dropped. Default 1 GiB; at least 1 MiB.
	MaxBytes int64
	// SegmentBytes is the size at which the spool starts a new segment
	// file, and so the granularity of deletion. Default 16 MiB, and at
	// most MaxBytes/4.
	SegmentBytes int64
	// SyncInterval is how often written records are fsynced. Zero is
	// DefaultSync; negative fsyncs after every write.
	SyncInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < minSpoolBytes {
		o.MaxBytes = minSpoolBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentBytes > o.MaxBytes/4 {
		o.SegmentBytes = o.MaxBytes / 4
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSync
	}
	return o
}

// Pos is a place in the spool: a segment (named by the number of its
// first record), a byte offset in it, and the number of the record there.
// Record numbers grow by one per record for the life of the spool
// directory, so depth is a subtraction and order is a comparison.
type Pos struct {
	seg uint64
	off int64
	rec uint64
}

type segment struct {
	first uint64
	// size counts bytes written to the file; readers only look below it.
	size int64
}

// Spool is a directory of append-only segment files holding framed
// records, and a cursor file holding the position up to which the
// receiver has acknowledged them. See doc.go for the layout.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	mu      sync.Mutex
	segs    []segment
	tail    *os.File // the last segment, open for appending
	next    uint64   // number of the next record appended
	total   int64    // bytes in all segments
	cursor  Pos
	cursorF *os.File
	cbuf    [cursorSize]byte
	wbuf    []byte
	dirty   bool
	closed  bool

	dropped uint64 // records deleted unsent because the spool was full
	corrupt uint64 // records lost to a frame that failed its checksum
	lastErr error

	// notify has a token when records were appended since the reader
	// last looked.
	notify chan struct{}

	// Copies of the counters for Stats, which the pipeline goroutine may
	// call: it must not wait for the lock while a rotation fsyncs.
	pubRecords, pubDropped, pubCorrupt atomic.Uint64
	pubBytes                           atomic.Int64

	// Reader state, used only by the sink's sender goroutine.
	rf   *os.File
	rseg uint64
	rbuf []byte
	recs [][]byte
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// Open opens (creating) the spool in dir, recovering from a crash:
// a torn last frame is cut off, consumed segments are deleted, and a
// missing or damaged cursor restarts delivery at the oldest record.
func Open(dir string, opts Options, log *slog.Logger) (*Spool, error) {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open spool %s: in use by another process: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, log: log, lock: lock, notify: make(chan struct{}, 1)}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	return s, nil
}

func (s *Spool) recover() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		s.segs = append(s.segs, segment{first: first, size: info.Size()})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].first < s.segs[j].first })

	s.cursorF, err = os.OpenFile(filepath.Join(s.dir, "cursor"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	cur, curOK := s.readCursor()

	// The last segment may end in a frame a crash cut short.
	if n := len(s.segs); n > 0 {
		last := &s.segs[n-1]
		end, count, err := scanSegment(filepath.Join(s.dir, segName(last.first)), -1)
		if err != nil {
			return err
		}
		if end != last.size {
			s.log.Warn("spool: cut torn tail", "dir", s.dir, "segment", segName(last.first),
				"size", last.size, "valid", end)
			if err := os.Truncate(filepath.Join(s.dir, segName(last.first)), end); err != nil {
				return err
			}
			last.size = end
		}
		s.next = last.first + count
	} else if curOK {
		s.next = cur.rec
	}
	if curOK && cur.rec > s.next {
		curOK = false
	}

	// Segments wholly before the cursor were delivered; a crash may have
	// come between the cursor write and their deletion.
	// Segment ranges do not overlap, so one that starts before the
	// cursor's segment ends before it.
	for curOK && len(s.segs) > 0 && s.segs[0].first < cur.seg {
		if err := os.Remove(filepath.Join(s.dir, segName(s.segs[0].first))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
	}
	switch {
	case len(s.segs) == 0:
		s.cursor = Pos{seg: s.next, rec: s.next}
	case curOK && cur.seg == s.segs[0].first:
		// Trust the offset only if it falls on a frame boundary.
		end, count, err := scanSegment(filepath.Join(s.dir, segName(cur.seg)), cur.off)
		if err == nil && end == cur.off {
			s.cursor = Pos{seg: cur.seg, off: end, rec: cur.seg + count}
		} else {
			s.cursor = Pos{seg: cur.seg, rec: cur.seg}
		}
	default:
		s.cursor = Pos{seg: s.segs[0].first, rec: s.segs[0].first}
	}
	for _, sg := range s.segs {
		s.total += sg.size
	}
	s.publish()
	if n := len(s.segs); n > 0 {
		s.tail, err = os.OpenFile(filepath.Join(s.dir, segName(s.segs[n-1].first)), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
	}
	return s.writeCursor()
}

// scanSegment walks the frames of a segment file and returns the offset
// after the last whole, checksummed frame and the number of frames before
// it. With limit >= 0 it stops at the first frame starting at or after
// limit.
func scanSegment(path string, limit int64) (end int64, count uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var hdr [frameHeader]byte
	var payload []byte
	for limit < 0 || end < limit {
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			return end, count, nil
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n > maxFrame {
			return end, count, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(f, payload); err != nil {
			return end, count, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return end, count, nil
		}
		end += frameHeader + int64(n)
		count++
	}
	return end, count, nil
}

// The cursor file is one 32-byte record rewritten in place: magic,
// segment, offset, record number, CRC. A write that tears fails the CRC,
// and delivery restarts at the oldest segment: duplicates, never loss.
func (s *Spool) readCursor() (Pos, bool) {
	var b [cursorSize]byte
	if _, err := s.cursorF.ReadAt(b[:], 0); err != nil {
		return Pos{}, false
	}
	if binary.LittleEndian.Uint32(b[0:4]) != cursorMagic ||
		crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:32]) {
		return Pos{}, false
	}
	return Pos{
		seg: binary.LittleEndian.Uint64(b[4:12]),
		off: int64(binary.LittleEndian.Uint64(b[12:20])),
		rec: binary.LittleEndian.Uint64(b[20:28]),
	}, true
}

func (s *Spool) writeCursor() error {
	b := s.cbuf[:]
	binary.LittleEndian.PutUint32(b[0:4], cursorMagic)
	binary.LittleEndian.PutUint64(b[4:12], s.cursor.seg)
	binary.LittleEndian.PutUint64(b[12:20], uint64(s.cursor.off))
	binary.LittleEndian.PutUint64(b[20:28], s.cursor.rec)
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[:28], castagnoli))
	_, err := s.cursorF.WriteAt(b, 0)
	return err
}

// Append writes the records of a memQueue batch. It never blocks on the
// receiver: when the spool is full it deletes the oldest segment. A
// write error loses the batch, which is counted in dropped.
func (s *Spool) Append(batch []byte, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.publish()
	if s.closed {
		s.dropped += uint64(n)
		return errors.New("spool closed")
	}
	err := EachFrame(batch, func(rec []byte) error {
		size := int64(frameHeader + len(rec))
		if size > s.opts.MaxBytes || len(rec) > maxFrame {
			s.dropped++
			s.log.Warn("spool: record larger than the spool dropped", "dir", s.dir, "bytes", len(rec))
			return nil
		}
		last := len(s.segs) - 1
		if s.tail == nil || s.segs[last].size+int64(len(s.wbuf)) > 0 &&
			s.segs[last].size+int64(len(s.wbuf))+size > s.opts.SegmentBytes {
			if err := s.rotate(); err != nil {
				return err
			}
		}
		for s.total+int64(len(s.wbuf))+size > s.opts.MaxBytes && len(s.segs) > 1 {
			if err := s.dropOldest(); err != nil {
				return err
			}
		}
		s.wbuf = binary.LittleEndian.AppendUint32(s.wbuf, uint32(len(rec)))
		s.wbuf = binary.LittleEndian.AppendUint32(s.wbuf, crc32.Checksum(rec, castagnoli))
		s.wbuf = append(s.wbuf, rec...)
		s.next++
		if len(s.wbuf) >= 1<<20 {
			return s.flushLocked()
		}
		return nil
	})
	if err == nil {
		err = s.flushLocked()
	}
	if err != nil {
		s.lastErr = err
		return fmt.Errorf("append spool %s: %w", s.dir, err)
	}
	if s.opts.SyncInterval < 0 {
		if err := s.tail.Sync(); err != nil {
			return fmt.Errorf("sync spool %s: %w", s.dir, err)
		}
	} else {
		s.dirty = true
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// flushLocked writes the pending frames to the tail. On a short write
// the tail is cut back to its last whole frame and the pending records
// are counted as dropped, so the file never holds a partial frame that a
// later frame follows.
func (s *Spool) flushLocked() error {
	if len(s.wbuf) == 0 {
		return nil
	}
	last := &s.segs[len(s.segs)-1]
	if _, err := s.tail.Write(s.wbuf); err != nil {
		lost := uint64(0)
		for b := s.wbuf; len(b) >= frameHeader; {
			n := int(binary.LittleEndian.Uint32(b))
			b = b[frameHeader+n:]
			lost++
		}
		s.next -= lost
		s.dropped += lost
		s.wbuf = s.wbuf[:0]
		if terr := s.tail.Truncate(last.size); terr != nil {
			// The tail can no longer be trusted: seal it so new records
			// start a clean segment.
			s.tail.Close()
			s.tail = nil
		}
		return err
	}
	last.size += int64(len(s.wbuf))
	s.total += int64(len(s.wbuf))
	s.wbuf = s.wbuf[:0]
	return nil
}

// rotate seals the tail (fsynced: a sealed segment is never written
// again) and starts a new one named by the next record number.
func (s *Spool) rotate() error {
	if s.tail != nil {
		if err := s.flushLocked(); err != nil {
			return err
		}
		if err := s.tail.Sync(); err != nil {
			return err
		}
		s.tail.Close()
		s.tail = nil
	}
	if n := len(s.segs); n > 0 && s.segs[n-1].first == s.next {
		// The last segment holds no records (a failed write emptied it):
		// reuse it rather than create a second file of the same name.
		f, err := os.OpenFile(filepath.Join(s.dir, segName(s.next)), os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		s.total -= s.segs[n-1].size
		s.segs[n-1].size = 0
		s.tail = f
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.dir, segName(s.next)), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	s.tail = f
	s.segs = append(s.segs, segment{first: s.next})
	syncDir(s.dir)
	return nil
}

// dropOldest deletes the oldest segment to make room, counting its
// records that had not been acknowledged.
func (s *Spool) dropOldest() error {
	old := s.segs[0]
	count := s.segs[1].first - old.first
	lost := uint64(0)
	if s.cursor.seg <= old.first {
		lost = old.first + count - s.cursor.rec
	}
	if err := os.Remove(filepath.Join(s.dir, segName(old.first))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.segs = s.segs[1:]
	s.total -= old.size
	s.dropped += lost
	if s.cursor.seg <= old.first {
		s.cursor = Pos{seg: s.segs[0].first, rec: s.segs[0].first}
		if err := s.writeCursor(); err != nil {
			return err
		}
	}
	s.log.Warn("spool full: dropped oldest records", "dir", s.dir, "records", lost,
		"max_bytes", s.opts.MaxBytes, "dropped_total", s.dropped)
	return nil
}

// Peek returns up to maxRecords records (at least one if any is waiting,
// however large) from the acknowledged cursor on, totalling at most
// maxBytes, and the position after them to pass to Ack. The records
// point into a buffer that the next Peek reuses.
func (s *Spool) Peek(maxRecords, maxBytes int) ([][]byte, Pos, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, Pos{}, errors.New("spool closed")
		}
		c := s.cursor
		i := -1
		for j := range s.segs {
			if s.segs[j].first == c.seg {
				i = j
				break
			}
		}
		if i < 0 {
			s.mu.Unlock()
			return nil, c, nil
		}
		size := s.segs[i].size
		last := i == len(s.segs)-1
		var nextSeg uint64
		if !last {
			nextSeg = s.segs[i+1].first
		}
		s.mu.Unlock()

		if c.off >= size {
			if last {
				return nil, c, nil
			}
			// The sealed segment is used up: move on, deleting it.
			s.Ack(Pos{seg: nextSeg, rec: nextSeg})
			continue
		}
		recs, end, err := s.read(c, size, maxRecords, maxBytes)
		if err == errCorrupt {
			s.skipCorrupt(c, last, nextSeg)
			continue
		}
		return recs, end, err
	}
}

var errCorrupt = errors.New("corrupt frame")

func (s *Spool) read(c Pos, size int64, maxRecords, maxBytes int) ([][]byte, Pos, error) {
	if s.rf == nil || s.rseg != c.seg {
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
		}
		f, err := os.Open(filepath.Join(s.dir, segName(c.seg)))
		if err != nil {
			return nil, c, fmt.Errorf("read spool %s: %w", s.dir, err)
		}
		s.rf, s.rseg = f, c.seg
	}
	want := int64(maxBytes) + int64(maxRecords)*frameHeader
	if want < 64<<10 {
		want = 64 << 10
	}
	if avail := size - c.off; want > avail {
		want = avail
	}
	buf, err := s.readAt(0, c.off, int(want))
	if err != nil {
		return nil, c, err
	}
	recs := s.recs[:0]
	pos, total := 0, 0
	end := c
	for len(recs) < maxRecords {
		if len(buf)-pos < frameHeader {
			break
		}
		n := int(binary.LittleEndian.Uint32(buf[pos:]))
		if n > maxFrame || c.off+int64(pos+frameHeader+n) > size {
			return nil, c, errCorrupt
		}
		if len(recs) > 0 && total+n > maxBytes {
			break
		}
		if pos+frameHeader+n > len(buf) {
			if len(recs) > 0 {
				break
			}
			// One record larger than the read: fetch it whole.
			if buf, err = s.readAt(pos, c.off+int64(pos), frameHeader+n); err != nil {
				return nil, c, err
			}
		}
		payload := buf[pos+frameHeader : pos+frameHeader+n]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(buf[pos+4:]) {
			if len(recs) > 0 {
				break
			}
			return nil, c, errCorrupt
		}
		recs = append(recs, payload)
		pos += frameHeader + n
		total += n
		end.off = c.off + int64(pos)
		end.rec++
	}
	s.recs = recs
	return recs, end, nil
}

// readAt reads n bytes at off into s.rbuf[keep:], keeping the first keep
// bytes, and returns s.rbuf.
func (s *Spool) readAt(keep int, off int64, n int) ([]byte, error) {
	if cap(s.rbuf) < keep+n {
		nb := make([]byte, keep, keep+n)
		copy(nb, s.rbuf[:keep])
		s.rbuf = nb
	}
	s.rbuf = s.rbuf[:keep+n]
	if _, err := s.rf.ReadAt(s.rbuf[keep:], off); err != nil {
		return nil, fmt.Errorf("read spool %s: %w", s.dir, err)
	}
	return s.rbuf, nil
}

// skipCorrupt gives up on the rest of a segment whose frame failed its
// checksum (disk damage: frames cannot be resynchronised), counting its
// remaining records as lost.
func (s *Spool) skipCorrupt(c Pos, last bool, nextSeg uint64) {
	s.mu.Lock()
	if last {
		// Seal the damaged tail so later records land in a new segment.
		if err := s.rotate(); err != nil {
			s.lastErr = err
		}
		nextSeg = s.next
		if len(s.segs) > 0 {
			nextSeg = s.segs[len(s.segs)-1].first
		}
	}
	lost := nextSeg - c.rec
	s.corrupt += lost
	s.publish()
	s.mu.Unlock()
	s.log.Error("spool: corrupt record, skipping the rest of the segment", "dir", s.dir,
		"segment", segName(c.seg), "offset", c.off, "records_lost", lost)
	s.Ack(Pos{seg: nextSeg, rec: nextSeg})
}

// Ack records that everything before p was delivered, deleting segments
// wholly before it, and reports whether p was ahead of the cursor. An Ack
// behind the cursor is ignored: the spool filled up while the batch was
// in flight and dropped its segment, counting its records as dropped.
func (s *Spool) Ack(p Pos) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.publish()
	if s.closed || p.rec < s.cursor.rec || p.rec == s.cursor.rec && p.seg <= s.cursor.seg && p.off <= s.cursor.off {
		return false
	}
	s.cursor = p
	for len(s.segs) > 1 && s.segs[0].first < p.seg {
		if err := os.Remove(filepath.Join(s.dir, segName(s.segs[0].first))); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.lastErr = err
			break
		}
		s.total -= s.segs[0].size
		s.segs = s.segs[1:]
	}
	if err := s.writeCursor(); err != nil {
		s.lastErr = err
	}
	return true
}

// Delivered corrects the drop count for n records that dropOldest counted
// while they were in flight, and that the receiver then accepted.
func (s *Spool) Delivered(n uint64) {
	s.mu.Lock()
	s.dropped -= min(n, s.dropped)
	s.publish()
	s.mu.Unlock()
}

// Notify has a token when records were appended since the reader last
// looked: the reader sleeps on it when Peek finds nothing.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// SyncInterval is how often the writer should call Sync; negative means
// Append syncs every write itself.
func (s *Spool) SyncInterval() time.Duration { return s.opts.SyncInterval }

// Sync fsyncs what was appended since the last Sync, and the cursor.
func (s *Spool) Sync() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	f, cf, dirty := s.tail, s.cursorF, s.dirty
	s.dirty = false
	s.mu.Unlock()
	// fsync outside the lock: the sender must not wait on the disk.
	var err error
	if dirty && f != nil {
		if err = f.Sync(); errors.Is(err, os.ErrClosed) {
			err = nil // rotated meanwhile, and rotation syncs
		}
	}
	if cerr := cf.Sync(); err == nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	return err
}

// publish copies the counters for Depth and Counters; s.mu is held.
func (s *Spool) publish() {
	s.pubRecords.Store(s.next - s.cursor.rec)
	s.pubBytes.Store(s.total - s.cursor.off)
	s.pubDropped.Store(s.dropped)
	s.pubCorrupt.Store(s.corrupt)
}

// Depth returns the records and bytes not yet acknowledged.
func (s *Spool) Depth() (records uint64, bytes int64) {
	return s.pubRecords.Load(), s.pubBytes.Load()
}

// Counters returns the records dropped because the spool was full or
// unwritable, and the records lost to corruption.
func (s *Spool) Counters() (dropped, corrupt uint64) {
	return s.pubDropped.Load(), s.pubCorrupt.Load()
}

// Close syncs and closes the spool; what was not acknowledged is
// delivered after the next open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.tail != nil {
		err = s.flushLocked()
		if serr := s.tail.Sync(); err == nil {
			err = serr
		}
	}
	if werr := s.writeCursor(); err == nil {
		err = werr
	}
	if serr := s.cursorF.Sync(); err == nil {
		err = serr
	}
	s.closeFiles()
	if err != nil {
		return fmt.Errorf("close spool %s: %w", s.dir, err)
	}
	return nil
}

func (s *Spool) closeFiles() {
	for _, f := range []*os.File{s.tail, s.cursorF, s.rf} {
		if f != nil {
			f.Close()
		}
	}
	s.tail, s.cursorF, s.rf = nil, nil, nil
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
}

// syncDir makes a new segment's directory entry durable; without it a
// power loss could lose a whole fsynced segment.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// AppendFrame appends rec to a batch, framed with its 4-byte length: the
// framing of the batches Append takes (and a sink's memory queue holds).
func AppendFrame(batch, rec []byte) []byte {
	batch = binary.LittleEndian.AppendUint32(batch, uint32(len(rec)))
	return append(batch, rec...)
}

// EachFrame calls fn for every record of a batch AppendFrame built.
func EachFrame(batch []byte, fn func(rec []byte) error) error {
	for len(batch) >= 4 {
		n := int(binary.LittleEndian.Uint32(batch))
		if err := fn(batch[4 : 4+n]); err != nil {
			return err
		}
		batch = batch[4+n:]
	}
	return nil
}
