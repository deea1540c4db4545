package agent

// The Go collector's target (GOGC) trades memory for CPU: between
// collections the heap may grow to (1 + target/100) times the live data.
// With room to spare the sensor runs lean, at gcPercentLean: about 5-10
// MiB less resident under load than Go's default, for no CPU cost the
// bench can see. When it falls behind, every CPU cycle is an event kept
// out of the ring's loss count, and the queue it is behind on is most of
// the live heap, so each lean collection marks it twice as often: then it
// runs at Go's default, gcPercentBehind, until the queue has stayed short
// for gcCalmTicks. The daemon owns the target only when the operator did
// not set GOGC (Config.TuneGC).
const (
	gcPercentLean   = 50
	gcPercentBehind = 100
	gcCalmTicks     = 10
)

// gcTuner picks the collector target from the sensor's queue, observed
// once a tick.
type gcTuner struct {
	set     func(int) int // debug.SetGCPercent
	percent int
	calm    int // consecutive ticks the queue was short
}

func newGCTuner(set func(int) int) *gcTuner {
	set(gcPercentLean)
	return &gcTuner{set: set, percent: gcPercentLean}
}

// observe takes the number of events queued and the queue's capacity.
// A quarter full is behind; a sixty-fourth or less, for gcCalmTicks in a
// row, is caught up. In between the target stays as it is.
func (t *gcTuner) observe(queued, capacity int) {
	switch {
	case queued >= capacity/4:
		t.calm = 0
		t.to(gcPercentBehind)
	case queued <= capacity/64:
		if t.percent == gcPercentLean {
			return
		}
		if t.calm++; t.calm >= gcCalmTicks {
			t.to(gcPercentLean)
		}
	default:
		t.calm = 0
	}
}

func (t *gcTuner) to(percent int) {
	if t.percent != percent {
		t.percent = percent
		t.set(percent)
	}
}
