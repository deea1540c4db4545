package atomics

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/event"
)

// The evaluator is the atomics' judge: these tests feed it fabricated
// sensor output, each with one thing wrong, and check it fails the
// atomic, so a passing atomic means what it says.

const fakeSHA = "5555555555555555555555555555555555555555555555555555555555555555"

// fakeRun is a finished run of the suite's atomic id, with args, under a
// shell that is this process (the runner).
func fakeRun(t *testing.T, id string, args map[string]string, digests map[string]string) *caseRun {
	t.Helper()
	for i := range suite {
		if suite[i].id == id {
			now := time.Now()
			return &caseRun{spec: &suite[i], args: args, ran: true, shell: uint32(os.Getpid()),
				start: now.Add(-time.Minute), end: now, digests: digests}
		}
	}
	t.Fatalf("no atomic %s in the suite", id)
	return nil
}

// fakeRecords returns what the sensor writes when a tool from /tmp,
// started by the shell, connects to dst: its launch and its connection.
func fakeRecords(path, sha, dst string, port uint16, ext bool) (l, c *event.Record) {
	at := time.Now().Add(-30 * time.Second)
	shell := uint32(os.Getpid())
	proc := event.Process{PID: 4242, PPID: shell, StartTimeNs: 77, Args: []string{path},
		Exe:    event.Exe{Path: path, SHA256: sha, PathClasses: []string{"tmp"}, Trust: &event.Trust{Verdict: "unowned", Severity: "LOW"}},
		Parent: &event.Parent{PID: shell, Exe: event.ParentExe{Path: "/usr/bin/bash"}}}
	l = &event.Record{Schema: event.Schema, ID: "fake-launch", Kind: event.KindProcessLaunch, Time: at, Process: &proc}
	cp := proc
	c = &event.Record{Schema: event.Schema, ID: "fake-conn", Kind: event.KindNetworkConnection, Time: at.Add(time.Second), Process: &cp,
		Network: &event.Network{Protocol: "tcp", Family: "ipv4", DstIP: dst, DstPort: port, Result: "success", External: &ext}}
	return l, c
}

func fakeDetection(id, rule, sha string, events ...*event.Record) *event.Record {
	d := &event.Record{Schema: event.Schema, ID: id, Kind: event.KindDetection, Time: time.Now().Add(-20 * time.Second),
		Detection: &event.Detection{Rule: rule, SHA256: sha}}
	for _, e := range events {
		d.Detection.Events = append(d.Detection.Events, *e)
	}
	return d
}

// judge feeds the records to an output as the sensor's lines and
// evaluates r against it, and returns the failed checks.
func judge(r *caseRun, recs ...*event.Record) []string {
	o := newOutput("")
	for _, rec := range recs {
		o.feed(append(rec.AppendJSON(nil), '\n'))
	}
	var failed []string
	for _, c := range evaluate(r, o) {
		if !c.ok {
			failed = append(failed, fmt.Sprintf("%s (got %s)", c.want, c.got))
		}
	}
	return failed
}

