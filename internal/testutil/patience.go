package testutil

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Patience scales d, a limit on how long a test waits for something that
// normally takes far less (a record, a started sensor), by
// $ARGUS_TEST_PATIENCE. The kernel matrix sets it in guests that run
// under slow emulation (arm64 under TCG on an x86 host), where the same
// work takes several times longer; it never shortens a wait. A limit is
// a hang detector, not an assertion: no test passes because of it.
func Patience(t testing.TB, d time.Duration) time.Duration {
	s := os.Getenv("ARGUS_TEST_PATIENCE")
	if s == "" {
		return d
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 {
		t.Fatalf("ARGUS_TEST_PATIENCE=%q: want a number of at least 1", s)
	}
	return time.Duration(float64(d) * f)
}
