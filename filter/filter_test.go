package filter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

func launch(path, verdict string, classes ...string) *event.Record {
	return &event.Record{Schema: event.Schema, Kind: event.KindProcessLaunch, Time: time.Unix(1, 0),
		Process: &event.Process{PID: 7, Comm: "x", Exe: event.Exe{Path: path,
			Trust: &event.Trust{Verdict: verdict, Severity: "LOW"}, PathClasses: classes}}}
}

func connect(ip string, port uint16, external bool) *event.Record {
	return &event.Record{Schema: event.Schema, Kind: event.KindNetworkConnection, Time: time.Unix(1, 0),
		Process: &event.Process{PID: 7, Exe: event.Exe{Path: "/usr/bin/curl"}},
		Network: &event.Network{Protocol: "tcp", Family: "ipv4", DstIP: ip, DstPort: port, Result: "success", External: &external}}
}

func keep(t *testing.T, f *Filter, r *event.Record) (bool, int) {
	t.Helper()
	return f.Keep(r, NewEnv(r))
}

func TestNilFilterKeepsAll(t *testing.T) {
	f, err := Compile(nil, nil)
	if err != nil || f != nil {
		t.Fatalf("Compile(nil, nil) = %v, %v; want nil, nil", f, err)
	}
	if ok, _ := keep(t, f, launch("/tmp/x", "unowned")); !ok {
		t.Error("nil filter dropped a record")
	}
}

