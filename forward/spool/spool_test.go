package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// batchOf frames records as memQueue.Take returns them.
func batchOf(recs ...[]byte) ([]byte, int) {
	var b []byte
	for _, r := range recs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b, len(recs)
}

func rec(i int) []byte { return []byte(fmt.Sprintf("record-%07d-%s", i, strings.Repeat("x", i%97))) }

func recNum(t testing.TB, b []byte) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(string(b), "record-%07d-", &n); err != nil {
		t.Fatalf("bad record %q", b)
	}
	return n
}

func testSpool(t testing.TB, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendRange(t testing.TB, s *Spool, from, to int) {
	t.Helper()
	var recs [][]byte
	for i := from; i < to; i++ {
		recs = append(recs, rec(i))
	}
	b, n := batchOf(recs...)
	if err := s.Append(b, n); err != nil {
		t.Fatal(err)
	}
}

// drain reads and acknowledges up to max records, returning their
// numbers.
func drain(t testing.TB, s *Spool, max int) []int {
	t.Helper()
	var out []int
	for len(out) < max {
		recs, end, err := s.Peek(min(50, max-len(out)), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			out = append(out, recNum(t, r))
		}
		s.Ack(end)
	}
	return out
}

func TestSpoolOrderAndRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxBytes: 64 << 20, SegmentBytes: 4 << 10}
	s := testSpool(t, dir, o)
	appendRange(t, s, 0, 500)
	got := drain(t, s, 200)
	// Peek without Ack, then restart: those records come again.
	if recs, _, _ := s.Peek(10, 1<<20); len(recs) != 10 || recNum(t, recs[0]) != 200 {
		t.Fatalf("peek after 200 acked: %d records", len(recs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = testSpool(t, dir, o)
	defer s.Close()
	if r, _ := s.Depth(); r != 300 {
		t.Fatalf("depth after reopen = %d, want 300", r)
	}
	appendRange(t, s, 500, 600)
	got = append(got, drain(t, s, 1000)...)
	for i, n := range got {
		if n != i {
			t.Fatalf("record %d delivered as %d", i, n)
		}
	}
	if len(got) != 600 {
		t.Fatalf("delivered %d, want 600", len(got))
	}
	// Delivered segments are deleted; the tail stays.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Errorf("%d segments left after full delivery, want 1", len(segs))
	}
	if r, b := s.Depth(); r != 0 || b != 0 {
		t.Errorf("depth %d records %d bytes after full delivery", r, b)
	}
}

func TestSpoolTornTailAndBadCursor(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxBytes: 64 << 20}
	s := testSpool(t, dir, o)
	appendRange(t, s, 0, 100)
	drain(t, s, 40)
	s.Close()

	// A crash mid-write leaves half a frame.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'p', 'a', 'r'})
	f.Close()
	s = testSpool(t, dir, o)
	appendRange(t, s, 100, 110)
	got := drain(t, s, 1000)
	if len(got) != 70 || got[0] != 40 || got[69] != 109 {
		t.Fatalf("after torn tail got %d records %v...", len(got), got[:min(3, len(got))])
	}
	s.Close()

	// A damaged cursor restarts at the oldest record: duplicates, not loss.
	s = testSpool(t, dir, o)
	appendRange(t, s, 110, 120)
	s.Close()
	os.WriteFile(filepath.Join(dir, "cursor"), bytes.Repeat([]byte{0xff}, cursorSize), 0o600)
	s = testSpool(t, dir, o)
	defer s.Close()
	got = drain(t, s, 1000)
	if len(got) == 0 || got[len(got)-1] != 119 {
		t.Fatalf("after bad cursor: %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("gap after bad cursor: %v", got)
		}
	}
	if got[0] > 110 {
		t.Fatalf("records lost after bad cursor: first %d", got[0])
	}
}

