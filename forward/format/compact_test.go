package format

import (
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

func compactSamples() (launch, conn, det, health, hash *event.Record) {
	t := time.Date(2026, 11, 26, 3, 8, 59, 225539675, time.UTC)
	ext := true
	launch = &event.Record{Schema: event.Schema, Kind: event.KindProcessLaunch, Time: t, Host: event.Host{Hostname: "vm"},
		Process: &event.Process{PID: 15111, PPID: 15010, UID: 1000, EUID: 0, Comm: "mytrue2", Args: []string{"/tmp/mytrue2", "-c", "a b"},
			Exe: event.Exe{Path: "/tmp/mytrue2", SHA256: "c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2",
				Trust: &event.Trust{Verdict: "unowned", Severity: "LOW"}, PathClasses: []string{"tmp"}},
			Parent: &event.Parent{PID: 15010, Comm: "bash", Exe: event.ParentExe{Path: "/usr/bin/bash"}}}}
	conn = &event.Record{Schema: event.Schema, Kind: event.KindNetworkConnection, Time: t, Host: event.Host{Hostname: "vm"},
		Process: &event.Process{PID: 15111, Comm: "mytrue2", Exe: event.Exe{Path: "/tmp/mytrue2", HashStatus: "pending"}},
		Network: &event.Network{Protocol: "tcp", Family: "ipv6", DstIP: "2001:db8::1", DstPort: 4444, Result: "ECONNREFUSED", External: &ext}}
	det = &event.Record{Schema: event.Schema, Kind: event.KindDetection, Time: t, Host: event.Host{Hostname: "vm"},
		Detection: &event.Detection{Rule: "t1587_develop_capabilities_unsigned_exec", Technique: "T1587", Severity: "CRITICAL", Novelty: []string{"new_file", "rare"},
			Summary: "unowned /tmp/mytrue2 connected to 2001:db8::1:4444", Degraded: true, Connections: 3,
			SHA256: "c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2",
			Events: []event.Record{*launch, *conn}}}
	health = &event.Record{Schema: event.Schema, Kind: event.KindSensorHealth, Time: t, Host: event.Host{Hostname: "vm"},
		Health: &event.Health{State: "running", EventsLost: 2, EventsDropped: 1, Processes: 120, UptimeSeconds: 61,
			Hooks:   []event.HookState{{Name: "exec", Attached: true}, {Name: "connect_sendmsg4", Attached: false}},
			Outputs: []event.OutputHealth{{Name: "https://siem", Dropped: 5}}, WriteErrors: 7}}
	hash = &event.Record{Schema: event.Schema, Kind: event.KindHashUpdate, Time: t, RefID: "abc-1",
		Process: &event.Process{PID: 9, Comm: "big", Exe: event.Exe{Path: "/opt/big", HashStatus: "too_large"}}}
	return
}

func TestCompactLines(t *testing.T) {
	launch, conn, det, health, hash := compactSamples()
	named := *conn
	nn := *conn.Network
	nn.DstHostname = "c2.argus.test"
	named.Network = &nn
	dns := &event.Record{Schema: event.Schema, Kind: event.KindDNSQuery, Time: conn.Time, Process: conn.Process,
		DNS: &event.DNS{Name: "c2.argus.test", Type: "AAAA", RCode: "NOERROR", ResolvedIPs: []string{"2001:db8::1"},
			Transport: "udp", ServerIP: "10.9.0.1", ServerPort: 53, Truncated: true}}
	for _, tc := range []struct {
		r    *event.Record
		want string
	}{
		{launch, `2026-11-26T03:08:59.225Z launch  mytrue2[15111] /tmp/mytrue2 unowned [tmp] sha256=c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2 uid=1000 euid=0 parent=bash[15010] /usr/bin/bash args: /tmp/mytrue2 -c "a b"`},
		{conn, `2026-11-26T03:08:59.225Z connect mytrue2[15111] /tmp/mytrue2 hash=pending -> [2001:db8::1]:4444/tcp external ECONNREFUSED`},
		{det, `2026-11-26T03:08:59.225Z DETECT  t1587_develop_capabilities_unsigned_exec CRITICAL T1587 new:new_file,rare DEGRADED mytrue2[15111] /tmp/mytrue2 unowned [tmp] sha256=c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2 -> [2001:db8::1]:4444/tcp external ECONNREFUSED connections=3 summary="unowned /tmp/mytrue2 connected to 2001:db8::1:4444"`},
		{health, `2026-11-26T03:08:59.225Z health  running lost=3 (kernel=2 dropped=1 decode=0) hooks=1/2 unattached:connect_sendmsg4 processes=120 output_dropped=5 write_errors=7 up=1m1s`},
		{hash, `2026-11-26T03:08:59.225Z hash    ref=abc-1 big[9] /opt/big hash=too_large`},
		{&named, `2026-11-26T03:08:59.225Z connect mytrue2[15111] /tmp/mytrue2 hash=pending -> c2.argus.test [2001:db8::1]:4444/tcp external ECONNREFUSED`},
		{dns, `2026-11-26T03:08:59.225Z dns     mytrue2[15111] /tmp/mytrue2 hash=pending c2.argus.test AAAA NOERROR = 2001:db8::1 from 10.9.0.1:53/udp partial`},
	} {
		got := string(FormatCompact.Append(nil, tc.r))
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.r.Kind, got, tc.want)
		}
	}
}

// Odd names can neither break the line nor reach the terminal as control
// sequences, and what they were stays readable.
func TestCompactOddStrings(t *testing.T) {
	launch, _, _, _, _ := compactSamples()
	launch.Process.Comm = "a\x1b[2Jb"
	launch.Process.Exe.Path = "/tmp/new\nline \xff\xfe"
	launch.Process.Args = []string{"\u202eexe.txt", ""}
	got := string(FormatCompact.Append(nil, launch))
	for _, bad := range []string{"\n", "\x1b", "\xff", "\u202e"} {
		if strings.Contains(got, bad) {
			t.Errorf("line carries %q raw: %q", bad, got)
		}
	}
	for _, want := range []string{`"a\x1b[2Jb"[15111]`, `"/tmp/new\nline \xff\xfe"`, `args: "\u202eexe.txt" ""`} {
		if !strings.Contains(got, want) {
			t.Errorf("line lacks %s: %s", want, got)
		}
	}
}

// Colour only in the variant the stdout sink picks for a terminal, and
// the plain text is the same under it.
func TestCompactColor(t *testing.T) {
	_, _, det, _, _ := compactSamples()
	plain := string(FormatCompact.Append(nil, det))
	if strings.Contains(plain, "\x1b") {
		t.Fatalf("compact has escape sequences: %q", plain)
	}
	colored := string(formatCompactColor.Append(nil, det))
	if !strings.Contains(colored, cBoldRd+"DETECT") {
		t.Errorf("coloured detection not red: %q", colored)
	}
	stripped := colored
	for _, c := range []string{cReset, cBold, cDim, cRed, cGreen, cYellow, cBlue, cCyan, cBoldRd} {
		stripped = strings.ReplaceAll(stripped, c, "")
	}
	if stripped != plain {
		t.Errorf("colour changed the text:\n %s\n %s", stripped, plain)
	}
}

func TestParseFormatCompact(t *testing.T) {
	if f, err := ParseFormat("compact"); err != nil || f != FormatCompact {
		t.Errorf("ParseFormat(compact) = %v, %v", f, err)
	}
	if _, err := ParseFormat("compact+color"); err == nil {
		t.Error("the colour variant is selectable by name")
	}
}
