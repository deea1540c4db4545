package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/event"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

const (
	shaImplant = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaCurl    = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	shaPython  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	shaPayload = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
)

var (
	unowned  = &event.Trust{Verdict: "unowned", Severity: "LOW"}
	verified = &event.Trust{Verdict: "package_verified", Severity: "INFORMATIONAL", Package: "curl"}
)

// rec builds a record; recorded telemetry leaves classification to the
// replay's classifier, as here.
type recOpt func(*event.Record)

func launch(host string, at time.Duration, pid uint32, path, sha string, trust *event.Trust, opts ...recOpt) string {
	r := &event.Record{
		Schema: event.Schema, ID: fmt.Sprintf("%s-launch-%d-%d", host, pid, at), Kind: event.KindProcessLaunch,
		Time: t0.Add(at), Host: event.Host{Hostname: host},
		Process: &event.Process{PID: pid, PPID: 1, UID: 1000, Args: []string{path}, Cwd: "/home/u",
			Exe:    event.Exe{Path: path, SHA256: sha, Trust: trust},
			Parent: &event.Parent{PID: 1, Exe: event.ParentExe{Path: "/usr/bin/bash"}}},
	}
	for _, o := range opts {
		o(r)
	}
	return string(r.AppendJSON(nil))
}

func connect(host string, at time.Duration, pid uint32, path, sha, dst string, opts ...recOpt) string {
	r := &event.Record{
		Schema: event.Schema, ID: fmt.Sprintf("%s-conn-%d-%d-%s", host, pid, at, dst), Kind: event.KindNetworkConnection,
		Time: t0.Add(at), Host: event.Host{Hostname: host},
		Process: &event.Process{PID: pid, UID: 1000, Exe: event.Exe{Path: path, SHA256: sha}},
		Network: &event.Network{Protocol: "tcp", Family: "ipv4", DstIP: dst, DstPort: 4444, Result: "success"},
	}
	for _, o := range opts {
		o(r)
	}
	return string(r.AppendJSON(nil))
}

func health(host string, at time.Duration, lost uint64) string { return healthDrop(host, at, lost, 0) }

func withScript(path, sha string, trust *event.Trust) recOpt {
	return func(r *event.Record) { r.Process.Script = &event.Script{Path: path, SHA256: sha, Trust: trust} }
}

// withTrust sets the verdict the process table gave the record's
// executable, as enrich does on every record of a hashed process.
func withTrust(t *event.Trust) recOpt { return func(r *event.Record) { r.Process.Exe.Trust = t } }

var unownedDeleted = &event.Trust{Verdict: "unowned", Severity: "MEDIUM", Reason: "executable was deleted after exec"}

// deletedAs marks a record's executable deleted (since exec) with trust t.
func deletedAs(t *event.Trust) recOpt {
	return func(r *event.Record) { r.Process.Exe.Deleted, r.Process.Exe.Trust = true, t }
}

func withCwd(cwd string) recOpt { return func(r *event.Record) { r.Process.Cwd = cwd } }

func withAncestors(paths ...string) recOpt {
	return func(r *event.Record) {
		for i, p := range paths {
			r.Process.Ancestors = append(r.Process.Ancestors, event.Ancestor{PID: uint32(100 + i), ExePath: p})
		}
		r.Process.Parent = &event.Parent{PID: 100, Exe: event.ParentExe{Path: paths[0]}}
	}
}

func fill(t *testing.T) func(*event.Record) {
	paths, err := classify.NewPaths(classify.DefaultPathRules())
	if err != nil {
		t.Fatal(err)
	}
	c := &classify.Classifier{Paths: paths, Networks: classify.NewNetworks(nil)}
	return c.Fill
}

func replay(t *testing.T, cfg Config, lines ...string) ([]event.Record, *Engine, ReplayStats) {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st, err := Replay(strings.NewReader(strings.Join(lines, "\n")+"\n"), e, fill(t), &out)
	if err != nil {
		t.Fatal(err)
	}
	var dets []event.Record
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var d event.Record
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("detection line %q: %v", l, err)
		}
		dets = append(dets, d)
	}
	return dets, e, st
}

