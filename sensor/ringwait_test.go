package sensor

import (
	"os"
	"testing"
	"time"
)

// The waiter parks on any pollable fd; a pipe stands in for the ring so the
// mechanism is tested without BPF. Each wait is given a minute: returning
// within 30s shows it was the event, not the deadline, that ended it.
func TestRingWaiter(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	rw, err := newRingWaiter(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.close()
	never := func() bool { return false }
	quick := func(what string, f func() bool) {
		t.Helper()
		start := time.Now()
		if !f() {
			t.Fatalf("%s: wait reported the waiter closed", what)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("%s: wait slept to its deadline (%v)", what, d)
		}
	}

	// ready already true: no sleep at all.
	quick("ready", func() bool { return rw.wait(time.Minute, func() bool { return true }) })

	// A producer's wakeup (here, data into the pipe) ends the wait.
	go func() { time.Sleep(50 * time.Millisecond); w.Write([]byte{1}) }()
	quick("wakeup", func() bool { return rw.wait(time.Minute, never) })

	// The deadline ends a wait with nothing to read.
	start := time.Now()
	buf := make([]byte, 1)
	r.Read(buf)
	if !rw.wait(20*time.Millisecond, never) {
		t.Fatal("deadline: wait reported the waiter closed")
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Errorf("wait returned before its deadline with nothing to read")
	}

	// interrupt wakes a parked wait (shutdown).
	go func() { time.Sleep(50 * time.Millisecond); rw.interrupt() }()
	quick("interrupt", func() bool { return rw.wait(time.Minute, never) })

	// Closing the waiter ends a wait with false.
	go func() { time.Sleep(50 * time.Millisecond); rw.close() }()
	if rw.wait(time.Minute, never) {
		t.Error("wait on a closed waiter reported true")
	}
}