// TestEvaluateT1587Fails: T1587-3 (a compiled tool in /tmp connects out)
// passes on the output it expects, and fails when any one expected
// signal is wrong or missing.
func TestEvaluateT1587Fails(t *testing.T) {
	const tool = "/tmp/argus-t1587-tool"
	args := map[string]string{"tool_path": tool, "c2_host": "192.0.2.1", "c2_port": "4444"}
	for _, tc := range []struct {
		name   string
		breaks func(l, c, d *event.Record) []*event.Record // nil: the good output
		failed string                                      // a check that must fail (the ones that depend on it fail too)
	}{
		{"good", nil, ""},
		{"degraded detection", func(l, c, d *event.Record) []*event.Record {
			d.Detection.Degraded = true
			return []*event.Record{l, c, d}
		}, "detection " + detect.RuleT1587},
		{"no detection", func(l, c, d *event.Record) []*event.Record {
			return []*event.Record{l, c}
		}, "detection " + detect.RuleT1587},
		{"detection of another digest", func(l, c, d *event.Record) []*event.Record {
			d.Detection.SHA256 = strings.Repeat("6", 64)
			return []*event.Record{l, c, d}
		}, "detection " + detect.RuleT1587},
		{"detection without the connection", func(l, c, d *event.Record) []*event.Record {
			d.Detection.Events = d.Detection.Events[:1]
			return []*event.Record{l, c, d}
		}, "detection " + detect.RuleT1587},
		{"packaged binary", func(l, c, d *event.Record) []*event.Record {
			l.Process.Exe.Trust = &event.Trust{Verdict: "package_verified", Severity: "INFORMATIONAL"}
			return []*event.Record{l, c, d}
		}, "process_launch"},
		{"wrong digest", func(l, c, d *event.Record) []*event.Record {
			l.Process.Exe.SHA256 = strings.Repeat("6", 64)
			return []*event.Record{l, c, d}
		}, "process_launch"},
		{"internal destination", func(l, c, d *event.Record) []*event.Record {
			f := false
			c.Network.External = &f
			return []*event.Record{l, c, d}
		}, "network_connection"},
		{"no connection", func(l, c, d *event.Record) []*event.Record {
			return []*event.Record{l, d}
		}, "network_connection"},
		{"another rule's detection too", func(l, c, d *event.Record) []*event.Record {
			return []*event.Record{l, c, d, fakeDetection("det-npm", detect.RuleNPM, fakeSHA, l)}
		}, "no other detection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeRun(t, "T1587-3", args, map[string]string{tool: fakeSHA})
			l, c := fakeRecords(tool, fakeSHA, "192.0.2.1", 4444, true)
			d := fakeDetection("det-t1587", detect.RuleT1587, fakeSHA, l, c)
			recs := []*event.Record{l, c, d}
			if tc.breaks != nil {
				recs = tc.breaks(l, c, d)
			}
			failed := judge(r, recs...)
			if tc.failed == "" {
				if len(failed) != 0 {
					t.Fatalf("the good output fails: %q", failed)
				}
				return
			}
			if !slices.ContainsFunc(failed, func(f string) bool { return strings.HasPrefix(f, tc.failed) }) {
				t.Fatalf("failed checks %q, want %q among them", failed, tc.failed)
			}
		})
	}
}

// TestEvaluateDegradedWhenExpected: an atomic that loses events on
// purpose accepts a degraded detection.
func TestEvaluateDegradedWhenExpected(t *testing.T) {
	const tool = "/tmp/argus-t1587-tool"
	r := fakeRun(t, "T1587-3", map[string]string{"tool_path": tool, "c2_host": "192.0.2.1", "c2_port": "4444"},
		map[string]string{tool: fakeSHA})
	spec := *r.spec
	spec.degraded = true
	r.spec = &spec
	l, c := fakeRecords(tool, fakeSHA, "192.0.2.1", 4444, true)
	d := fakeDetection("det-t1587", detect.RuleT1587, fakeSHA, l, c)
	d.Detection.Degraded = true
	if failed := judge(r, l, c, d); len(failed) != 0 {
		t.Fatalf("failed checks %q", failed)
	}
}

// TestEvaluateControlFails: the control C1 (a build artifact in /tmp
// calls an internal registry) passes without a detection and fails with
// one, whether the detection names its records or only its digest.
func TestEvaluateControlFails(t *testing.T) {
	const bin = "/tmp/argus-build/out/fetch-deps"
	args := map[string]string{"build_dir": "/tmp/argus-build", "registry_host": "10.0.0.5", "registry_port": "5000"}
	for _, tc := range []struct {
		name string
		det  func(l, c *event.Record) *event.Record
		ok   bool
	}{
		{"no detection", func(l, c *event.Record) *event.Record { return nil }, true},
		{"a detection of its records", func(l, c *event.Record) *event.Record {
			return fakeDetection("det-c1", detect.RuleT1587, fakeSHA, l, c)
		}, false},
		{"a detection of its digest elsewhere", func(l, c *event.Record) *event.Record {
			other := *l
			other.ID = "someone-else"
			return fakeDetection("det-c1", detect.RuleT1587, fakeSHA, &other)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeRun(t, "C1", args, map[string]string{bin: fakeSHA})
			l, c := fakeRecords(bin, fakeSHA, "10.0.0.5", 5000, false)
			recs := []*event.Record{l, c}
			if d := tc.det(l, c); d != nil {
				recs = append(recs, d)
			}
			failed := judge(r, recs...)
			if tc.ok && len(failed) != 0 {
				t.Fatalf("failed checks %q", failed)
			}
			if !tc.ok && (len(failed) != 1 || !strings.HasPrefix(failed[0], "no detection")) {
				t.Fatalf("failed checks %q, want only \"no detection\"", failed)
			}
		})
	}
}
