package agent

import "testing"

// TestGCTuner: lean from the start; Go's default as soon as the queue is a
// quarter full; lean again only after gcCalmTicks ticks in a row with the
// queue at a sixty-fourth or less, a tick in between starting the count
// over.
func TestGCTuner(t *testing.T) {
	var sets []int
	g := newGCTuner(func(p int) int { sets = append(sets, p); return 0 })
	step := func(fill float64, want int) {
		t.Helper()
		g.observe(fill)
		if g.percent != want || sets[len(sets)-1] != want {
			t.Fatalf("at %.4f full: target %d (last set %d), want %d", fill, g.percent, sets[len(sets)-1], want)
		}
	}
	step(0, gcPercentLean)
	step(0.2499, gcPercentLean)
	step(0.25, gcPercentBehind)
	for range gcCalmTicks - 1 {
		step(1.0/64, gcPercentBehind)
	}
	step(0.0157, gcPercentBehind) // not short: the count restarts
	for range gcCalmTicks - 1 {
		step(0, gcPercentBehind)
	}
	step(0, gcPercentLean)
	step(1, gcPercentBehind)
	if want := []int{gcPercentLean, gcPercentBehind, gcPercentLean, gcPercentBehind}; len(sets) != len(want) {
		t.Errorf("targets set %v, want %v: set only on a change", sets, want)
	}
}
