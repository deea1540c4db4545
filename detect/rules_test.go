package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// The tests in this file pin the rules' bounds and conditions one at a
// time: each case is built so that the bound or condition alone decides
// its outcome. go run ./internal/mutate checks that they do (every
// mutation in mutations.txt makes one of them fail).

const (
	m = time.Minute
	w = DefaultWindow
)

// ruleIDs names each detection by its rule and the ids of the records it
// holds.
func ruleIDs(dets []event.Record) []string {
	var out []string
	for _, d := range dets {
		ids := []string{d.Detection.Rule}
		for _, e := range d.Detection.Events {
			ids = append(ids, e.ID)
		}
		out = append(out, strings.Join(ids, " "))
	}
	return out
}

func launchID(host string, at time.Duration, pid uint32) string {
	return fmt.Sprintf("%s-launch-%d-%d", host, pid, at)
}

func connID(host string, at time.Duration, pid uint32, dst string) string {
	return fmt.Sprintf("%s-conn-%d-%d-%s", host, pid, at, dst)
}

// TestWindowBoundary: a launch and a connection join when they are at
// most the window apart, in either order, to the nanosecond.
func TestWindowBoundary(t *testing.T) {
	for _, tc := range []struct {
		gap  time.Duration
		want bool
	}{
		{w - 1, true},
		{w, true},
		{w + 1, false},
	} {
		t.Run(fmt.Sprintf("exec then connect %v", tc.gap), func(t *testing.T) {
			dets, _, _ := replay(t, Config{},
				launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
				connect("h1", tc.gap, 10, "/tmp/implant", shaImplant, "192.0.2.1"))
			if got := len(dets) == 1; got != tc.want {
				t.Fatalf("%d detections, want a detection: %v", len(dets), tc.want)
			}
		})
		t.Run(fmt.Sprintf("connect then exec %v", tc.gap), func(t *testing.T) {
			dets, _, _ := replay(t, Config{},
				connect("h1", 0, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
				launch("h1", tc.gap, 11, "/tmp/implant", shaImplant, unowned))
			if got := len(dets) == 1; got != tc.want {
				t.Fatalf("%d detections, want a detection: %v", len(dets), tc.want)
			}
		})
	}
}

// TestStaleHalves: a half older than the window does not keep a newer
// record of the same half from joining. The detection holds the records
// that joined: the newest of the kept half.
func TestStaleHalves(t *testing.T) {
	const dst = "192.0.2.1"
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"launches 0 50, connect 105", []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			launch("h1", 50*m, 11, "/tmp/implant", shaImplant, unowned),
			connect("h1", 105*m, 11, "/tmp/implant", shaImplant, dst),
		}, []string{RuleT1587 + " " + launchID("h1", 50*m, 11) + " " + connID("h1", 105*m, 11, dst)}},
		{"launches 0 50 100, connect 105", []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			launch("h1", 50*m, 11, "/tmp/implant", shaImplant, unowned),
			launch("h1", 100*m, 12, "/tmp/implant", shaImplant, unowned),
			connect("h1", 105*m, 12, "/tmp/implant", shaImplant, dst),
		}, []string{RuleT1587 + " " + launchID("h1", 100*m, 12) + " " + connID("h1", 105*m, 12, dst)}},
		{"connects 0 50, launch 105", []string{
			connect("h1", 0, 10, "/tmp/implant", shaImplant, dst),
			connect("h1", 50*m, 10, "/tmp/implant", shaImplant, dst),
			launch("h1", 105*m, 11, "/tmp/implant", shaImplant, unowned),
		}, []string{RuleT1587 + " " + launchID("h1", 105*m, 11) + " " + connID("h1", 50*m, 10, dst)}},
		{"connects 0 50 100, launch 105", []string{
			connect("h1", 0, 10, "/tmp/implant", shaImplant, dst),
			connect("h1", 50*m, 10, "/tmp/implant", shaImplant, dst),
			connect("h1", 100*m, 10, "/tmp/implant", shaImplant, dst),
			launch("h1", 105*m, 11, "/tmp/implant", shaImplant, unowned),
		}, []string{RuleT1587 + " " + launchID("h1", 105*m, 11) + " " + connID("h1", 100*m, 10, dst)}},
		// A late record (older than the kept one) does not displace it.
		{"launch 50, late launch 0, connect 105", []string{
			launch("h1", 50*m, 11, "/tmp/implant", shaImplant, unowned),
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", 105*m, 11, "/tmp/implant", shaImplant, dst),
		}, []string{RuleT1587 + " " + launchID("h1", 50*m, 11) + " " + connID("h1", 105*m, 11, dst)}},
		{"launches 0 50, connect 111: both stale", []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			launch("h1", 50*m, 11, "/tmp/implant", shaImplant, unowned),
			connect("h1", 111*m, 11, "/tmp/implant", shaImplant, dst),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, _, _ := replay(t, Config{}, tc.lines...)
			if got := ruleIDs(dets); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("detections %q, want %q", got, tc.want)
			}
			for _, d := range dets {
				first, last := d.Detection.Events[0].Time, d.Detection.Events[1].Time
				if last.Before(first) {
					first, last = last, first
				}
				if !d.Detection.FirstSeen.Equal(first) || !d.Detection.LastSeen.Equal(last) {
					t.Errorf("first %v last %v, want %v %v", d.Detection.FirstSeen, d.Detection.LastSeen, first, last)
				}
			}
		})
	}
}

