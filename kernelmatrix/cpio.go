package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// An initramfs is a cpio archive in the "newc" format: for each entry a
// 110-byte ASCII header (magic 070701 and thirteen 8-digit hex fields), the
// NUL-terminated name, then the data, each padded to 4 bytes, and finally
// an entry named TRAILER!!!. Writing it here rather than with cpio(1)
// needs no host tool, no root for the /dev/console node, and gives the
// same bytes for the same inputs: uid, gid and mtime are always 0.

// Modes of cpio entries (the S_IF* bits of st_mode).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// initramfs collects the entries of an archive; Write emits them with
// every parent directory first.
type initramfs struct {
	entries map[string]entry
}

type entry struct {
	mode         uint32 // type and permission bits
	data         []byte // file contents, or the symlink target
	src          string // file contents to read from this host path instead
	major, minor uint32 // for device nodes
}

func newInitramfs() *initramfs { return &initramfs{entries: map[string]entry{}} }

// Dir adds a directory.
func (a *initramfs) Dir(name string, perm uint32) { a.add(name, entry{mode: modeDir | perm}) }

// File adds a file with the given contents.
func (a *initramfs) File(name string, perm uint32, data []byte) {
	a.add(name, entry{mode: modeFile | perm, data: data})
}

// CopyFile adds a file whose contents are read from src when the archive
// is written, so large binaries are streamed, not held in memory.
func (a *initramfs) CopyFile(name string, perm uint32, src string) {
	a.add(name, entry{mode: modeFile | perm, src: src})
}

// Symlink adds a symbolic link to target.
func (a *initramfs) Symlink(name, target string) {
	a.add(name, entry{mode: modeSymlink | 0o777, data: []byte(target)})
}

// CharDev adds a character device node.
func (a *initramfs) CharDev(name string, perm, major, minor uint32) {
	a.add(name, entry{mode: modeCharDev | perm, major: major, minor: minor})
}

func (a *initramfs) add(name string, e entry) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := a.entries[d]; !ok {
			a.entries[d] = entry{mode: modeDir | 0o755}
		}
	}
	a.entries[name] = e
}

// Write writes the archive to w.
func (a *initramfs) Write(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	// Sorted, a directory comes before everything in it.
	sort.Strings(names)
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &cpioWriter{w: bw}
	for i, n := range names {
		if err := cw.entry(uint32(i+1), n, a.entries[n]); err != nil {
			return fmt.Errorf("write %s: %w", n, err)
		}
	}
	if err := cw.header(0, "TRAILER!!!", 0, 0, 0, 0, 0); err != nil {
		return err
	}
	return bw.Flush()
}

type cpioWriter struct {
	w   io.Writer
	off int64
}

func (c *cpioWriter) entry(ino uint32, name string, e entry) error {
	size := int64(len(e.data))
	var f *os.File
	if e.src != "" {
		var err error
		if f, err = os.Open(e.src); err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		size = st.Size()
	}
	nlink := uint32(1)
	if e.mode&0o170000 == modeDir {
		nlink = 2
	}
	if err := c.header(ino, name, e.mode, nlink, size, e.major, e.minor); err != nil {
		return err
	}
	if f != nil {
		n, err := io.Copy(c.w, f)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%s changed size while archived", e.src)
		}
		c.off += n
	} else if err := c.write(e.data); err != nil {
		return err
	}
	return c.pad()
}

func (c *cpioWriter) header(ino uint32, name string, mode, nlink uint32, size int64, rmajor, rminor uint32) error {
	if size > 0xffffffff {
		return fmt.Errorf("%s: %d bytes is too large for cpio newc", name, size)
	}
	h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	if err := c.write([]byte(h + name + "\x00")); err != nil {
		return err
	}
	return c.pad()
}

func (c *cpioWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.off += int64(n)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.off % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}
