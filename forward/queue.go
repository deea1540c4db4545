package forward

import (
	"sync"

	"github.com/argus-sensor/argus-sensor/forward/spool"
)

// memQueue is the hand-off between the pipeline goroutine and one sink's
// goroutine. Put never blocks: it appends the record, framed with a
// 4-byte length, to a byte buffer under a mutex, or counts a drop when the
// buffer holds its bound. The consumer swaps the whole buffer for an empty
// one, so under load records move in large batches at the cost of one
// copy each, and the steady state allocates nothing.
type memQueue struct {
	mu       sync.Mutex
	buf      []byte
	records  int
	maxBytes int
	closed   bool
	dropped  uint64
	// notify holds one token when records are waiting: the consumer
	// sleeps on it rather than polling.
	notify chan struct{}
}

func newMemQueue(maxBytes int) *memQueue {
	return &memQueue{maxBytes: maxBytes, notify: make(chan struct{}, 1)}
}

// Put queues p (copied) and reports whether it was taken.
func (q *memQueue) Put(p []byte) bool {
	q.mu.Lock()
	if q.closed || len(q.buf)+4+len(p) > q.maxBytes && q.records > 0 {
		// An oversized record still goes through an empty queue: the
		// bound protects memory from a backlog, not from one record.
		q.dropped++
		q.mu.Unlock()
		return false
	}
	q.buf = spool.AppendFrame(q.buf, p)
	q.records++
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return true
}

// Take returns everything queued, giving spare (emptied) to the queue as
// its next buffer, and whether the queue is closed. Once closed and
// drained it returns (nil, 0, true).
func (q *memQueue) Take(spare []byte) (batch []byte, n int, closed bool) {
	q.mu.Lock()
	batch, n, closed = q.buf, q.records, q.closed
	q.buf, q.records = spare[:0], 0
	q.mu.Unlock()
	return batch, n, closed
}

// Close makes further Puts fail and wakes the consumer to drain.
func (q *memQueue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Depth returns the records and bytes waiting.
func (q *memQueue) Depth() (records, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.records, len(q.buf)
}

func (q *memQueue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
