package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Mapping is one line of /proc/<pid>/maps: an address range, the inode of
// the file behind it (0 for none) and its name ("" for plain anonymous
// memory, "[heap]", "[stack]", "[vdso]" and kin for the kernel's own).
type Mapping struct {
	Lo, Hi uint64
	Inode  uint64
	Path   string
}

// Anonymous reports whether no file backs the mapping: anonymous memory,
// the heap or a stack. The kernel's own code pages (the vDSO, vsyscall,
// the uprobes out-of-line area) are not.
func (m Mapping) Anonymous() bool {
	if m.Inode != 0 {
		return false
	}
	switch m.Path {
	case "[vdso]", "[vsyscall]", "[vvar]", "[vvar_vclock]", "[uprobes]":
		return false
	}
	return true
}

// MappingAt finds the mapping of process pid that holds addr; ok is false
// when none does.
func MappingAt(root string, pid uint32, addr uint64) (m Mapping, ok bool, err error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/maps", root, pid))
	if err != nil {
		return Mapping{}, false, err
	}
	return ParseMappingAt(b, addr)
}

// ParseMappingAt finds the line of a /proc/<pid>/maps text that holds
// addr. Lines are "lo-hi perms offset dev inode [path]", in address order.
func ParseMappingAt(b []byte, addr uint64) (Mapping, bool, error) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		dash := bytes.IndexByte(line, '-')
		sp := bytes.IndexByte(line, ' ')
		if dash < 0 || sp < dash {
			return Mapping{}, false, fmt.Errorf("maps line %q: %w", line, ErrFormat)
		}
		lo, err1 := strconv.ParseUint(string(line[:dash]), 16, 64)
		hi, err2 := strconv.ParseUint(string(line[dash+1:sp]), 16, 64)
		if err1 != nil || err2 != nil {
			return Mapping{}, false, fmt.Errorf("maps line %q: %w", line, ErrFormat)
		}
		if addr < lo || addr >= hi {
			continue
		}
		// Five fields, then the path: the rest of the line, which may
		// hold spaces.
		rest := line
		var f [5][]byte
		for i := range f {
			rest = bytes.TrimLeft(rest, " ")
			end := bytes.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			f[i], rest = rest[:end], rest[end:]
		}
		ino, err := strconv.ParseUint(string(f[4]), 10, 64)
		if err != nil {
			return Mapping{}, false, fmt.Errorf("maps line %q: %w", line, ErrFormat)
		}
		return Mapping{Lo: lo, Hi: hi, Inode: ino, Path: string(bytes.TrimLeft(rest, " "))}, true, nil
	}
	return Mapping{}, false, nil
}
