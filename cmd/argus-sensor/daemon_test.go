package main

import (
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/config"
	"github.com/argus-sensor/argus-sensor/forward/format"
)

// The file's settings reach the daemon, including the two whose zero
// means something else in agent.Config.
func TestAgentConfigFromFile(t *testing.T) {
	c := config.Default()
	c.HealthInterval = 0 // the file's 0 disables periodic health records
	c.Snapshot = false
	c.Outputs = []config.Output{{Spec: "file:/tmp/x.jsonl", Format: "ecs"}}
	c.Hashing.Wait = config.Duration(750 * time.Millisecond)
	c.InternalNetworks = []string{"100.64.0.0/10"}
	if err := c.Validate("test"); err != nil {
		t.Fatal(err)
	}
	a, err := agentConfig(c, "v9", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.HealthInterval >= 0 || !a.NoSnapshot || a.HashWait != 750*time.Millisecond || a.Version != "v9" {
		t.Errorf("health %v no-snapshot %v hash wait %v version %q", a.HealthInterval, a.NoSnapshot, a.HashWait, a.Version)
	}
	if len(a.Outputs) != 1 || a.Outputs[0].Format != format.FormatECS || a.SpoolDir != c.Spool.Dir {
		t.Errorf("outputs %+v spool %q", a.Outputs, a.SpoolDir)
	}
	if len(a.Internal) != 1 || a.Internal[0] != "100.64.0.0/10" || a.Sensor.RingBytes != int(c.Sensor.RingBytes) {
		t.Errorf("internal %v ring %d", a.Internal, a.Sensor.RingBytes)
	}
}

// TestTuneGC: the daemon tunes the collector's target only when the
// operator did not set GOGC.
func TestTuneGC(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if !tuneGC(env(nil)) {
		t.Error("GOGC unset: the daemon would leave Go's default")
	}
	for _, v := range []string{"100", "off", ""} {
		if tuneGC(env(map[string]string{"GOGC": v})) {
			t.Errorf("GOGC=%q: the daemon would override the operator's setting", v)
		}
	}
}