func TestKinds(t *testing.T) {
	f, err := Compile([]string{"detection", " sensor_health"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind event.Kind
		want bool
	}{
		{event.KindDetection, true}, {event.KindSensorHealth, true},
		{event.KindProcessLaunch, false}, {event.KindNetworkConnection, false}, {event.KindHashUpdate, false},
	} {
		r := &event.Record{Kind: tc.kind}
		if got, _ := keep(t, f, r); got != tc.want {
			t.Errorf("kind %s: keep %v, want %v", tc.kind, got, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	for _, tc := range []struct {
		name string
		cond string
		rec  *event.Record
		drop bool
	}{
		{"verdict and glob: match", `kind == "process_launch" && process.exe.trust.verdict == "package_verified" && glob("/usr/**", process.exe.path)`,
			launch("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "package_verified"), true},
		{"verdict and glob: other verdict", `kind == "process_launch" && process.exe.trust.verdict == "package_verified" && glob("/usr/**", process.exe.path)`,
			launch("/usr/bin/evil", "package_modified"), false},
		{"verdict and glob: other path", `kind == "process_launch" && process.exe.trust.verdict == "package_verified" && glob("/usr/**", process.exe.path)`,
			launch("/opt/x/bin/y", "package_verified"), false},
		{"internal connection", `kind == "network_connection" && network.external == false`, connect("10.1.2.3", 443, false), true},
		{"external connection kept", `kind == "network_connection" && network.external == false`, connect("192.0.2.1", 443, true), false},
		{"nil-safe on other kinds", `network.external == false`, launch("/tmp/x", "unowned"), false},
		{"deep nil-safe", `process.script.trust.verdict == "unowned"`, launch("/tmp/x", "unowned"), false},
		{"port number", `network.dst_port in [53, 123]`, connect("10.0.0.1", 53, false), true},
		{"port number no", `network.dst_port in [53, 123]`, connect("10.0.0.1", 443, false), false},
		{"cidr", `cidr("10.0.0.0/8", network.dst_ip)`, connect("10.9.9.9", 1, false), true},
		{"cidr mapped v6", `cidr("10.0.0.0/8", network.dst_ip)`, connect("::ffff:10.9.9.9", 1, false), true},
		{"cidr outside", `cidr("10.0.0.0/8", network.dst_ip)`, connect("192.0.2.1", 1, true), false},
		{"path class membership", `"tmp" in process.exe.path_classes`, launch("/tmp/x", "unowned", "tmp"), true},
		{"path class absent", `"tmp" in process.exe.path_classes`, launch("/usr/bin/x", "package_verified"), false},
		{"regexp", `process.exe.path matches "^/opt/monitoring/"`, launch("/opt/monitoring/agent", "unowned"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(nil, []string{tc.cond})
			if err != nil {
				t.Fatal(err)
			}
			ok, rule := keep(t, f, tc.rec)
			if ok == tc.drop {
				t.Errorf("%s on %s: keep=%v, want drop=%v", tc.cond, tc.rec.Kind, ok, tc.drop)
			}
			if tc.drop && rule != 0 {
				t.Errorf("dropping rule index %d, want 0", rule)
			}
			if f.Errors() != 0 {
				t.Errorf("%d run-time errors", f.Errors())
			}
		})
	}
}

func TestAnyConditionDrops(t *testing.T) {
	f, err := Compile([]string{"process_launch", "network_connection"}, []string{
		`process.exe.path == "/a"`, `network.dst_port == 22`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, rule := keep(t, f, connect("10.0.0.1", 22, false)); ok || rule != 1 {
		t.Errorf("port 22: keep=%v rule=%d, want dropped by rule 1", ok, rule)
	}
	if ok, rule := keep(t, f, launch("/a", "unowned")); ok || rule != 0 {
		t.Errorf("/a: keep=%v rule=%d, want dropped by rule 0", ok, rule)
	}
	if ok, _ := keep(t, f, launch("/b", "unowned")); !ok {
		t.Error("/b dropped")
	}
	if ok, _ := keep(t, f, &event.Record{Kind: event.KindDetection}); ok {
		t.Error("detection taken by an output of launches and connections")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		kinds, drop []string
		field, want string
	}{
		{[]string{"launches"}, nil, "kinds[0]", "unknown record kind"},
		{[]string{"detection", "bogus"}, nil, "kinds[1]", "unknown record kind"},
		{nil, []string{`kind == "x"`, `kind ==`}, "drop[1]", "condition"},
		{nil, []string{`process.exe.path`}, "drop[0]", "bool"},
		{nil, []string{`proces.exe.path == "/a"`}, "drop[0]", "unknown name"},
		{nil, []string{`cidr("not a prefix", network.dst_ip)`}, "drop[0]", "fails on a process_launch"},
		{nil, []string{`  `}, "drop[0]", "empty"},
		{nil, []string{`nosuchfunc(1)`}, "drop[0]", "condition"},
	} {
		_, err := Compile(tc.kinds, tc.drop)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q, %q) = %v, want *Error", tc.kinds, tc.drop, err)
			continue
		}
		if fe.Field != tc.field || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
			t.Errorf("Compile(%q, %q) = %q (field %s), want field %s and %q", tc.kinds, tc.drop, err, fe.Field, tc.field, tc.want)
		}
	}
}

// A condition that fails at run time keeps the record and is counted.
func TestRuntimeErrorKeeps(t *testing.T) {
	// Fails only where a record's address is an invalid prefix: never on
	// the samples Compile tries, but on this record.
	f, err := Compile(nil, []string{`network.dst_ip == "x/y" && cidr(network.dst_ip, "10.0.0.1")`})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := keep(t, f, connect("x/y", 1, false)); !ok {
		t.Error("record dropped by a failing condition")
	}
	if f.Errors() != 1 {
		t.Errorf("errors = %d, want 1", f.Errors())
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"/usr/bin/*", "/usr/bin/ls", true},
		{"/usr/bin/*", "/usr/bin/x/ls", false},
		{"/usr/**", "/usr/bin/x/ls", true},
		{"/usr/**", "/usrx/bin", false},
		{"/opt/**/bin/?", "/opt/a/b/bin/z", true},
		{"/opt/**/bin/?", "/opt/a/b/bin/zz", false},
		{"**/node_modules/**", "/home/u/p/node_modules/.bin/x", true},
		{"/tmp/[a-c]*", "/tmp/b1", true},
		{"/tmp/[a-c]*", "/tmp/d1", false},
		{"/tmp/[^a-c]**", "/tmp/d/1", true},
		{"/tmp/[^a-c]**", "/tmp/a/1", false},
		{"/a.b/**", "/aXb/c", false},
		{"[", "[", false},
	} {
		if got := Glob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// The env is built once per record however many conditions read it.
func BenchmarkKeep(b *testing.B) {
	f, err := Compile(nil, []string{`kind == "process_launch" && process.exe.trust.verdict == "package_verified" && glob("/usr/**", process.exe.path)`,
		`kind == "network_connection" && network.external == false`})
	if err != nil {
		b.Fatal(err)
	}
	r := launch("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "unowned", "tmp")
	b.ReportAllocs()
	for b.Loop() {
		f.Keep(r, NewEnv(r))
	}
}

// The condition's view of a record is exactly its argus.v1 JSON, for
// every kind, so docs/schema.md's names are the names conditions use.
func TestEnvMatchesJSON(t *testing.T) {
	for _, r := range samples() {
		m, _ := NewEnv(r).get()
		got, err := json.Marshal(normTimes(m))
		if err != nil {
			t.Fatal(err)
		}
		var viaJSON map[string]any
		if err := json.Unmarshal(r.AppendJSON(nil), &viaJSON); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(normTimes(viaJSON))
		if string(got) != string(want) {
			t.Errorf("%s:\n env  %s\n json %s", r.Kind, got, want)
		}
	}
}

// normTimes rewrites every RFC 3339 string to one layout: the encoder
// writes the record's own time with nine fraction digits.
func normTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normTimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normTimes(e)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}

// TestLibraryLoadFilter: library_load is a kind an output can take or
// leave, and conditions reach its library, so package libraries can be
// kept from a SIEM billed by volume.
func TestLibraryLoadFilter(t *testing.T) {
	f, err := Compile([]string{"library_load"}, []string{`library.trust.verdict == "package_verified"`})
	if err != nil {
		t.Fatal(err)
	}
	lib := func(verdict string) *event.Record {
		return &event.Record{Schema: event.Schema, Kind: event.KindLibraryLoad, Time: time.Unix(1, 0),
			Process: &event.Process{}, Library: &event.Library{Path: "/x.so", Trust: &event.Trust{Verdict: verdict}}}
	}
	if r := lib("package_verified"); func() bool { k, _ := f.Keep(r, NewEnv(r)); return k }() {
		t.Error("a package library was kept")
	}
	if r := lib("unowned"); !func() bool { k, _ := f.Keep(r, NewEnv(r)); return k }() {
		t.Error("an unowned library was dropped")
	}
}
