package detect

import (
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
)

func withUID(uid uint32) recOpt { return func(r *event.Record) { r.Process.UID = uid } }

func withPort(port uint16) recOpt { return func(r *event.Record) { r.Network.DstPort = port } }

func withParent(exe string) recOpt {
	return func(r *event.Record) { r.Process.Parent = &event.Parent{PID: 1, Exe: event.ParentExe{Path: exe}} }
}

// TestAllowConditions: one case pair per allowlist condition. In each
// pair the entry's other condition matches both, so the condition under
// test alone decides whether the detection is suppressed.
func TestAllowConditions(t *testing.T) {
	pair := func(path, sha, dst string, launchOpts, connOpts []recOpt) []string {
		return []string{
			launch("h1", 0, 10, path, sha, unowned, launchOpts...),
			connect("h1", m, 10, path, sha, dst, connOpts...),
		}
	}
	both := func(o ...recOpt) []recOpt { return o }
	for _, tc := range []struct {
		name       string
		entry      AllowEntry
		lines      []string
		suppressed bool
	}{
		{"exe matches", AllowEntry{Exe: []string{"/tmp/build/**"}, Users: []uint32{1000}},
			pair("/tmp/build/out/tool", shaImplant, "192.0.2.1", nil, nil), true},
		{"exe differs", AllowEntry{Exe: []string{"/tmp/build/**"}, Users: []uint32{1000}},
			pair("/tmp/other/tool", shaImplant, "192.0.2.1", nil, nil), false},
		{"sha256 matches", AllowEntry{SHA256: []string{shaImplant}, Exe: []string{"/tmp/**"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", nil, nil), true},
		{"sha256 differs", AllowEntry{SHA256: []string{shaImplant}, Exe: []string{"/tmp/**"}},
			pair("/tmp/tool", shaPayload, "192.0.2.1", nil, nil), false},
		// The parent is on the launch; an entry without network
		// conditions keeps the launch out, so the connection never joins.
		{"parent_exe matches", AllowEntry{ParentExe: []string{"/usr/bin/make"}, Exe: []string{"/tmp/**"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", both(withParent("/usr/bin/make")), nil), true},
		{"parent_exe differs", AllowEntry{ParentExe: []string{"/usr/bin/make"}, Exe: []string{"/tmp/**"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", both(withParent("/usr/bin/bash")), nil), false},
		{"users match", AllowEntry{Users: []uint32{0}, Exe: []string{"/tmp/**"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", both(withUID(0)), both(withUID(0))), true},
		{"users differ", AllowEntry{Users: []uint32{0}, Exe: []string{"/tmp/**"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", both(withUID(1000)), both(withUID(1000))), false},
		{"destination matches", AllowEntry{Destinations: []string{"198.51.100.0/24"}, Ports: []uint16{4444}},
			pair("/tmp/tool", shaImplant, "198.51.100.7", nil, nil), true},
		{"destination differs", AllowEntry{Destinations: []string{"198.51.100.0/24"}, Ports: []uint16{4444}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", nil, nil), false},
		{"port matches", AllowEntry{Ports: []uint16{443}, Destinations: []string{"192.0.2.0/24"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", nil, both(withPort(443))), true},
		{"port differs", AllowEntry{Ports: []uint16{443}, Destinations: []string{"192.0.2.0/24"}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", nil, both(withPort(4444))), false},
		// An IPv4 CIDR covers the IPv4-mapped IPv6 form of its addresses.
		{"IPv4-mapped destination", AllowEntry{Destinations: []string{"192.0.2.0/24"}},
			pair("/tmp/tool", shaImplant, "::ffff:192.0.2.1", nil, nil), true},
		{"IPv4-mapped destination outside", AllowEntry{Destinations: []string{"192.0.2.0/24"}},
			pair("/tmp/tool", shaImplant, "::ffff:198.51.100.7", nil, nil), false},
		{"scoped to this rule", AllowEntry{Rules: []string{RuleT1587}, SHA256: []string{shaImplant}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", nil, nil), true},
		{"scoped to another rule", AllowEntry{Rules: []string{RuleNPM}, SHA256: []string{shaImplant}},
			pair("/tmp/tool", shaImplant, "192.0.2.1", nil, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.entry.Name = "entry"
			dets, e, _ := replay(t, Config{Allow: []AllowEntry{tc.entry}}, tc.lines...)
			n := e.Stats().Suppressed["entry"]
			if tc.suppressed && (len(dets) != 0 || n == 0) {
				t.Fatalf("%d detections, %d suppressions: want it allowed", len(dets), n)
			}
			if !tc.suppressed && (len(dets) != 1 || n != 0) {
				t.Fatalf("%d detections, %d suppressions: want one detection", len(dets), n)
			}
		})
	}
}

// TestAllowNPM: the npm rule honours the allowlist, by the launched
// executable.
func TestAllowNPM(t *testing.T) {
	chain := withAncestors("/usr/bin/sh", "/usr/bin/node")
	for _, tc := range []struct {
		exe  string
		want int
	}{
		{"/usr/bin/dash", 0},
		{"/usr/bin/sh", 1},
	} {
		t.Run(tc.exe, func(t *testing.T) {
			dets, e, _ := replay(t, Config{Allow: []AllowEntry{{Name: "postinstall", Rules: []string{RuleNPM}, Exe: []string{tc.exe}}}},
				launch("h1", 0, 10, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/ok"), chain))
			if len(dets) != tc.want || e.Stats().Suppressed["postinstall"] != uint64(1-tc.want) {
				t.Fatalf("%d detections, suppressed %v, want %d detections", len(dets), e.Stats().Suppressed, tc.want)
			}
		})
	}
}