func TestT1587(t *testing.T) {
	const m = time.Minute
	for _, tc := range []struct {
		name  string
		cfg   Config
		lines []string
		want  []string // rule of each detection, in order
	}{
		{"exec then connect", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", 5*m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587}},
		{"connect then exec", Config{}, []string{
			connect("h1", 0, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
			launch("h1", 30*m, 11, "/tmp/implant", shaImplant, unowned),
		}, []string{RuleT1587}},
		{"59 minutes apart", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", 59*m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587}},
		{"61 minutes apart", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", 61*m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, nil},
		{"connect 61 minutes before exec", Config{}, []string{
			connect("h1", 0, 10, "/opt/x/implant", shaImplant, "192.0.2.1"),
			launch("h1", 61*m, 11, "/tmp/implant", shaImplant, unowned),
		}, nil},
		{"same hash in two pids", Config{}, []string{
			launch("h1", 0, 10, "/home/u/Downloads/tool", shaImplant, unowned),
			connect("h1", m, 99, "/opt/renamed", shaImplant, "198.51.100.7"),
		}, []string{RuleT1587}},
		{"two hosts", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h2", m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, nil},
		{"rfc1918 destination", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "10.20.30.40"),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "192.168.1.1"),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "127.0.0.1"),
		}, nil},
		{"ipv6 destination", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "2001:db8::1"),
		}, []string{RuleT1587}},
		{"ipv6 ula and link-local", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "fd12::1"),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "fe80::1"),
		}, nil},
		{"ipv4-mapped private", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "::ffff:10.0.0.1"),
		}, nil},
		{"ipv4-mapped external", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "::ffff:192.0.2.1"),
		}, []string{RuleT1587}},
		{"allowlisted sha256", Config{Allow: []AllowEntry{{Name: "ci", SHA256: []string{shaImplant}}}}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, nil},
		{"allowlisted path and destination", Config{Allow: []AllowEntry{{Name: "registry", Exe: []string{"/tmp/**"}, Destinations: []string{"192.0.2.0/24"}}}}, []string{
			launch("h1", 0, 10, "/tmp/build/out/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/build/out/implant", shaImplant, "192.0.2.1"),
		}, nil},
		{"allowlist for another destination", Config{Allow: []AllowEntry{{Name: "registry", Exe: []string{"/tmp/**"}, Destinations: []string{"203.0.113.0/24"}}}}, []string{
			launch("h1", 0, 10, "/tmp/build/out/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/build/out/implant", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587}},
		{"package verified binary", Config{}, []string{
			launch("h1", 0, 10, "/tmp/curl", shaCurl, verified),
			connect("h1", m, 10, "/tmp/curl", shaCurl, "192.0.2.1"),
		}, nil},
		{"trusted location", Config{}, []string{
			launch("h1", 0, 10, "/opt/vendor/agent", shaImplant, unowned),
			connect("h1", m, 10, "/opt/vendor/agent", shaImplant, "192.0.2.1"),
		}, nil},
		{"deleted system binary after upgrade", Config{}, []string{
			launch("h1", 0, 10, "/usr/sbin/chronyd", shaImplant, unowned, func(r *event.Record) { r.Process.Exe.Deleted = true }),
			connect("h1", m, 10, "/usr/sbin/chronyd", shaImplant, "192.0.2.1"),
		}, nil},
		{"deleted after start, no other class", Config{}, []string{
			launch("h1", 0, 10, "/srv/app/tool", shaImplant, unowned),
			connect("h1", m, 10, "/srv/app/tool", shaImplant, "192.0.2.1", deletedAs(unownedDeleted)),
		}, []string{RuleT1587}},
		{"deleted after start, launch never seen", Config{}, []string{
			connect("h1", m, 10, "/srv/app/tool", shaImplant, "192.0.2.1", deletedAs(unownedDeleted)),
		}, []string{RuleT1587}},
		{"deleted after start, internal destination", Config{}, []string{
			connect("h1", m, 10, "/srv/app/tool", shaImplant, "10.1.2.3", deletedAs(unownedDeleted)),
		}, nil},
		{"deleted after an upgrade, package-owned path outside /usr", Config{}, []string{
			launch("h1", 0, 10, "/opt/google/chrome/chrome", shaImplant, unowned),
			connect("h1", m, 10, "/opt/google/chrome/chrome", shaImplant, "192.0.2.1",
				deletedAs(&event.Trust{Verdict: "unknown", Severity: "MEDIUM", Package: "google-chrome-stable"})),
		}, nil},
		{"deleted after start under /usr", Config{}, []string{
			connect("h1", m, 10, "/usr/local/bin/tool", shaImplant, "192.0.2.1", deletedAs(unownedDeleted)),
		}, nil},
		{"deleted after start, trust unknown to the record", Config{}, []string{
			connect("h1", m, 10, "/srv/app/tool", shaImplant, "192.0.2.1", deletedAs(nil)),
		}, nil},
		{"memfd", Config{}, []string{
			launch("h1", 0, 10, "/memfd:x", shaImplant, unowned, func(r *event.Record) { r.Process.Exe.Memfd = true }),
			connect("h1", m, 10, "/memfd:x", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587}},
		{"interpreter script in a hidden dir", Config{}, []string{
			launch("h1", 0, 10, "/usr/bin/python3.11", shaPython, verified, withScript("/home/u/.n2/pay", shaPayload, unowned)),
			connect("h1", m, 10, "/usr/bin/python3.11", shaPython, "192.0.2.1", withScript("/home/u/.n2/pay", shaPayload, unowned)),
		}, []string{RuleT1587}},
		{"interpreter alone", Config{}, []string{
			launch("h1", 0, 10, "/usr/bin/python3.11", shaPython, verified),
			connect("h1", m, 10, "/usr/bin/python3.11", shaPython, "192.0.2.1"),
		}, nil},
		{"one detection per window", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
			connect("h1", 10*m, 10, "/tmp/implant", shaImplant, "198.51.100.1"),
			launch("h1", 20*m, 11, "/tmp/implant", shaImplant, unowned),
			launch("h1", 130*m, 12, "/tmp/implant", shaImplant, unowned),
			connect("h1", 131*m, 12, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587, RuleT1587}},
		{"relaunch at 50 minutes, connect at 70", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			launch("h1", 50*m, 11, "/tmp/implant", shaImplant, unowned),
			connect("h1", 70*m, 11, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587}},
		{"two hosts, each launched and connected", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			launch("h2", m, 10, "/tmp/implant", shaImplant, unowned),
			connect("h2", 2*m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
			connect("h1", 3*m, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		}, []string{RuleT1587, RuleT1587}},
		{"live process connects two hours after its launch", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
			connect("h1", 120*m, 10, "/tmp/implant", shaImplant, "192.0.2.1", withTrust(unowned)),
		}, []string{RuleT1587}},
		{"live process, launch never seen", Config{}, []string{
			connect("h1", 0, 10, "/home/u/Downloads/tool", shaImplant, "192.0.2.1", withTrust(unowned)),
		}, []string{RuleT1587}},
		{"live verified process from /tmp", Config{}, []string{
			connect("h1", 120*m, 10, "/tmp/curl", shaCurl, "192.0.2.1", withTrust(verified)),
		}, nil},
		{"live process outside a suspicious place", Config{}, []string{
			connect("h1", 120*m, 10, "/opt/vendor/agent", shaImplant, "192.0.2.1", withTrust(unowned)),
		}, nil},
		{"live process, internal destination", Config{}, []string{
			connect("h1", 120*m, 10, "/tmp/implant", shaImplant, "10.1.2.3", withTrust(unowned)),
		}, nil},
		{"live process, allowlisted", Config{Allow: []AllowEntry{{Name: "ci", SHA256: []string{shaImplant}}}}, []string{
			connect("h1", 120*m, 10, "/tmp/implant", shaImplant, "192.0.2.1", withTrust(unowned)),
		}, nil},
		{"no hash, no join", Config{}, []string{
			launch("h1", 0, 10, "/tmp/implant", "", unowned),
			connect("h1", m, 10, "/tmp/implant", "", "192.0.2.1"),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, _, st := replay(t, tc.cfg, tc.lines...)
			if st.BadLines != 0 {
				t.Fatalf("bad lines: %v", st.FirstBad)
			}
			var got []string
			for _, d := range dets {
				got = append(got, d.Detection.Rule)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("detections %v, want %v", got, tc.want)
			}
		})
	}
}

