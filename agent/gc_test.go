package agent

import "testing"

// TestGCTuner: lean from the start; Go's default as soon as the queue is a
// quarter full; lean again only after gcCalmTicks ticks in a row with the
// queue at a sixty-fourth or less, a tick in between starting the count
// over.
func TestGCTuner(t *testing.T) {
	var sets []int
	g := newGCTuner(func(p int) int { sets = append(sets, p); return 0 })
	const capacity = 65536
	step := func(queued, want int) {
		t.Helper()
		g.observe(queued, capacity)
		if g.percent != want || sets[len(sets)-1] != want {
			t.Fatalf("after %d queued: target %d (last set %d), want %d", queued, g.percent, sets[len(sets)-1], want)
		}
	}
	step(0, gcPercentLean)
	step(capacity/4-1, gcPercentLean)
	step(capacity/4, gcPercentBehind)
	for range gcCalmTicks - 1 {
		step(capacity/64, gcPercentBehind)
	}
	step(capacity/64+1, gcPercentBehind) // not short: the count restarts
	for range gcCalmTicks - 1 {
		step(0, gcPercentBehind)
	}
	step(0, gcPercentLean)
	step(capacity, gcPercentBehind)
	if want := []int{gcPercentLean, gcPercentBehind, gcPercentLean, gcPercentBehind}; len(sets) != len(want) {
		t.Errorf("targets set %v, want %v: set only on a change", sets, want)
	}
}