func TestSpoolFullDropsOldest(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxBytes: minSpoolBytes, SegmentBytes: 64 << 10}
	s := testSpool(t, dir, o)
	defer s.Close()
	const n = 40000 // about 4 MiB of records into a 1 MiB spool
	for i := 0; i < n; i += 1000 {
		appendRange(t, s, i, i+1000)
	}
	dropped, _ := s.Counters()
	pending, bytes := s.Depth()
	if dropped == 0 {
		t.Fatal("spool over its bound dropped nothing")
	}
	if bytes > o.MaxBytes {
		t.Errorf("spool holds %d bytes, bound %d", bytes, o.MaxBytes)
	}
	got := drain(t, s, n)
	if uint64(len(got)) != pending || uint64(len(got))+dropped != n {
		t.Fatalf("delivered %d + dropped %d != %d sent (pending was %d)", len(got), dropped, n, pending)
	}
	// The newest survive, in order: the oldest were dropped.
	for i, v := range got {
		if v != n-len(got)+i {
			t.Fatalf("record %d is %d: not the newest in order", i, v)
		}
	}
}

func TestSpoolDropWhileInFlight(t *testing.T) {
	s := testSpool(t, t.TempDir(), Options{MaxBytes: minSpoolBytes, SegmentBytes: 64 << 10})
	defer s.Close()
	appendRange(t, s, 0, 100)
	recs, end, _ := s.Peek(100, 1<<20)
	first := recNum(t, recs[0])
	for i := 100; i < 40000; i += 1000 {
		appendRange(t, s, i, i+1000)
	}
	s.Ack(end) // stale: its segment was dropped meanwhile
	got := drain(t, s, 1)
	if first != 0 || got[0] <= 99 {
		t.Fatalf("stale ack moved the cursor back: first pending %d", got[0])
	}
}

func TestSpoolLargeRecord(t *testing.T) {
	s := testSpool(t, t.TempDir(), Options{MaxBytes: 8 << 20, SegmentBytes: 64 << 10})
	defer s.Close()
	big := bytes.Repeat([]byte("y"), 300<<10)
	b, n := batchOf([]byte("record-0000000-"), append([]byte("record-0000001-"), big...), []byte("record-0000002-"))
	if err := s.Append(b, n); err != nil {
		t.Fatal(err)
	}
	// A record larger than a read, and than the batch byte bound, still
	// comes out whole, alone.
	recs, end, err := s.Peek(10, 1024)
	if err != nil || len(recs) != 1 {
		t.Fatalf("peek: %d %v", len(recs), err)
	}
	s.Ack(end)
	recs, end, _ = s.Peek(10, 1024)
	if len(recs) != 1 || len(recs[0]) != len(big)+15 {
		t.Fatalf("big record: %d records, %d bytes", len(recs), len(recs[0]))
	}
	s.Ack(end)
	if got := drain(t, s, 10); len(got) != 1 || got[0] != 2 {
		t.Fatalf("after big record: %v", got)
	}
}

func TestSpoolCorruptFrameSkipsSegment(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxBytes: 64 << 20, SegmentBytes: 16 << 10}
	s := testSpool(t, dir, o)
	appendRange(t, s, 0, 1000)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	// Flip a payload byte in the middle of the first segment.
	b, _ := os.ReadFile(segs[0])
	b[len(b)/2] ^= 0xff
	os.WriteFile(segs[0], b, 0o600)
	s = testSpool(t, dir, o)
	defer s.Close()
	got := drain(t, s, 2000)
	_, corrupt := s.Counters()
	if corrupt == 0 || uint64(len(got))+corrupt != 1000 {
		t.Fatalf("delivered %d, corrupt %d: want a sum of 1000", len(got), corrupt)
	}
	if got[len(got)-1] != 999 {
		t.Fatalf("later segments not delivered: last %d", got[len(got)-1])
	}
}

func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	s := testSpool(t, dir, Options{})
	defer s.Close()
	if _, err := Open(dir, Options{}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of a spool: %v", err)
	}
}