// TestT1587CountsFoldedConnects: a summary of folded repeats counts as the
// attempts it stands for, not as one.
func TestT1587CountsFoldedConnects(t *testing.T) {
	sum := connect("h1", time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1", func(r *event.Record) {
		r.Network.Count, r.Network.FirstSeen, r.Network.LastSeen = 41, t0.Add(30*time.Second), t0.Add(time.Minute)
	})
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
		sum,
	)
	if len(dets) != 1 {
		t.Fatalf("%d detections", len(dets))
	}
	if n := dets[0].Detection.Connections; n != 41 {
		t.Errorf("connection_count %d, want the summary's 41", n)
	}
}

func TestT1587DetectionContent(t *testing.T) {
	dets, e, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned, withAncestors("/usr/bin/bash", "/usr/sbin/sshd")),
		connect("h1", time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		connect("h1", 2*time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
	)
	if len(dets) != 1 {
		t.Fatalf("%d detections", len(dets))
	}
	d := dets[0]
	dd := d.Detection
	if d.Kind != event.KindDetection || dd.Rule != RuleT1587 || dd.Technique != "T1587" || dd.Tactic != "Resource Development" ||
		dd.Severity != "HIGH" || dd.Hostname != "h1" || dd.SHA256 != shaImplant || dd.WindowSeconds != 3600 || dd.Degraded {
		t.Errorf("detection %+v", dd)
	}
	if len(dd.Events) != 2 || dd.Events[0].Kind != event.KindProcessLaunch || dd.Events[1].Kind != event.KindNetworkConnection {
		t.Fatalf("events %+v", dd.Events)
	}
	if got := dd.Events[0].Process.Exe.PathClasses; fmt.Sprint(got) != "[tmp]" {
		t.Errorf("launch classes %v", got)
	}
	if !dd.FirstSeen.Equal(t0) || !dd.LastSeen.Equal(t0.Add(time.Minute)) || dd.Connections != 1 {
		t.Errorf("first %v last %v connections %d", dd.FirstSeen, dd.LastSeen, dd.Connections)
	}
	if len(dd.ProcessTree) != 2 || dd.ProcessTree[1].ExePath != "/usr/sbin/sshd" {
		t.Errorf("process tree %+v", dd.ProcessTree)
	}
	if !strings.Contains(dd.Summary, "/tmp/implant") || !strings.Contains(dd.Summary, "192.0.2.1:4444") {
		t.Errorf("summary %q", dd.Summary)
	}
	if st := e.Stats(); st.Detections[RuleT1587] != 1 || st.Repeats != 1 {
		t.Errorf("stats %+v", st)
	}
	// The same telemetry gives the same detection id.
	again, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned, withAncestors("/usr/bin/bash", "/usr/sbin/sshd")),
		connect("h1", time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1"))
	if again[0].ID != d.ID {
		t.Errorf("replay gave id %s, then %s", d.ID, again[0].ID)
	}
}

