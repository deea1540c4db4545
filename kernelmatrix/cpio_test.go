package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

type cpioEntry struct {
	name       string
	mode       uint32
	data       string
	rmaj, rmin uint32
	nlink, uid uint32
}

// readCpio parses a newc archive the way the kernel's initramfs unpacker
// does, checking the alignment it relies on.
func readCpio(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+6+8*i+8]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d field %d: %v", off, i, err)
		}
		return uint32(v)
	}
	for {
		if off%4 != 0 {
			t.Fatalf("header at %d is not 4-byte aligned", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic at %d: %q", off, b[off:off+6])
		}
		e := cpioEntry{mode: field(1), uid: field(2), nlink: field(4), rmaj: field(9), rmin: field(10)}
		size, namesize := int(field(6)), int(field(11))
		name := b[off+110 : off+110+namesize]
		if name[namesize-1] != 0 {
			t.Fatalf("name at %d not NUL-terminated", off)
		}
		e.name = string(name[:namesize-1])
		off += 110 + namesize
		off = (off + 3) &^ 3
		e.data = string(b[off : off+size])
		off += size
		off = (off + 3) &^ 3
		if e.name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestInitramfsArchive(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(src, bytes.Repeat([]byte("x"), 4097), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newInitramfs()
	a.File("init", 0o755, []byte("#!/bin/sh\n"))
	a.CopyFile("bin/deep/tool", 0o755, src)
	a.Symlink("bin/sh", "busybox")
	a.CharDev("dev/console", 0o600, 5, 1)
	a.Dir("tmp", 0o1777)
	var buf bytes.Buffer
	if err := a.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got := map[string]cpioEntry{}
	seen := map[string]bool{}
	for _, e := range readCpio(t, buf.Bytes()) {
		if d := filepath.Dir(e.name); d != "." && !seen[d] {
			t.Errorf("%s comes before its directory %s", e.name, d)
		}
		seen[e.name] = true
		got[e.name] = e
	}
	for name, want := range map[string]cpioEntry{
		"init":          {mode: modeFile | 0o755, data: "#!/bin/sh\n", nlink: 1},
		"bin":           {mode: modeDir | 0o755, nlink: 2},
		"bin/deep":      {mode: modeDir | 0o755, nlink: 2},
		"bin/deep/tool": {mode: modeFile | 0o755, data: string(bytes.Repeat([]byte("x"), 4097)), nlink: 1},
		"bin/sh":        {mode: modeSymlink | 0o777, data: "busybox", nlink: 1},
		"dev":           {mode: modeDir | 0o755, nlink: 2},
		"dev/console":   {mode: modeCharDev | 0o600, rmaj: 5, rmin: 1, nlink: 1},
		"tmp":           {mode: modeDir | 0o1777, nlink: 2},
	} {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if g.mode != want.mode || g.data != want.data || g.rmaj != want.rmaj || g.rmin != want.rmin || g.nlink != want.nlink || g.uid != 0 {
			t.Errorf("%s: mode %o nlink %d dev %d:%d uid %d, %d bytes; want mode %o nlink %d dev %d:%d, %d bytes",
				name, g.mode, g.nlink, g.rmaj, g.rmin, g.uid, len(g.data), want.mode, want.nlink, want.rmaj, want.rmin, len(want.data))
		}
	}
	if len(got) != 8 {
		t.Errorf("%d entries, want 8", len(got))
	}

	// The same inputs give the same bytes.
	var again bytes.Buffer
	if err := a.Write(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("archive is not reproducible")
	}
}
