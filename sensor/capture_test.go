package sensor

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// One sensor serves every privileged test in the package: loading takes a
// while, and the storm tests assert on its lifetime loss counters.
var shared struct {
	once   sync.Once
	s      *Sensor
	hub    *hub
	err    error
	cancel context.CancelFunc
	done   chan error
}

func TestMain(m *testing.M) {
	if action := os.Getenv(helperEnv); action != "" {
		os.Exit(runHelper(action, os.Args[1:]))
	}
	code := m.Run()
	if shared.s != nil {
		shared.cancel()
		if err := <-shared.done; err != nil {
			fmt.Fprintln(os.Stderr, "sensor run:", err)
			code = 1
		}
		shared.s.Close()
	}
	os.Exit(code)
}

// startSensor returns the shared sensor's event hub, loading it on first
// use. It skips (or, in CI, fails) when not root.
func startSensor(t *testing.T) (*Sensor, *hub) {
	t.Helper()
	testutil.RequireRoot(t)
	shared.once.Do(func() {
		s, err := New(Options{})
		if err != nil {
			shared.err = err
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		shared.s, shared.cancel, shared.done = s, cancel, make(chan error, 1)
		shared.hub = newHub(s.Events())
		go func() { shared.done <- s.Run(ctx) }()
	})
	if shared.err != nil {
		t.Fatalf("start sensor: %v", shared.err)
	}
	return shared.s, shared.hub
}

// hub fans the sensor's events out to the tests watching for them.
type hub struct {
	mu    sync.Mutex
	watch map[*watch]struct{}
}

type watch struct {
	h     *hub
	match func(Event) bool
	ch    chan Event
	fn    func(Event)
}

func newHub(events <-chan Event) *hub {
	h := &hub{watch: map[*watch]struct{}{}}
	go func() {
		for ev := range events {
			h.mu.Lock()
			for w := range h.watch {
				if !w.match(ev) {
					continue
				}
				if w.fn != nil {
					w.fn(ev)
					continue
				}
				select {
				case w.ch <- ev:
				default: // a test that stopped reading must not stall the others
				}
			}
			h.mu.Unlock()
		}
	}()
	return h
}

// subscribe delivers matching events on a channel. Call before acting, so
// nothing is missed.
func (h *hub) subscribe(match func(Event) bool) *watch {
	w := &watch{h: h, match: match, ch: make(chan Event, 1024)}
	h.add(w)
	return w
}

// each calls fn, on the hub's goroutine, for every matching event.
func (h *hub) each(match func(Event) bool, fn func(Event)) *watch {
	w := &watch{h: h, match: match, fn: fn}
	h.add(w)
	return w
}

func (h *hub) add(w *watch) {
	h.mu.Lock()
	h.watch[w] = struct{}{}
	h.mu.Unlock()
}

func (w *watch) stop() {
	w.h.mu.Lock()
	delete(w.h.watch, w)
	w.h.mu.Unlock()
}

// next waits for the next matching event.
func (w *watch) next(t *testing.T, what string) Event {
	t.Helper()
	select {
	case ev := <-w.ch:
		return ev
	case <-time.After(testutil.Patience(t, 10*time.Second)):
		t.Fatalf("no %s event within %v", what, testutil.Patience(t, 10*time.Second))
		return nil
	}
}

// nextAttempt is the watch's next connect that is not an interrupted call.
// A helper's blocking connect can be interrupted by a signal (Go's runtime
// preempts with SIGURG; a slow guest makes that likely): that call has a
// record with a kernel restart code, and the restarted call its own, the
// one a test means.
func nextAttempt(t *testing.T, w *watch, what string) *Connect {
	t.Helper()
	for {
		if c := w.next(t, what).(*Connect); !IsRestart(c.Result) {
			return c
		}
	}
}

// execPath matches exec events of the executable at path.
func execPath(path string) func(Event) bool {
	return func(ev Event) bool {
		e, ok := ev.(*Exec)
		return ok && e.Path == path
	}
}

// execArg matches exec events whose argv contains marker.
func execArg(marker string) func(Event) bool {
	return func(ev Event) bool {
		e, ok := ev.(*Exec)
		if !ok {
			return false
		}
		for _, a := range e.Args {
			if a == marker {
				return true
			}
		}
		return false
	}
}

// connectTo matches connect events to port.
func connectTo(port uint16) func(Event) bool {
	return func(ev Event) bool {
		c, ok := ev.(*Connect)
		return ok && c.Dst.Port() == port
	}
}