// TestT1587NamesTheDestination: a connection whose address came from a
// DNS answer the sensor saw is named in the summary.
func TestT1587NamesTheDestination(t *testing.T) {
	named := func(r *event.Record) { r.Network.DstHostname = "c2.argus.test" }
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
		connect("h1", time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1", named))
	if len(dets) != 1 {
		t.Fatalf("%d detections", len(dets))
	}
	d := dets[0].Detection
	if !strings.HasSuffix(d.Summary, "connected to c2.argus.test (192.0.2.1):4444") || d.Events[1].Network.DstHostname != "c2.argus.test" {
		t.Errorf("summary %q, connection %+v", d.Summary, d.Events[1].Network)
	}
}

// TestT1587DeletedSinceLaunch: a binary that unlinks itself and then
// connects is caught on the connection alone, which stands for both halves.
func TestT1587DeletedSinceLaunch(t *testing.T) {
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/srv/app/tool", shaImplant, unowned, withAncestors("/usr/bin/bash")),
		connect("h1", time.Minute, 10, "/srv/app/tool", shaImplant, "192.0.2.1", deletedAs(unownedDeleted)),
		connect("h1", 2*time.Minute, 10, "/srv/app/tool", shaImplant, "192.0.2.1", deletedAs(unownedDeleted)),
	)
	if len(dets) != 1 {
		t.Fatalf("%d detections, want 1", len(dets))
	}
	d := dets[0].Detection
	if len(d.Events) != 1 || d.Events[0].Kind != event.KindNetworkConnection || !d.Events[0].Process.Exe.Deleted {
		t.Fatalf("events %+v: want the one deleted connection", d.Events)
	}
	if got := d.Events[0].Process.Exe.PathClasses; fmt.Sprint(got) != "[deleted]" {
		t.Errorf("classes %v", got)
	}
	if !d.FirstSeen.Equal(t0.Add(time.Minute)) || !d.LastSeen.Equal(d.FirstSeen) || !strings.Contains(d.Summary, "classes deleted") {
		t.Errorf("first %v last %v summary %q", d.FirstSeen, d.LastSeen, d.Summary)
	}
}

