// Package procfs reads what the sensor needs of /proc/<pid>, in one place:
// the process table, the start-up snapshot and the hasher all tell one
// process from another by its start time in stat, and the process table
// and the snapshot read a process's executable, working directory and
// argv the same way (ReadImage).
//
// The exe link names the executable as the kernel last saw its path, with
// " (deleted)" appended once it was unlinked, and a memfd as
// "/memfd:name"; opening the link reaches the file itself even when
// unlinked. cmdline is argv joined by NULs.
//
// Field 2, the command name in parentheses, may itself hold spaces and
// parentheses, so fields are counted from the last ')'; every later field
// is a number or a state letter. starttime (field 22) is in USER_HZ ticks,
// 100 a second on every Linux user ABI, and the kernel derives it from the
// task's CLOCK_BOOTTIME start in nanoseconds by integer division, which is
// how a start time from a BPF record and one from /proc are compared.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// NsPerTick is the length of one /proc starttime tick.
const NsPerTick = 1e9 / 100

// ErrFormat is wrapped by ParseStat errors.
var ErrFormat = errors.New("unexpected /proc/<pid>/stat format")

// Stat is what the sensor reads from /proc/<pid>/stat.
type Stat struct {
	Comm       string
	PPID       uint32
	StartTicks uint64
}

// StartNs is the start time at tick precision, in nanoseconds.
func (s Stat) StartNs() uint64 { return s.StartTicks * NsPerTick }

// SameStart reports whether a CLOCK_BOOTTIME start in nanoseconds (from a
// BPF record) names the same instant as this starttime.
func (s Stat) SameStart(startNs uint64) bool { return startNs/NsPerTick == s.StartTicks }

// ReadStat reads /proc/<pid>/stat under root (normally "/proc").
func ReadStat(root string, pid uint32) (Stat, error) {
	name := root + "/" + strconv.FormatUint(uint64(pid), 10) + "/stat"
	b, err := os.ReadFile(name)
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("parse %s: %w", name, err)
	}
	return st, nil
}

// ParseStat parses a /proc/<pid>/stat line.
func ParseStat(b []byte) (Stat, error) {
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return Stat{}, fmt.Errorf("no (comm): %w", ErrFormat)
	}
	st := Stat{Comm: string(b[open+1 : closing])}
	field := 2
	for j := closing + 1; ; {
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j == len(b) {
			return Stat{}, fmt.Errorf("%d fields, need 22: %w", field, ErrFormat)
		}
		k := j
		for k < len(b) && !isSpace(b[k]) {
			k++
		}
		field++
		switch field {
		case 4:
			v, err := strconv.ParseUint(string(b[j:k]), 10, 32)
			if err != nil {
				return Stat{}, fmt.Errorf("ppid: %w", ErrFormat)
			}
			st.PPID = uint32(v)
		case 22:
			v, err := strconv.ParseUint(string(b[j:k]), 10, 64)
			if err != nil {
				return Stat{}, fmt.Errorf("starttime: %w", ErrFormat)
			}
			st.StartTicks = v
			return st, nil
		}
		j = k
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }
