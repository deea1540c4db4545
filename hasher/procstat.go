package hasher

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// nsPerTick converts a CLOCK_BOOTTIME start time in ns to /proc/<pid>/stat's
// starttime, which is in USER_HZ (100 on every Linux user ABI) ticks. The
// kernel derives one from the other by integer division.
const nsPerTick = 1e9 / 100

// startTimeField is starttime's 1-based position in /proc/<pid>/stat.
const startTimeField = 22

var errStatFormat = errors.New("unexpected /proc/<pid>/stat format")

// readStartTicks returns a process's start time from /proc/<pid>/stat.
func readStartTicks(procRoot string, pid uint32) (uint64, error) {
	name := procRoot + "/" + strconv.FormatUint(uint64(pid), 10) + "/stat"
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	ticks, err := parseStartTicks(b)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", name, err)
	}
	return ticks, nil
}

// parseStartTicks returns field 22 of a /proc/<pid>/stat line. Field 2, the
// command name in parentheses, may itself hold spaces and parentheses, so
// fields are counted from the last ')'; every later field is a number or a
// state letter.
func parseStartTicks(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name: %w", errStatFormat)
	}
	field := 2
	for j := i + 1; ; {
		for j < len(b) && isStatSpace(b[j]) {
			j++
		}
		if j == len(b) {
			return 0, fmt.Errorf("%d fields, need %d: %w", field, startTimeField, errStatFormat)
		}
		k := j
		for k < len(b) && !isStatSpace(b[k]) {
			k++
		}
		if field++; field == startTimeField {
			v, err := strconv.ParseUint(string(b[j:k]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("starttime: %w", errStatFormat)
			}
			return v, nil
		}
		j = k
	}
}

func isStatSpace(c byte) bool { return c == ' ' || c == '\n' }
