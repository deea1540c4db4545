package sensor

import "testing"

func TestCountCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		good bool
	}{
		{"0", 1, true},
		{"0-1", 2, true},
		{"0-3,6,8-9", 7, true},
		{"", 0, false},
		{"0-", 0, false},
		{"3-1", 0, false},
		{"a", 0, false},
	} {
		n, ok := countCPUList(c.in)
		if n != c.n || ok != c.good {
			t.Errorf("countCPUList(%q) = %d, %v; want %d, %v", c.in, n, ok, c.n, c.good)
		}
	}
}

func TestDefaultRingBytes(t *testing.T) {
	got := DefaultRingBytes()
	if got < 4<<20 || got > 64<<20 || got&(got-1) != 0 {
		t.Fatalf("DefaultRingBytes() = %d: want a power of two within 4-64 MiB", got)
	}
	if n := onlineCPUs(); got < min(n*(2<<20), 64<<20) {
		t.Errorf("DefaultRingBytes() = %d for %d CPUs: want at least 2 MiB each (up to 64 MiB)", got, n)
	}
}