func TestDegradedAfterLoss(t *testing.T) {
	dets, _, _ := replay(t, Config{},
		health("h1", 0, 0),
		launch("h1", time.Minute, 10, "/tmp/implant", shaImplant, unowned),
		health("h1", 2*time.Minute, 7),
		connect("h1", 3*time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
		// Two hours later, no loss in the window: not degraded.
		health("h1", 200*time.Minute, 7),
		launch("h1", 201*time.Minute, 11, "/tmp/implant", shaImplant, unowned),
		connect("h1", 202*time.Minute, 11, "/tmp/implant", shaImplant, "192.0.2.1"),
	)
	if len(dets) != 2 || !dets[0].Detection.Degraded || dets[1].Detection.Degraded {
		t.Fatalf("got %d detections; degraded flags %v", len(dets), degradedFlags(dets))
	}
}

func degradedFlags(dets []event.Record) []bool {
	var out []bool
	for _, d := range dets {
		out = append(out, d.Detection.Degraded)
	}
	return out
}

func TestBoundedStateMarksDegraded(t *testing.T) {
	var lines []string
	for i := range 10 {
		sha := strings.Repeat(fmt.Sprintf("%x", i), 64)
		lines = append(lines, launch("h1", time.Duration(i)*time.Second, uint32(i), "/tmp/x", sha, unowned))
	}
	lines = append(lines, connect("h1", time.Minute, 9, "/tmp/x", strings.Repeat("9", 64), "192.0.2.1"))
	dets, e, _ := replay(t, Config{MaxKeys: 4}, lines...)
	st := e.Stats()
	if st.Keys > 4 || st.Evicted != 6 {
		t.Errorf("keys %d evicted %d, want at most 4 and 6", st.Keys, st.Evicted)
	}
	if len(dets) != 1 || !dets[0].Detection.Degraded {
		t.Errorf("want one degraded detection after evictions, got %d", len(dets))
	}
}

func TestExpirySweepsOldState(t *testing.T) {
	_, e, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/a", shaImplant, unowned),
		connect("h1", 0, 10, "/usr/bin/curl", shaCurl, "192.0.2.1"),
		launch("h1", 3*time.Hour, 11, "/tmp/b", shaPayload, unowned),
	)
	st := e.Stats()
	if st.Keys != 1 || st.Expired != 2 || st.Evicted != 0 {
		t.Errorf("stats %+v: want the two old keys expired", st)
	}
}

