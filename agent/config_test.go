package agent

import (
	"testing"

	"github.com/argus-sensor/argus-sensor/classify"
)

// Empty path rules mean the defaults, at start and on reload alike;
// rules given replace them; a bad CIDR or rule is refused.
func TestClassifiers(t *testing.T) {
	paths, internal, err := classifiers(Config{Internal: []string{"100.64.0.0/10"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths.Classes("/tmp/x", false, false); len(got) != 1 || got[0] != "tmp" {
		t.Errorf("default rules: /tmp/x is %v", got)
	}
	if len(internal) != 1 || internal[0].String() != "100.64.0.0/10" {
		t.Errorf("internal %v", internal)
	}
	own := classify.PathRules{Prefixes: map[string][]string{"drop": {"/opt/drop"}}}
	paths, _, err = classifiers(Config{PathRules: own})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths.Classes("/tmp/x", false, false); len(got) != 0 {
		t.Errorf("own rules: /tmp/x is %v", got)
	}
	if got := paths.Classes("/opt/drop/x", false, false); len(got) != 1 || got[0] != "drop" {
		t.Errorf("own rules: /opt/drop/x is %v", got)
	}
	if _, _, err := classifiers(Config{Internal: []string{"not-a-cidr"}}); err == nil {
		t.Error("bad CIDR accepted")
	}
}
