package main

import "testing"

// TestDistinctAddr: the connect-distinct destinations stay in
// 127.0.0.0/8, never end in .0 or .255, and do not repeat within a whole
// period (at 160k connects/s, over 100 s), after which they start over.
func TestDistinctAddr(t *testing.T) {
	seen := make([]uint64, 1<<24/64)
	for i := range uint64(distinctPeriod) {
		a := distinctAddr(i)
		if a[0] != 127 || a[3] == 0 || a[3] == 255 {
			t.Fatalf("step %d: %v", i, a)
		}
		v := uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		if seen[v/64]&(1<<(v%64)) != 0 {
			t.Fatalf("step %d: %v repeats within %d steps", i, a, distinctPeriod)
		}
		seen[v/64] |= 1 << (v % 64)
	}
	if distinctPeriod < 100*160_000 {
		t.Errorf("period %d: under 100 s at 160k connects/s", distinctPeriod)
	}
	for _, i := range []uint64{0, 1, 12345, distinctPeriod - 1} {
		if distinctAddr(i) != distinctAddr(i+distinctPeriod) {
			t.Errorf("step %d and %d differ: not periodic", i, i+distinctPeriod)
		}
	}
	// Each loop starts at its own offset: loop 1 of 2 is half a period
	// from loop 0 (their ports differ too).
	if distinctAddr(0) == distinctAddr(distinctPeriod/2) {
		t.Error("loops start at the same destination")
	}
}