func TestNPMLifecycle(t *testing.T) {
	nodeChain := withAncestors("/usr/bin/sh", "/usr/bin/node", "/usr/bin/bash")
	dets, e, _ := replay(t, Config{},
		launch("h1", 0, 10, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/evil-pkg"), nodeChain),
		launch("h1", time.Second, 11, "/usr/bin/id", shaCurl, verified, withCwd("/home/u/app/node_modules/evil-pkg"), nodeChain),
		launch("h1", 2*time.Second, 12, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/@scope/other/lib"), nodeChain),
		// Not under node_modules, or not under node: nothing.
		launch("h1", 3*time.Second, 13, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app"), nodeChain),
		launch("h1", 4*time.Second, 14, "/usr/bin/dash", shaImplant, verified, withCwd("/home/u/app/node_modules/x"),
			withAncestors("/usr/bin/make", "/usr/bin/bash")),
		// A node child that is not a shell or recon tool: nothing.
		launch("h1", 5*time.Second, 15, "/usr/bin/git", shaImplant, verified, withCwd("/home/u/app/node_modules/x"), nodeChain),
	)
	if len(dets) != 2 {
		t.Fatalf("%d detections, want 2 (one per package)", len(dets))
	}
	d := dets[0].Detection
	if d.Rule != RuleNPM || d.Technique != "T1587" || fmt.Sprint(d.Techniques) != "[T1195.002]" ||
		!strings.Contains(d.Summary, "/home/u/app/node_modules/evil-pkg") {
		t.Errorf("detection %+v", d)
	}
	if !strings.Contains(dets[1].Detection.Summary, "node_modules/@scope/other") {
		t.Errorf("scoped package: %q", dets[1].Detection.Summary)
	}
	if e.Stats().Repeats != 1 {
		t.Errorf("stats %+v", e.Stats())
	}
}

func TestReplayCountsBadLines(t *testing.T) {
	_, _, st := replay(t, Config{},
		`{"schema":"argus.v1","kind":"process_launch"`,
		`not json`,
		`{"schema":"other","kind":"x"}`,
		launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned),
		``,
		connect("h1", time.Minute, 10, "/tmp/implant", shaImplant, "192.0.2.1"),
	)
	if st.BadLines != 3 || st.Records != 2 || st.Detections != 1 || st.Lines != 6 {
		t.Fatalf("stats %+v", st)
	}
	for i, want := range []string{"line 1:", "line 2:", "line 3:"} {
		if !strings.HasPrefix(st.FirstBad[i], want) {
			t.Errorf("bad line report %q, want prefix %q", st.FirstBad[i], want)
		}
	}
}

func TestAllowEntryValidation(t *testing.T) {
	for _, a := range []AllowEntry{
		{},
		{Name: "x", SHA256: []string{"abc"}},
		{Name: "x", Destinations: []string{"10.0.0.0/40"}},
		{Name: "x", Exe: []string{"relative/*"}},
		{Name: "x", Rules: []string{"nope"}},
	} {
		if _, err := New(Config{Allow: []AllowEntry{a}}); err == nil {
			t.Errorf("entry %+v accepted", a)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, p string
		want   bool
	}{
		{"/tmp/**", "/tmp/a/b/c", true},
		{"/tmp/**", "/tmp", true},
		{"/tmp/*", "/tmp/a/b", false},
		{"/home/*/build/**/out", "/home/u/build/x/y/out", true},
		{"/home/*/build/**/out", "/home/u/other/out", false},
		{"/opt/agent-?", "/opt/agent-7", true},
	} {
		if got := globMatch(tc.pat, tc.p); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pat, tc.p, got)
		}
	}
}

func TestDeletedPackageFileAtLaunchIsNotACandidate(t *testing.T) {
	pkg := &event.Trust{Verdict: "package_verified", Severity: "MEDIUM", Package: "google-chrome-stable",
		Reason: "deleted since it was executed"}
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/opt/google/chrome/chrome", shaImplant, pkg, func(r *event.Record) { r.Process.Exe.Deleted = true }),
		connect("h1", time.Minute, 10, "/opt/google/chrome/chrome", shaImplant, "192.0.2.1"),
	)
	if len(dets) != 0 {
		t.Fatalf("%d detections for a package's file still running after an upgrade", len(dets))
	}
}

func TestAllowedInterpreterStillCatchesItsScript(t *testing.T) {
	allow := Config{Allow: []AllowEntry{{Name: "pyenv", Exe: []string{"/home/*/.pyenv/versions/**"}}}}
	python := "/home/u/.pyenv/versions/3.11.7/bin/python3.11"
	// The interpreter alone, from a hidden dir, connecting out: allowed.
	dets, e, _ := replay(t, allow,
		launch("h1", 0, 10, python, shaPython, unowned),
		connect("h1", time.Minute, 10, python, shaPython, "192.0.2.1"),
	)
	if len(dets) != 0 || e.Stats().Suppressed["pyenv"] == 0 {
		t.Fatalf("allowlisted interpreter: %d detections, suppressed %v", len(dets), e.Stats().Suppressed)
	}
	// The same interpreter running a payload from a hidden dir: caught.
	dets, _, _ = replay(t, allow,
		launch("h1", 0, 10, python, shaPython, unowned, withScript("/home/u/.n2/pay", shaPayload, unowned)),
		connect("h1", time.Minute, 10, python, shaPython, "192.0.2.1", withScript("/home/u/.n2/pay", shaPayload, unowned)),
	)
	if len(dets) != 1 || dets[0].Detection.SHA256 != shaPayload {
		t.Fatalf("payload under an allowlisted interpreter: %d detections", len(dets))
	}
}