// TestRepeatSuppression: one detection per key per window, counted from
// the detection; the records that fired do not fire again.
func TestRepeatSuppression(t *testing.T) {
	deleted := func(at time.Duration) string {
		return connect("h1", at, 10, "/srv/app/tool", shaImplant, "192.0.2.1", deletedAs(unownedDeleted))
	}
	for _, tc := range []struct {
		name  string
		lines []string
		want  int
	}{
		// A deleted binary's connection stands alone, so each one
		// outside the quiet window fires.
		{"second exactly a window later", []string{deleted(m), deleted(m + w)}, 2},
		{"second a nanosecond short of a window", []string{deleted(m), deleted(m + w - 1)}, 1},
		{"fired halves are spent", []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", 0, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
			connect("h1", w, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, _, _ := replay(t, Config{}, tc.lines...)
			if len(dets) != tc.want {
				t.Fatalf("%d detections, want %d", len(dets), tc.want)
			}
		})
	}
}

// healthDrop is a sensor_health record with the loss counters lost and dropped.
func healthDrop(host string, at time.Duration, lost, dropped uint64) string {
	r := &event.Record{Schema: event.Schema, ID: fmt.Sprintf("h-%s-%d", host, at), Kind: event.KindSensorHealth, Time: t0.Add(at),
		Host: event.Host{Hostname: host}, Health: &event.Health{State: "running", EventsLost: lost, EventsDropped: dropped}}
	return string(r.AppendJSON(nil))
}

