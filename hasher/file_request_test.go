package hasher

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/fileid"
)

// openScript opens path as enrich does for an interpreter's script and
// returns the request for it.
func openScript(t *testing.T, path string) Request {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := fileid.Fstat(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return Request{Path: path, ID: id, File: f}
}

func closed(f *os.File) bool {
	_, err := f.Stat()
	return err != nil
}

// TestRequestFile: a script opened while its interpreter ran hashes as
// what ran after the payload unlinked itself or had a benign file renamed
// over it (ctime moves, content does not); a rewrite of the same inode
// does not hash; the Hasher closes the descriptor on every path,
// a cache hit included.
func TestRequestFile(t *testing.T) {
	dir := t.TempDir()
	h := newTestHasher(t, Options{})
	payload := []byte("import socket # payload\n")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("unlinked after the open", func(t *testing.T) {
		p := write("unlinked.py", payload)
		req := openScript(t, p)
		time.Sleep(10 * time.Millisecond) // ctime granularity
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		wantHash(t, hashReq(t, h, req), sha256Hex(payload), SourceFile)
		if !closed(req.File) {
			t.Error("descriptor left open")
		}
	})
	t.Run("renamed over after the open", func(t *testing.T) {
		p := write("renamed.py", append([]byte("# other\n"), payload...))
		req := openScript(t, p)
		cover := write("cover.py", []byte("print('hello')\n"))
		time.Sleep(10 * time.Millisecond)
		if err := os.Rename(cover, p); err != nil {
			t.Fatal(err)
		}
		wantHash(t, hashReq(t, h, req), sha256Hex(append([]byte("# other\n"), payload...)), SourceFile)
	})
	t.Run("rewritten in place", func(t *testing.T) {
		p := write("rewritten.py", []byte("import os # payload two\n"))
		req := openScript(t, p)
		time.Sleep(10 * time.Millisecond)
		if err := os.WriteFile(p, []byte("print('benign')\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if res := hashReq(t, h, req); res.Status != StatusChanged {
			t.Fatalf("status %q sha256 %s, want %s", res.Status, res.SHA256, StatusChanged)
		}
		if !closed(req.File) {
			t.Error("descriptor left open")
		}
	})
	t.Run("cache hit closes the descriptor", func(t *testing.T) {
		p := write("cached.py", []byte("import sys # cached\n"))
		first := openScript(t, p)
		wantHash(t, hashReq(t, h, first), sha256Hex([]byte("import sys # cached\n")), SourceFile)
		again := openScript(t, p)
		wantHash(t, hashReq(t, h, again), sha256Hex([]byte("import sys # cached\n")), SourceCache)
		if !closed(again.File) {
			t.Error("descriptor of a cache hit left open")
		}
	})
}
