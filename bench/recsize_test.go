package main

import (
	"fmt"
	"testing"
)

// TestSizeSampler: native sizes are the lines as written, UDM and ECS the
// records re-encoded (so a launch's three sizes differ), and the median
// and 99th percentile are nearest-rank over what was measured.
func TestSizeSampler(t *testing.T) {
	s := newSizeSampler()
	for i := range 200 {
		pad := ""
		if i >= 190 {
			pad = fmt.Sprintf("%01000d", 0) // the ten largest: 1,000 bytes more
		}
		line := fmt.Sprintf(`{"schema":"argus.v1","id":"i%03d","kind":"process_launch","time":"2026-12-07T06:00:00Z","host":{"hostname":"h"},"process":{"pid":%d,"comm":"c%s","exe":{"path":"/tmp/x"}}}`, i, 100+i, pad)
		if err := s.add("process_launch", []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.add("sensor_health", []byte(`{"kind":"sensor_health"}`)); err != nil {
		t.Fatal(err)
	}
	st := s.stats()
	if _, ok := st["sensor_health"]; ok {
		t.Error("health records measured")
	}
	n := st["process_launch"]["native"]
	if n.Records != 200 || n.Median < 150 || n.Median > 200 || n.P99 < 1000 {
		t.Errorf("native %+v: want 200 records, a median of the short lines and a p99 among the ten long ones", n)
	}
	u, e := st["process_launch"]["udm"], st["process_launch"]["ecs"]
	if u.Records != 200 || e.Records != 200 || u.Median == n.Median || e.Median == n.Median || u.Median == 0 || e.Median == 0 {
		t.Errorf("udm %+v ecs %+v native %+v: want each format's own sizes", u, e, n)
	}
	if err := s.add("process_launch", []byte("{not json")); err == nil {
		t.Error("a bad line measured without an error")
	}
}