// runSpoolOps runs a random sequence of appends, deliveries and reopens
// and checks the spool's promise: records come out in order, nothing
// acknowledged comes back, nothing unacknowledged is lost unless it is
// counted as dropped.
func runSpoolOps(t *testing.T, dir string, ops []byte, maxBytes int64) {
	o := Options{MaxBytes: maxBytes, SegmentBytes: 8 << 10, SyncInterval: time.Hour}
	s := testSpool(t, dir, o)
	defer func() { s.Close() }()
	next, lastAcked, delivered := 0, -1, 0
	var dropped uint64
	for i := 0; i+1 < len(ops); i += 2 {
		arg := int(ops[i+1])
		switch ops[i] % 4 {
		case 0, 1: // append
			appendRange(t, s, next, next+arg)
			next += arg
		case 2: // deliver up to arg records
			recs, end, err := s.Peek(max(arg, 1), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				n := recNum(t, r)
				if n <= lastAcked {
					t.Fatalf("record %d delivered again after %d was acknowledged", n, lastAcked)
				}
				lastAcked = n
			}
			delivered += len(recs)
			s.Ack(end)
		case 3: // restart, cleanly or not
			if arg%2 == 0 {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				// A crash: the cursor and tail are as last written.
				s.mu.Lock()
				s.flushLocked()
				s.closed = true
				s.closeFiles()
				s.mu.Unlock()
			}
			d, _ := s.Counters()
			dropped += d
			s = testSpool(t, dir, o)
		}
	}
	rest := drain(t, s, 1<<30)
	for _, n := range rest {
		if n <= lastAcked {
			t.Fatalf("record %d delivered after %d", n, lastAcked)
		}
		lastAcked = n
	}
	delivered += len(rest)
	d, _ := s.Counters()
	dropped += d
	// Every record was delivered exactly once, or dropped and counted.
	if uint64(delivered)+dropped != uint64(next) {
		t.Fatalf("appended %d, delivered %d, dropped %d", next, delivered, dropped)
	}
	if dropped > 0 && maxBytes >= 64<<20 {
		t.Fatalf("dropped %d with room to spare", dropped)
	}
}

func TestSpoolRandomOps(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, seed))
		ops := make([]byte, 400)
		for i := range ops {
			ops[i] = byte(r.UintN(256))
		}
		maxBytes := int64(64 << 20)
		if seed%4 == 0 {
			maxBytes = minSpoolBytes
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runSpoolOps(t, t.TempDir(), ops, maxBytes) })
	}
}

func FuzzSpool(f *testing.F) {
	f.Add([]byte{0, 50, 2, 10, 3, 0, 2, 100, 0, 3, 3, 1, 2, 200})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 2000 {
			return
		}
		runSpoolOps(t, t.TempDir(), ops, 64<<20)
	})
}

// TestSpoolNoLossProperty checks exact accounting when nothing is
// dropped: every appended record is delivered exactly in order, however
// the spool is restarted, cleanly or not (duplicates allowed only for
// records that were not acknowledged before a crash).
func TestSpoolNoLossProperty(t *testing.T) {
	for seed := uint64(100); seed < 130; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		dir := t.TempDir()
		o := Options{MaxBytes: 64 << 20, SegmentBytes: 4 << 10, SyncInterval: time.Hour}
		s := testSpool(t, dir, o)
		next, want := 0, 0
		for step := 0; step < 200; step++ {
			switch r.UintN(5) {
			case 0, 1:
				k := int(r.UintN(80))
				appendRange(t, s, next, next+k)
				next += k
			case 2, 3:
				recs, end, err := s.Peek(int(r.UintN(60))+1, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				for _, rb := range recs {
					n := recNum(t, rb)
					if n > want {
						t.Fatalf("seed %d: record %d missing, got %d", seed, want, n)
					}
					if n == want {
						want++
					}
				}
				if r.UintN(4) != 0 { // sometimes the receiver never acks
					s.Ack(end)
				}
			case 4:
				if r.UintN(2) == 0 {
					s.Close()
				} else {
					s.mu.Lock()
					s.flushLocked()
					s.closed = true
					s.closeFiles()
					s.mu.Unlock()
				}
				s = testSpool(t, dir, o)
			}
		}
		for _, n := range drain(t, s, 1<<30) {
			if n > want {
				t.Fatalf("seed %d: record %d missing, got %d", seed, want, n)
			}
			if n == want {
				want++
			}
		}
		if want != next {
			t.Fatalf("seed %d: delivered through %d of %d", seed, want, next)
		}
		s.Close()
	}
}
