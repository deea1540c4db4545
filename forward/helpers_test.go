package forward

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quietLogger()
}

// seqRecord is a small record whose id carries its sequence number, for
// delivery tests that check order and completeness.
func seqRecord(i int) *event.Record {
	r := recordtest.Launch(i, false)
	r.ID = fmt.Sprintf("seq-%07d", i)
	return r
}

// idSeq extracts the sequence number from a delivered message in any
// format: the id appears as "seq-NNNNNNN".
func idSeq(t testing.TB, msg []byte) int {
	t.Helper()
	s := string(msg)
	i := strings.Index(s, "seq-")
	if i < 0 || len(s) < i+11 {
		t.Fatalf("no sequence id in %.200s", s)
	}
	var n int
	if _, err := fmt.Sscanf(s[i+4:i+11], "%d", &n); err != nil {
		t.Fatalf("bad sequence id in %.200s", s)
	}
	return n
}

// checkComplete asserts that seqs holds every number in [0, n), that
// their first deliveries came in order, and that any repeat is a
// redelivery of a number already seen (identifiable by id).
func checkComplete(t testing.TB, seqs []int, n int) (dups int) {
	t.Helper()
	seen := make([]bool, n)
	next := 0
	for _, s := range seqs {
		if s < 0 || s >= n {
			t.Fatalf("unexpected sequence %d", s)
		}
		if seen[s] {
			dups++
			continue
		}
		if s != next {
			t.Fatalf("out of order: got %d first, want %d", s, next)
		}
		seen[s] = true
		next++
	}
	if next != n {
		t.Fatalf("delivered %d distinct records of %d", next, n)
	}
	return dups
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func closeForwarder(t testing.TB, f *Forwarder, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f.Close(ctx)
}
