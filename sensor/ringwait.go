package sensor

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ringWaiter waits for the ring buffer through the Go runtime's network
// poller rather than in a blocking epoll_wait.
//
// ringbuf.Reader blocks its goroutine's thread in epoll_wait for up to a
// poll interval. The runtime hands the thread's P to another thread after
// 20µs in a syscall and keeps its sysmon thread waking every 20µs while
// that happens, so a sensor polling every 10ms spent about 40% of its CPU
// in context switches (perf, exec storm on 2 CPUs). Registering a duplicate
// of the ring's fd with the netpoller turns the wait into a parked
// goroutine: the timer and the producer's forced wakeup both arrive through
// the poller the runtime already runs, and the reader then drains the ring
// without blocking.
type ringWaiter struct {
	f  *os.File
	rc syscall.RawConn
}

// newRingWaiter registers a duplicate of fd with the netpoller. It fails
// when the runtime cannot poll the fd (the caller then waits in the
// reader's own epoll_wait).
func newRingWaiter(fd int) (*ringWaiter, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate ring buffer fd: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("set ring buffer fd non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(dup), "ringbuf")
	// A deadline is only accepted for files the netpoller holds.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("poll ring buffer fd: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("poll ring buffer fd: %w", err)
	}
	return &ringWaiter{f: f, rc: rc}, nil
}

// wait returns when the producer forces a wakeup, when ready reports true
// (checked first, so a wakeup that came before the wait is not lost), when
// d has passed, or when interrupt is called. It reports false only when the
// waiter is closed.
func (w *ringWaiter) wait(d time.Duration, ready func() bool) bool {
	if err := w.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		return false
	}
	checked := false
	err := w.rc.Read(func(uintptr) bool {
		if checked {
			return true
		}
		checked = true
		return ready()
	})
	return err == nil || errors.Is(err, os.ErrDeadlineExceeded)
}

// interrupt makes a current or next wait return at once.
func (w *ringWaiter) interrupt() {
	// A deadline in the past wakes the parked reader.
	_ = w.f.SetReadDeadline(time.Unix(1, 0))
}

func (w *ringWaiter) close() error { return w.f.Close() }
