package procfs

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	st, err := ParseStat([]byte("42 (a) b (c)) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	if err != nil || st.Comm != "a) b (c)" || st.PPID != 7 || st.StartTicks != 12345 || st.StartNs() != 123_450_000_000 {
		t.Fatalf("got %+v, %v", st, err)
	}
	if !st.SameStart(123_456_789_012) || st.SameStart(123_460_000_000) {
		t.Error("start time comparison")
	}
	for _, bad := range []string{"", "42 noparen", "42 (x) R 1 2", "42 (x) R z 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0",
		"42 (x) R 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 x 0"} {
		if _, err := ParseStat([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseStat(%q) = %v, want ErrFormat", bad, err)
		}
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := ReadStat("/proc", uint32(os.Getpid()))
	if err != nil || st.PPID != uint32(os.Getppid()) || st.StartTicks == 0 {
		t.Fatalf("got %+v, %v", st, err)
	}
}

// statLine writes a /proc/<pid>/stat line with the fields Stat holds.
func statLine(st Stat) []byte {
	return fmt.Appendf(nil, "42 (%s) R %d 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", st.Comm, st.PPID, st.StartTicks)
}

// FuzzParseStat: whatever parses, written back as a stat line, parses
// to the same fields.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (a) b) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	f.Add([]byte("1 (()) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err != nil {
			return
		}
		again, err := ParseStat(statLine(st))
		if err != nil || again != st {
			t.Fatalf("%+v written back parses to %+v, %v", st, again, err)
		}
	})
}

// FuzzStatRoundTrip: any command name (spaces and parentheses included),
// parent and start time survive a stat line.
func FuzzStatRoundTrip(f *testing.F) {
	f.Add("a) b", uint32(7), uint64(12345))
	f.Add("(sd-pam)", uint32(1), uint64(0))
	f.Fuzz(func(t *testing.T, comm string, ppid uint32, ticks uint64) {
		st := Stat{Comm: comm, PPID: ppid, StartTicks: ticks}
		got, err := ParseStat(statLine(st))
		if err != nil || got != st {
			t.Fatalf("%+v parses to %+v, %v", st, got, err)
		}
	})
}