// TestT1587LongLivedBeacon: a process launched once and beaconing every 30
// minutes for 3 hours. The first beacon joins its launch; after that the
// beacons of the still-running process fire by themselves, at most once a
// window, each naming the connection that stood for its launch.
func TestT1587LongLivedBeacon(t *testing.T) {
	lines := []string{launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned)}
	for at := 30 * time.Minute; at <= 180*time.Minute; at += 30 * time.Minute {
		lines = append(lines, connect("h1", at, 10, "/tmp/implant", shaImplant, "192.0.2.1", withTrust(unowned)))
	}
	dets, e, _ := replay(t, Config{}, lines...)
	var got []string
	for _, d := range dets {
		var ids []string
		for _, ev := range d.Detection.Events {
			ids = append(ids, ev.ID)
		}
		got = append(got, d.Detection.FirstSeen.Sub(t0).String()+" "+strings.Join(ids, ","))
	}
	want := []string{
		"0s h1-launch-10-0,h1-conn-10-1800000000000-192.0.2.1",
		"1h30m0s h1-conn-10-5400000000000-192.0.2.1",
		"2h30m0s h1-conn-10-9000000000000-192.0.2.1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("detections\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(dets[1].Detection.Summary, "running on h1") {
		t.Errorf("a connection standing for its launch says so: %q", dets[1].Detection.Summary)
	}
	if st := e.Stats(); st.SelfJoined != 2 || st.Repeats != 3 {
		t.Errorf("self-joined %d, repeats %d; want 2 and 3", st.SelfJoined, st.Repeats)
	}
}

var newFile = int64(5)

const shaLib = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

// libraryLoad is a library_load record: pid, running path (sha), mapped
// the library lib (libSHA, libTrust).
func libraryLoad(host string, at time.Duration, pid uint32, path, sha, lib, libSHA string, libTrust *event.Trust) string {
	exeTrust := unowned
	if strings.HasPrefix(path, "/usr/") {
		exeTrust = verified
	}
	r := &event.Record{
		Schema: event.Schema, ID: fmt.Sprintf("%s-lib-%d-%d", host, pid, at), Kind: event.KindLibraryLoad,
		Time: t0.Add(at), Host: event.Host{Hostname: host},
		// A new, rare executable: novelty that must not be the library's.
		Process: &event.Process{PID: pid, UID: 1000, Exe: event.Exe{Path: path, SHA256: sha, Trust: exeTrust,
			AgeSeconds: &newFile, Prevalence: &event.Prevalence{FirstSeen: t0, Executions: 1, TrackedSince: t0}}},
		Library: &event.Library{Path: lib, SHA256: libSHA, Trust: libTrust, Via: "mmap", Inode: 7, Device: 3},
	}
	return string(r.AppendJSON(nil))
}

// withLibrary gives a connection's process a library it loaded.
func withLibrary(lib, sha string, trust *event.Trust) recOpt {
	return func(r *event.Record) {
		r.Process.Libraries = append(r.Process.Libraries, event.Library{Path: lib, SHA256: sha, Trust: trust, Via: "mmap"})
	}
}

// TestT1587Library: a library from a user-writable place that no package
// vouches for is an identity of the process that loaded it, as a script
// is: its load and the process's external connection join on the
// library's sha256, whichever comes first.
func TestT1587Library(t *testing.T) {
	const dst = "192.0.2.1"
	for _, tc := range []struct {
		name  string
		lines []string
		want  int
	}{
		{"preloaded into curl, then connect", []string{
			libraryLoad("h1", 0, 10, "/usr/bin/curl", shaCurl, "/tmp/T1574006.so", shaLib, unowned),
			connect("h1", m, 10, "/usr/bin/curl", shaCurl, dst, withLibrary("/tmp/T1574006.so", shaLib, unowned)),
		}, 1},
		// A connection whose library has no verdict (a replayed export)
		// only joins; with its verdict it stands for its own load (the
		// live-process rule), tested below.
		{"connect first, then the same library loaded by another process", []string{
			connect("h1", 0, 10, "/usr/bin/python3", shaPython, dst, withLibrary("/dev/shm/x.so", shaLib, nil)),
			libraryLoad("h1", m, 11, "/usr/bin/python3", shaPython, "/dev/shm/x.so", shaLib, unowned),
		}, 1},
		{"a connection whose loaded library qualifies, with its verdict", []string{
			connect("h1", 0, 10, "/usr/bin/python3", shaPython, dst, withLibrary("/dev/shm/x.so", shaLib, unowned)),
		}, 1},
		{"a package's library: not a candidate", []string{
			libraryLoad("h1", 0, 10, "/usr/bin/curl", shaCurl, "/tmp/libssl.so", shaLib, verified),
			connect("h1", m, 10, "/usr/bin/curl", shaCurl, dst, withLibrary("/tmp/libssl.so", shaLib, verified)),
		}, 0},
		{"an unowned library from no user-writable place: not a candidate", []string{
			libraryLoad("h1", 0, 10, "/usr/bin/curl", shaCurl, "/opt/vendor/libx.so", shaLib, unowned),
			connect("h1", m, 10, "/usr/bin/curl", shaCurl, dst, withLibrary("/opt/vendor/libx.so", shaLib, unowned)),
		}, 0},
		{"the connection does not carry the library: no join", []string{
			libraryLoad("h1", 0, 10, "/usr/bin/curl", shaCurl, "/tmp/T1574006.so", shaLib, unowned),
			connect("h1", m, 10, "/usr/bin/curl", shaCurl, dst),
		}, 0},
		// A library_load starts its library alone: the process's own
		// identity was its launch's, and is not launched again by it.
		{"a library_load does not stand for its process's launch", []string{
			libraryLoad("h1", 0, 10, "/tmp/implant", shaImplant, "/usr/lib/libc.so.6", shaLib, verified),
			connect("h1", m, 10, "/tmp/implant", shaImplant, dst),
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, _, _ := replay(t, Config{}, tc.lines...)
			if len(dets) != tc.want {
				t.Fatalf("%d detections, want %d: %v", len(dets), tc.want, ruleIDs(dets))
			}
			if tc.want == 0 {
				return
			}
			d := dets[0].Detection
			events := 2
			if len(tc.lines) == 1 {
				events = 1
			}
			if d.SHA256 != shaLib || d.Rule != RuleT1587 || len(d.Events) != events {
				t.Fatalf("detection %+v: want the library's sha256 and both records", d)
			}
			if !strings.Contains(d.Summary, "loaded by /usr/bin/") || len(d.Novelty) != 0 {
				t.Errorf("summary %q novelty %v: want the loading executable named and no novelty", d.Summary, d.Novelty)
			}
		})
	}
}

