package procfs

import (
	"errors"
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

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (a) b) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) { ParseStat(b) })
}
