package forward

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward/format"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

// Compact never panics and writes one line per record for every sample,
// bare and odd ones included.
func TestCompactAllRecords(t *testing.T) {
	for _, r := range recordtest.All() {
		b := format.FormatCompact.Append(nil, r)
		if bytes.IndexByte(b, '\n') >= 0 || len(b) == 0 {
			t.Errorf("%q: %q", r.ID, b)
		}
	}
}

// Two file outputs with different filters, fed the same records: each
// gets exactly what its kinds: and drop: allow, and counts the rest.
func TestOutputFilters(t *testing.T) {
	dir := t.TempDir()
	all, siem, build := filepath.Join(dir, "all.jsonl"), filepath.Join(dir, "siem.jsonl"), filepath.Join(dir, "build.jsonl")
	f, err := New(Config{Logger: quietLogger(), Outputs: []Output{
		{Spec: "file:" + all},
		{Spec: "file:" + siem, Kinds: []string{"detection", "sensor_health"}},
		{Spec: "file:" + build, Format: format.FormatCompact, Drop: []string{
			`kind == "process_launch" && process.exe.trust.verdict == "package_verified" && glob("/usr/**", process.exe.path)`,
			`kind == "network_connection" && network.external == false`,
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	verified := recordtest.Launch(1, false)
	verified.Process.Exe.Path = "/usr/bin/cc"
	verified.Process.Exe.Trust = &event.Trust{Verdict: "package_verified", Severity: "INFORMATIONAL"}
	untrusted := recordtest.Launch(2, false)
	untrusted.Process.Exe.Trust = &event.Trust{Verdict: "unowned", Severity: "LOW"}
	internal, external := recordtest.Connect(3, false), recordtest.Connect(4, false)
	no, yes := false, true
	internal.Network.External, external.Network.External = &no, &yes
	recs := []*event.Record{verified, untrusted, internal, external, recordtest.Detection(false), recordtest.Health(false), recordtest.HashUpdate(false)}
	for _, r := range recs {
		f.Send(r)
	}
	if err := closeForwarder(t, f, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	lines := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	if n := len(lines(all)); n != len(recs) {
		t.Errorf("unfiltered output has %d records, want %d", n, len(recs))
	}
	var kinds []string
	for _, l := range lines(siem) {
		kinds = append(kinds, recordtest.Get(recordtest.MustJSON(t, []byte(l)), "kind").(string))
	}
	if strings.Join(kinds, ",") != "detection,sensor_health" {
		t.Errorf("siem output kinds %v, want detection,sensor_health", kinds)
	}
	b := lines(build)
	if len(b) != len(recs)-2 {
		t.Errorf("build output has %d lines, want %d:\n%s", len(b), len(recs)-2, strings.Join(b, "\n"))
	}
	joined := strings.Join(b, "\n")
	if strings.Contains(joined, "/usr/bin/cc") {
		t.Error("package-verified /usr launch not dropped")
	}
	if !strings.Contains(joined, "unowned") || !strings.Contains(joined, " external ") || strings.Contains(joined, " internal ") {
		t.Errorf("build output kept the wrong connections or launches:\n%s", joined)
	}
	st := f.Stats()
	for i, want := range []uint64{0, uint64(len(recs) - 2), 2} {
		if st[i].Filtered != want {
			t.Errorf("output %d (%s): filtered %d, want %d", i, st[i].Name, st[i].Filtered, want)
		}
		if st[i].Dropped() != 0 || st[i].FilterErrors != 0 {
			t.Errorf("output %d: dropped %d, filter errors %d", i, st[i].Dropped(), st[i].FilterErrors)
		}
		if st[i].Sent+st[i].Filtered != uint64(len(recs)) {
			t.Errorf("output %d: sent %d + filtered %d != %d records", i, st[i].Sent, st[i].Filtered, len(recs))
		}
	}
}

func TestCompactNotForHTTP(t *testing.T) {
	if _, err := parseOutput(Output{Spec: "https://siem.example.com/x", Format: format.FormatCompact}); err == nil || !strings.Contains(err.Error(), "compact") {
		t.Errorf("compact accepted for HTTP: %v", err)
	}
}

func TestOutputFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		o    Output
		want string
	}{
		{Output{Spec: "stdout", Kinds: []string{"detections"}}, `kinds[0]: unknown record kind "detections"`},
		{Output{Spec: "stdout", Drop: []string{`kind ==`}}, "drop[0]: condition"},
	} {
		err := Validate([]Output{tc.o})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}