// TestBoundedStateBytes: 2,000 candidate launches with 8 KiB command
// lines (each kept until its connection, which never comes) stay within
// MaxBytes; the oldest entries go as evictions, the newest still fires,
// and the accounting returns to zero when everything has expired.
func TestBoundedStateBytes(t *testing.T) {
	const maxBytes = 256 << 10
	rnd := rand.New(rand.NewPCG(1, 2))
	arg := func() string { // 8 KiB that deflate cannot shrink much
		b := make([]byte, 8<<10)
		for i := range b {
			b[i] = 'a' + byte(rnd.IntN(26))
		}
		return string(b)
	}
	var lines []string
	for i := range 2000 {
		sha := fmt.Sprintf("%064x", i+1)
		a := arg()
		lines = append(lines, launch("h1", time.Duration(i)*time.Millisecond, uint32(i+2), "/tmp/x", sha, unowned,
			func(r *event.Record) { r.Process.Args = []string{"/tmp/x", a} }))
	}
	last := fmt.Sprintf("%064x", 2000)
	lines = append(lines, connect("h1", 3*time.Second, 2001, "/tmp/x", last, "192.0.2.1"))
	dets, e, _ := replay(t, Config{MaxBytes: maxBytes}, lines...)
	st := e.Stats()
	if st.KeptBytes > maxBytes || st.KeptBytes <= 0 {
		t.Errorf("kept %d bytes, want 1..%d", st.KeptBytes, maxBytes)
	}
	if st.Evicted == 0 || st.Keys >= 2000 {
		t.Errorf("keys %d evicted %d: the byte bound did not evict", st.Keys, st.Evicted)
	}
	if len(dets) != 1 || dets[0].Detection.SHA256 != last || !dets[0].Detection.Degraded {
		t.Errorf("detections %d: want one on the newest launch, degraded by the evictions", len(dets))
	}
	t.Logf("kept %d bytes in %d keys, %d evicted", st.KeptBytes, st.Keys, st.Evicted)

	// Everything expires: the kept bytes come back to zero exactly.
	var more []string
	for i := range 50 {
		more = append(more, launch("h1", time.Duration(i)*time.Millisecond, uint32(i+2), "/tmp/x", fmt.Sprintf("%064x", i+1), unowned,
			func(r *event.Record) { r.Process.Args = []string{"/tmp/x", arg()[:1024]} }))
	}
	more = append(more, launch("h1", 3*time.Hour, 9, "/usr/bin/true", shaCurl, verified))
	_, e, _ = replay(t, Config{MaxBytes: maxBytes}, more...)
	if st := e.Stats(); st.KeptBytes != 0 || st.Expired != 50 {
		t.Errorf("after expiry: %+v, want 0 bytes kept and 50 expired", st)
	}
}