// TestDegraded: a detection is degraded when loss falls within the window
// before it, to the nanosecond, whichever counter grew.
func TestDegraded(t *testing.T) {
	pair := func(connAt time.Duration) []string {
		return []string{
			launch("h1", connAt-m, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", connAt, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}
	}
	for _, tc := range []struct {
		name   string
		health []string
		connAt time.Duration
		want   bool
	}{
		{"loss a window before", []string{healthDrop("h1", 0, 0, 0), healthDrop("h1", m, 3, 0)}, m + w, true},
		{"loss a window and a nanosecond before", []string{healthDrop("h1", 0, 0, 0), healthDrop("h1", m, 3, 0)}, m + w + 1, false},
		{"dropped events only", []string{healthDrop("h1", 0, 0, 0), healthDrop("h1", m, 0, 2)}, 2 * m, true},
		{"loss in the host's first health record", []string{healthDrop("h1", m, 5, 0)}, 2 * m, true},
		{"drops in the host's first health record", []string{healthDrop("h1", m, 0, 5)}, 2 * m, true},
		{"counters that did not grow", []string{healthDrop("h1", 0, 4, 4), healthDrop("h1", 2*w, 4, 4)}, 2*w + m, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, _, _ := replay(t, Config{}, append(tc.health, pair(tc.connAt)...)...)
			if len(dets) != 1 || dets[0].Detection.Degraded != tc.want {
				t.Fatalf("%d detections, degraded %v, want one, degraded %v", len(dets), degradedFlags(dets), tc.want)
			}
		})
	}
}

// TestNPMDegraded: the npm rule marks loss too.
func TestNPMDegraded(t *testing.T) {
	dets, _, _ := replay(t, Config{},
		healthDrop("h1", 0, 0, 0), healthDrop("h1", m, 1, 0),
		launch("h1", 2*m, 10, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/evil"),
			withAncestors("/usr/bin/sh", "/usr/bin/node")))
	if len(dets) != 1 || dets[0].Detection.Rule != RuleNPM || !dets[0].Detection.Degraded {
		t.Fatalf("detections %v, degraded %v: want one degraded npm detection", ruleIDs(dets), degradedFlags(dets))
	}
}

// TestSweepBound: state is swept once it is more than a window old, not
// before.
func TestSweepBound(t *testing.T) {
	for _, tc := range []struct {
		later       time.Duration
		keys, swept int
	}{
		{w, 2, 0},
		{w + 1, 1, 1},
		{w + 30*m, 1, 1},
	} {
		t.Run(tc.later.String(), func(t *testing.T) {
			_, e, _ := replay(t, Config{},
				launch("h1", 0, 10, "/tmp/a", shaImplant, unowned),
				launch("h1", tc.later, 11, "/tmp/b", shaPayload, unowned))
			if st := e.Stats(); st.Keys != tc.keys || st.Expired != uint64(tc.swept) {
				t.Fatalf("keys %d expired %d, want %d and %d", st.Keys, st.Expired, tc.keys, tc.swept)
			}
		})
	}
}

// TestNPMDedupe: one npm detection per package per window, to the
// nanosecond.
func TestNPMDedupe(t *testing.T) {
	chain := withAncestors("/usr/bin/sh", "/usr/bin/node")
	for _, tc := range []struct {
		later time.Duration
		want  int
	}{
		{w - 1, 1},
		{w, 2},
		{w + 30*m, 2},
	} {
		t.Run(tc.later.String(), func(t *testing.T) {
			dets, _, _ := replay(t, Config{},
				launch("h1", 0, 10, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/evil"), chain),
				launch("h1", tc.later, 11, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/evil"), chain))
			if len(dets) != tc.want {
				t.Fatalf("%d detections, want %d", len(dets), tc.want)
			}
		})
	}
}

// TestSHA256Case: digests join whatever their case; the detection names
// the digest in lower case.
func TestSHA256Case(t *testing.T) {
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/implant", strings.ToUpper(shaPayload), unowned),
		connect("h1", m, 10, "/tmp/implant", shaPayload, "192.0.2.1"))
	if len(dets) != 1 || dets[0].Detection.SHA256 != shaPayload {
		t.Fatalf("detections %v: want one for %s", ruleIDs(dets), shaPayload)
	}
}

func relabeled(path string, ino uint64) recOpt {
	return func(r *event.Record) { r.Process.ExeRelabeled = &event.Relabel{Path: path, Device: 8, Inode: ino} }
}

// TestRelabelRule: a connection whose process relabelled its executable
// fires exe_relabeled_without_exec, wherever it connects (a private
// address too) and whatever the executed file's verdict: once per
// process and label per window, again for another label or process. A
// connection without a label never fires it, and an allowlist entry
// scoped to the rule silences it.
func TestRelabelRule(t *testing.T) {
	const implant = "/tmp/implant"
	count := func(dets []event.Record) (n int) {
		for _, d := range dets {
			if d.Detection.Rule == RuleRelabel {
				n++
			}
		}
		return n
	}
	dets, _, _ := replay(t, Config{},
		connect("h1", 0, 10, implant, shaImplant, "10.0.0.1", withTrust(unowned), relabeled("/usr/bin/true", 77)),
		connect("h1", m, 10, implant, shaImplant, "10.0.0.2", withTrust(unowned), relabeled("/usr/bin/true", 77)),
		connect("h1", 2*m, 10, implant, shaImplant, "10.0.0.2", withTrust(unowned), relabeled("", 78)),
		connect("h1", 3*m, 11, "/usr/bin/curl", shaCurl, "10.0.0.2", withTrust(verified), relabeled("/usr/bin/true", 77)),
		connect("h1", 4*m, 12, implant, shaImplant, "10.0.0.2", withTrust(unowned)),
		connect("h1", w+m, 10, implant, shaImplant, "10.0.0.2", withTrust(unowned), relabeled("/usr/bin/true", 77)))
	if n := count(dets); n != 4 {
		t.Fatalf("%d relabel detections, want 4 (pid 10 twice, then its second label, pid 11, pid 10 again a window later)", n)
	}
	d := dets[0].Detection
	if d.Technique != "T1036" || d.SHA256 != shaImplant || len(d.Events) != 1 ||
		!strings.Contains(d.Summary, implant+" (pid 10) made the kernel name /usr/bin/true") {
		t.Errorf("detection %+v", d)
	}
	if !strings.Contains(dets[1].Detection.Summary, "inode 78") {
		t.Errorf("unnamed label: summary %q, want the inode", dets[1].Detection.Summary)
	}
	// Its exec record lost: no path and no hash, only the kernel's identity
	// of the executed file. Still a detection, which names that identity.
	dets, _, _ = replay(t, Config{},
		connect("h1", 0, 13, "", "", "10.0.0.1", relabeled("/usr/bin/true", 77)))
	if n := count(dets); n != 1 || !strings.Contains(dets[0].Detection.Summary, "the program with inode") {
		t.Errorf("exec record lost: %d relabel detections %+v, want 1 naming the executed file's inode", n, dets)
	}
	dets, _, _ = replay(t, Config{Allow: []AllowEntry{{Name: "criu", Rules: []string{RuleRelabel}, Exe: []string{implant}}}},
		connect("h1", 0, 10, implant, shaImplant, "10.0.0.1", withTrust(unowned), relabeled("/usr/bin/true", 77)))
	if n := count(dets); n != 0 {
		t.Errorf("%d relabel detections with the process allowlisted, want 0", n)
	}
}

func codeFrom(origin string) recOpt {
	return func(r *event.Record) { r.Process.CodeOrigin = origin }
}

// TestInjectedRule: a connection made by code in anonymous memory or in
// program text written to after it was mapped fires
// connect_from_injected_code, whatever the executable's verdict (the
// injected code is not the executable's): once per process and origin per
// window. Unknown origin and ordinary code never fire it; an allowlist
// entry scoped to the rule silences it.
func TestInjectedRule(t *testing.T) {
	const sleep = "/usr/bin/sleep"
	count := func(dets []event.Record) (n int) {
		for _, d := range dets {
			if d.Detection.Rule == RuleInjected {
				n++
			}
		}
		return n
	}
	dets, _, _ := replay(t, Config{},
		connect("h1", 0, 10, sleep, shaCurl, "10.0.0.1", withTrust(verified), codeFrom("written_file_text")),
		connect("h1", m, 10, sleep, shaCurl, "192.0.2.9", withTrust(verified), codeFrom("written_file_text")),
		connect("h1", 2*m, 10, sleep, shaCurl, "192.0.2.9", withTrust(verified), codeFrom("anonymous_memory")),
		connect("h1", 3*m, 11, sleep, shaCurl, "192.0.2.9", withTrust(verified), codeFrom("unknown")),
		connect("h1", 4*m, 12, sleep, shaCurl, "192.0.2.9", withTrust(verified)),
		connect("h1", w+m, 10, sleep, shaCurl, "192.0.2.9", withTrust(verified), codeFrom("written_file_text")))
	if n := count(dets); n != 3 {
		t.Fatalf("%d injected-code detections, want 3 (pid 10 written, then anonymous, then written a window later)", n)
	}
	d := dets[0].Detection
	if d.Technique != "T1055" || d.Severity != "HIGH" || len(d.Events) != 1 ||
		!strings.Contains(d.Summary, sleep+" (pid 10) connected to 10.0.0.1:4444") || !strings.Contains(d.Summary, "written to") {
		t.Errorf("detection %+v", d)
	}
	if !strings.Contains(dets[1].Detection.Summary, "no file backs") {
		t.Errorf("anonymous: summary %q", dets[1].Detection.Summary)
	}
	dets, _, _ = replay(t, Config{Allow: []AllowEntry{{Name: "jit", Rules: []string{RuleInjected}, Exe: []string{sleep}}}},
		connect("h1", 0, 10, sleep, shaCurl, "192.0.2.9", withTrust(verified), codeFrom("anonymous_memory")))
	if n := count(dets); n != 0 {
		t.Errorf("%d injected-code detections with the program allowlisted, want 0", n)
	}
}
