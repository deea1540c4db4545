package sensor

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// folder reports what the connect program folded (bpf/connect.bpf.c,
// connect_folds): each entry is the record of the first attempt that
// repeated a reported one, and the count of attempts folded into it (that
// one included). Once an entry is the fold interval old the reader deletes
// it and sends one summary record: the entry's record with Connect.Folded
// and the first and last folded attempts' times. The next identical
// attempt is reported at once, or, if this CPU reported its twin within
// the interval, makes a new entry.
type folder struct {
	m        *ebpf.Map     // nil: folding is off
	interval time.Duration // 0: folding is off
	off      error         // why folding is off although asked for
	next     time.Time     // when the next flush is due

	keys    []connectConnectFoldKey
	vals    []connectConnectFold
	expired []connectConnectFoldKey // keys of the entries a flush takes

	summaries atomic.Uint64 // summary records sent
	errors    atomic.Uint64 // flushes or deletes that failed
}

// Folding returns the fold interval in force, 0 when connects are not
// folded, and why not when Options.FoldInterval asked for it.
func (s *Sensor) Folding() (time.Duration, error) {
	return s.fold.interval, s.fold.off
}

// canTakeFromHash checks that the kernel can look up and delete a hash map
// entry in one call (Linux 5.14+). Without it an attempt folded into an
// entry between the reader's lookup and its delete would go uncounted, so
// folding is left off there and every attempt is reported.
func canTakeFromHash() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("probe hash map: %w", err)
	}
	defer m.Close()
	var v uint32
	err = m.LookupAndDelete(uint32(0), &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return fmt.Errorf("kernel cannot look up and delete a hash map entry in one call (Linux 5.14+): %w", err)
}

// foldBatch is how many entries one batch lookup reads: the whole map.
const foldBatch = 4096

// period is how often entries are looked at: half the interval, so an
// entry is reported at most 1.5 intervals after its first attempt.
func (f *folder) period() time.Duration {
	return max(f.interval/2, 10*time.Millisecond)
}

// wait bounds an idle wait so the next flush is not slept through.
func (f *folder) wait(d time.Duration) time.Duration {
	if f.m == nil || f.interval == 0 {
		return d
	}
	return max(min(d, time.Until(f.next)), time.Millisecond)
}

// bootNow is CLOCK_BOOTTIME in nanoseconds, the clock of record times.
func bootNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// flushFolds reports the fold entries that have expired, or all of them
// when all is set (at shutdown, once the hooks are detached). It runs on
// the reader's goroutine after a drain that began at drained (boot ns), so
// a summary is queued after the record it adds to: an entry counts as
// expired only when it was made an interval before the drain's start, so
// the drain has read that record, which was sent before the entry was
// made. An entry made since, during the drain or this scan, is left for
// the next flush.
func (s *Sensor) flushFolds(drained uint64, all bool) {
	f := &s.fold
	if f.m == nil || f.interval == 0 || (!all && time.Now().Before(f.next)) {
		return
	}
	f.next = time.Now().Add(f.period())
	expired := func(v *connectConnectFold) bool { return all || foldExpired(v.FirstNs, drained, f.interval) }
	f.expired = f.expired[:0]
	visit := func(k connectConnectFoldKey, v *connectConnectFold) {
		if expired(v) {
			f.expired = append(f.expired, k)
		}
	}
	if err := f.scan(visit); err != nil {
		f.errors.Add(1)
		s.log.Warn("read connect fold entries", "err", err)
		return
	}
	// An entry is taken and deleted in one call, so an attempt folded
	// into it is either in what is taken or makes a new entry.
	var v connectConnectFold
	for i := range f.expired {
		if err := f.take(&f.expired[i], &v); err != nil {
			if !errors.Is(err, ebpf.ErrKeyNotExist) {
				f.errors.Add(1)
			}
			continue
		}
		if v.Count == 0 {
			continue
		}
		c, err := connectFrom(&v.Ev)
		if err != nil {
			s.decodeErrors.Add(1)
			continue
		}
		c.Folded = v.Count
		c.FoldFirstNs = v.FoldFirstNs
		c.FoldLastNs = v.LastNs
		// The summary is about the folded attempts: it carries the
		// latest one's time.
		c.BootNs = v.LastNs
		f.summaries.Add(1)
		s.queue(c, connectSize)
	}
}

// foldExpired reports whether an entry whose record was made at first (boot
// ns) is an interval older than a drain that began at drained. An entry
// made after the drain began is not, whatever the clocks say: its record
// may still be in the ring.
func foldExpired(first, drained uint64, interval time.Duration) bool {
	return first <= drained && drained-first >= uint64(interval)
}

// take reads and deletes one entry in one call (canTakeFromHash), so an
// attempt folded into it is either in v or makes a new entry.
func (f *folder) take(k *connectConnectFoldKey, v *connectConnectFold) error {
	return f.m.LookupAndDelete(k, v)
}

// scan calls visit for every entry, by batch lookups (Linux 5.6+; folding
// needs 5.14, canTakeFromHash).
func (f *folder) scan(visit func(connectConnectFoldKey, *connectConnectFold)) error {
	if f.keys == nil {
		f.keys = make([]connectConnectFoldKey, foldBatch)
		f.vals = make([]connectConnectFold, foldBatch)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := f.m.BatchLookup(&cursor, f.keys, f.vals, nil)
		for i := range n {
			visit(f.keys[i], &f.vals[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// foldValueSize is struct connect_fold's size, checked against the map's
// value size at load.
const foldValueSize = int(unsafe.Sizeof(connectConnectFold{}))
