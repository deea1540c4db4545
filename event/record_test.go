package event

import (
	"math"
	"testing"
)

// TestNetworkAttempts: an ordinary record is one attempt, a summary its
// count, and a count beyond an int32 saturates instead of wrapping.
func TestNetworkAttempts(t *testing.T) {
	for _, tc := range []struct {
		count uint64
		want  int
	}{{0, 1}, {1, 1}, {2999, 2999}, {1 << 40, math.MaxInt32}, {math.MaxUint64, math.MaxInt32}} {
		n := Network{Count: tc.count}
		if got := n.Attempts(); got != tc.want {
			t.Errorf("count %d: %d attempts, want %d", tc.count, got, tc.want)
		}
	}
}
