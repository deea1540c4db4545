package hasher

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// A suspect executable padded past the ordinary cap is still hashed; the
// same file not marked suspect is too_large.
func TestSuspectOverCap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "padded")
	b := []byte("\x7fELF payload")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// A sparse pad: 3 MiB of zeros costs no disk.
	if err := os.Truncate(p, 3<<20); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	id := statID(t, p)
	h := newTestHasher(t, Options{MaxFileSize: 1 << 20})
	wantStatus(t, hashReq(t, h, Request{Path: p, ID: id}), StatusTooLarge)
	wantHash(t, hashReq(t, h, Request{Path: p, ID: id, Suspect: true}), sha256Hex(content), SourcePath)
	// A suspect cap of its own still holds.
	h2 := newTestHasher(t, Options{MaxFileSize: 1 << 20, SuspectMaxFileSize: 2 << 20})
	wantStatus(t, hashReq(t, h2, Request{Path: p, ID: id, Suspect: true}), StatusTooLarge)
}

// With the worker busy and files waiting, a suspect executable queued last
// is hashed first.
func TestSuspectFirst(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, size int) Request {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o755); err != nil {
			t.Fatal(err)
		}
		return Request{Path: p, ID: statID(t, p)}
	}
	g := newGate(t)
	var mu sync.Mutex
	var order []int64 // each file is one read: its size names it
	h := newTestHasher(t, Options{Workers: 1, afterRead: func(n int64) {
		g.hook(n)
		mu.Lock()
		order = append(order, n)
		mu.Unlock()
	}})
	busy := h.Submit(mk("busy", 100))
	<-g.entered
	a := h.Submit(mk("a", 200))
	b := h.Submit(mk("b", 300))
	s := mk("s", 400)
	s.Suspect = true
	sf := h.Submit(s)
	g.release()
	for _, f := range []*Future{busy, a, b, sf} {
		mustWait(t, f)
	}
	if want := []int64{100, 400, 200, 300}; !slices.Equal(order, want) {
		t.Fatalf("hashed in the order %v (by size), want %v", order, want)
	}
}

// A full queue is refused and counted as such, and the suspect queue is
// apart: a flood of ordinary files does not keep the implant out.
func TestQueueFullCounted(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string) Request {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o755); err != nil {
			t.Fatal(err)
		}
		return Request{Path: p, ID: statID(t, p)}
	}
	g := newGate(t)
	h := newTestHasher(t, Options{Workers: 1, QueueSize: 1, afterRead: g.hook})
	busy := h.Submit(mk("busy"))
	<-g.entered
	queued := h.Submit(mk("queued"))
	refused := h.Submit(mk("refused"))
	if res, ok := refused.Result(); !ok || res.Err != ErrQueueFull {
		t.Fatalf("third request: %+v %v, want ErrQueueFull", res, ok)
	}
	s := mk("implant")
	s.Suspect = true
	sf := h.Submit(s)
	g.release()
	for _, f := range []*Future{busy, queued, sf} {
		if res := mustWait(t, f); res.Status != "" {
			t.Fatalf("status %q: %v", res.Status, res.Err)
		}
	}
	if st := h.Stats(); st.QueueFull != 1 || st.Errors != 1 {
		t.Fatalf("stats %+v, want one queue_full among one error", st)
	}
}
