package event_test

import (
	"encoding/json"
	"testing"

	"github.com/argus-sensor/argus-sensor/internal/schematest"
)

// TestEncoderOutputMatchesSchema validates what the encoder writes for
// records of every kind with every optional member filled, both through
// the hot-path encoder and through encoding/json (which writes the
// records nested in a detection, and the ones replay re-encodes).
func TestEncoderOutputMatchesSchema(t *testing.T) {
	for _, r := range schematest.Rich() {
		schematest.Check(t, r.AppendJSON(nil))
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		schematest.Check(t, b)
	}
}
