package sensor

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestQueueBytes: records with long command lines fill the Events channel
// by size long before its length. Past QueueBytes a record is dropped and
// counted (DroppedForBytes, within Dropped); every record is either in the
// channel or counted; Release gives the bytes back, once.
func TestQueueBytes(t *testing.T) {
	const n, bound = 1000, 64 << 10
	args := strings.Repeat("A", 2000) + "\x00"
	feed := func(s *Sensor) {
		for i := range n {
			s.handle(execRecord(fmt.Sprintf("/tmp/tool%d", i), "/", args, "/tmp/tool", 0))
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	s := &Sensor{opts: Options{QueueLen: n, QueueBytes: bound}, out: make(chan Event, n), log: log}
	feed(s)
	st := Stats{Dropped: s.dropped.Load(), DroppedForBytes: s.droppedBytes.Load(), QueueBytes: s.queuedBytes.Load()}
	if st.DroppedForBytes == 0 || st.Dropped != st.DroppedForBytes {
		t.Fatalf("dropped %d, for bytes %d: want drops, all for bytes", st.Dropped, st.DroppedForBytes)
	}
	if st.QueueBytes > bound || st.QueueBytes <= bound-int64(len(args))-2*EventOverhead-512 {
		t.Errorf("queued %d bytes, want just under %d", st.QueueBytes, bound)
	}
	if got := uint64(len(s.out)) + st.Dropped; got != n {
		t.Errorf("%d queued + %d dropped = %d, want %d", len(s.out), st.Dropped, got, n)
	}
	t.Logf("%d queued in %d bytes, %d dropped for bytes", len(s.out), st.QueueBytes, st.DroppedForBytes)
	// Full by size with the channel mostly empty: the fill is the size's.
	if f := s.QueueFill(); f < 0.9 || f > 1 || len(s.out) > n/10 {
		t.Errorf("queue fill %.3f with %d of %d bytes and %d of %d records, want the bytes' share", f, st.QueueBytes, bound, len(s.out), n)
	}
	for len(s.out) > 0 {
		ev := <-s.out
		s.Release(ev)
		s.Release(ev) // a second release gives nothing back
	}
	if q := s.queuedBytes.Load(); q != 0 {
		t.Errorf("%d bytes queued after every record was released", q)
	}
	// With room again, records queue again.
	s.handle(execRecord("/tmp/again", "/", args, "/tmp/again", 0))
	if len(s.out) != 1 || s.droppedBytes.Load() != st.DroppedForBytes {
		t.Errorf("after release: %d queued, %d dropped for bytes", len(s.out), s.droppedBytes.Load())
	}

	// No size bound: only the length bounds the channel.
	s = &Sensor{opts: Options{QueueLen: n}, out: make(chan Event, n), log: log}
	feed(s)
	if len(s.out) != n || s.dropped.Load() != 0 || s.queuedBytes.Load() != 0 {
		t.Errorf("unbounded: %d queued, %d dropped, %d bytes counted", len(s.out), s.dropped.Load(), s.queuedBytes.Load())
	}
	// Full by length: the fill is the length's.
	if f := s.QueueFill(); f != 1 {
		t.Errorf("queue fill %.3f with the channel full, want 1", f)
	}
	<-s.out
	if f, want := s.QueueFill(), float64(n-1)/n; f != want {
		t.Errorf("queue fill %.4f, want %.4f", f, want)
	}
}
