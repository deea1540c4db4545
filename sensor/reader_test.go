package sensor

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// Both ways of waiting for the ring deliver records, and on shutdown
// deliver what was written just before it: the netpoller waiter, and the
// reader's own blocking epoll_wait that Run falls back to when the ring's
// fd cannot be polled by the runtime.
func TestReaderModes(t *testing.T) {
	testutil.RequireRoot(t)
	for _, mode := range []string{"netpoller", "blocking"} {
		t.Run(mode, func(t *testing.T) {
			s, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.waiter == nil {
				t.Fatal("the ring's fd was not registered with the netpoller")
			}
			if mode == "blocking" {
				s.waiter.close()
				s.waiter = nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			h := newHub(s.Events())

			tool := filepath.Join(realDir(t), "reader-tool")
			testutil.WriteExitELF(t, tool, 0)
			w := h.subscribe(execPath(tool))
			defer w.stop()
			if err := exec.Command(tool).Run(); err != nil {
				t.Fatal(err)
			}
			w.next(t, "exec while running")

			// Written just before shutdown: the final drain reads it.
			if err := exec.Command(tool).Run(); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			w.next(t, "exec just before shutdown")
			assertNoLoss(t, s)
		})
	}
}
