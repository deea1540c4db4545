package agent

// The Go collector's target (GOGC) trades memory for CPU: between
// collections the heap may grow to (1 + target/100) times the live data.
// While it keeps up the sensor runs lean, at gcPercentLean: 5-10 MiB less
// resident under load than at Go's default, for up to about 15% more CPU
// per record (a storm to distinct destinations; exec storms showed none).
// When it falls behind, CPU decides how many events are dropped, and the
// queue it is behind on is most of the live heap, which each lean
// collection marks twice as often: then it runs at Go's default,
// gcPercentBehind, until the queue has stayed short for gcCalmTicks
// (docs/performance.md, "Resident memory under the distinct storm"). The
// daemon owns the target only when the operator did not set GOGC
// (Config.TuneGC).
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

// observe takes how full the sensor's queue is, 0 to 1
// (sensor.QueueFill). A quarter full is behind; a sixty-fourth or less,
// for gcCalmTicks in a row, is caught up. In between the target stays as
// it is.
func (t *gcTuner) observe(fill float64) {
	switch {
	case fill >= 1.0/4:
		t.calm = 0
		t.to(gcPercentBehind)
	case fill <= 1.0/64:
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
