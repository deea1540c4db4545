package fileid

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestIDChangesWithContentAndReplacement(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	id1 := stat(t, p)

	// Same size, mtime forced back: ctime still moves.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(0, id1.MtimeNs)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	id2 := stat(t, p)
	if id2 == id1 || !id2.SameFile(id1) || id2.MtimeNs != id1.MtimeNs {
		t.Fatalf("in-place rewrite: %v then %v; want same inode and mtime, different ID", id1, id2)
	}

	// Replaced by rename: a different inode.
	q := filepath.Join(dir, "g")
	if err := os.WriteFile(q, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(q, p); err != nil {
		t.Fatal(err)
	}
	if id3 := stat(t, p); id3.SameFile(id2) {
		t.Fatalf("replaced file kept inode %v", id3)
	}
}

func stat(t *testing.T, p string) ID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return FromStat(&st)
}
