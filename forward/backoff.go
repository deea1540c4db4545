package forward

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces the retries of a failing delivery: the wait doubles
// from Initial up to Max, and each wait is drawn from its upper half so
// that sensors which lost the same receiver do not retry in lockstep,
// while no retry comes sooner than half the nominal wait.
type Backoff struct {
	// Initial is the first wait. Default 500 ms.
	Initial time.Duration
	// Max caps the wait. Default 60 s.
	Max time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = time.Minute
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	return b
}

// Delay returns the wait before retry number attempt (0 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	d := b.Max
	if attempt < 30 {
		if n := b.Initial << attempt; n > 0 && n < b.Max {
			d = n
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
