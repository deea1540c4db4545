package schematest

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// TestRichCoversEveryField walks event.Record's type and the Rich records'
// values together: every field of every struct a record can hold must be
// non-zero in at least one of them, so validating Rich covers the whole
// schema surface. A field added to event.Record fails here until Rich
// fills it, and then fails validation until the schema has it.
func TestRichCoversEveryField(t *testing.T) {
	want := map[string]bool{}
	var fields func(reflect.Type)
	fields = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			k := typ.Name() + "." + f.Name
			if want[k] {
				return // a type already walked (Detection.Events holds Records)
			}
			want[k] = true
			fields(f.Type)
		}
	}
	fields(reflect.TypeFor[event.Record]())

	seen := map[string]bool{}
	var values func(reflect.Value)
	values = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				values(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				values(v.Index(i))
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			for i := range v.NumField() {
				if !v.Field(i).IsZero() {
					seen[v.Type().Name()+"."+v.Type().Field(i).Name] = true
					values(v.Field(i))
				}
			}
		}
	}
	for _, r := range Rich() {
		values(reflect.ValueOf(r))
	}
	var missing []string
	for k := range want {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("Rich leaves these fields empty: %s", strings.Join(missing, ", "))
	}
}

func TestRichRecordsAreValid(t *testing.T) {
	for _, r := range Rich() {
		if err := Validate(r.AppendJSON(nil)); err != nil {
			t.Errorf("%s %s: %v", r.Kind, r.ID, err)
		}
	}
}

// mutate decodes rec, applies f to the decoded object, and encodes it.
func mutate(t *testing.T, rec *event.Record, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, path string) map[string]any {
	for _, k := range strings.Split(path, ".") {
		m = m[k].(map[string]any)
	}
	return m
}

// TestRejects shows the schema is strict: each change below makes a valid
// record invalid.
func TestRejects(t *testing.T) {
	rich := Rich()
	launch, conn, det, health, folded := rich[0], rich[2], rich[4], rich[5], rich[len(rich)-1]
	cases := []struct {
		name string
		rec  *event.Record
		f    func(m map[string]any)
	}{
		{"unknown top-level member", launch, func(m map[string]any) { m["severity"] = "HIGH" }},
		{"unknown member in process.exe", launch, func(m map[string]any) { obj(m, "process.exe")["md5"] = "x" }},
		{"unknown member in trust", launch, func(m map[string]any) { obj(m, "process.exe.trust")["score"] = 1 }},
		{"unknown member in network", conn, func(m map[string]any) { obj(m, "network")["dst_host"] = "x" }},
		{"unknown member in health", health, func(m map[string]any) { obj(m, "health")["cpu"] = 1 }},
		{"unknown member in a nested event", det, func(m map[string]any) {
			obj(m, "detection")["events"].([]any)[0].(map[string]any)["extra"] = true
		}},
		{"required member missing", launch, func(m map[string]any) { delete(obj(m, "process.exe"), "inode") }},
		{"pid as a string", launch, func(m map[string]any) { obj(m, "process")["pid"] = "8017" }},
		{"negative uid", launch, func(m map[string]any) { obj(m, "process")["uid"] = -1 }},
		{"pid past uint32", launch, func(m map[string]any) { obj(m, "process")["pid"] = 1 << 32 }},
		{"sha256 in upper case", launch, func(m map[string]any) {
			obj(m, "process.exe")["sha256"] = strings.Repeat("AB", 32)
		}},
		{"sha256 and hash_status both", launch, func(m map[string]any) { obj(m, "process.exe")["hash_status"] = "pending" }},
		{"unknown hash_status", launch, func(m map[string]any) {
			delete(obj(m, "process.exe"), "sha256")
			obj(m, "process.exe")["hash_status"] = "later"
		}},
		{"unknown verdict", launch, func(m map[string]any) { obj(m, "process.exe.trust")["verdict"] = "fine" }},
		{"empty path_classes", launch, func(m map[string]any) { obj(m, "process.exe")["path_classes"] = []any{} }},
		{"args_truncated false", launch, func(m map[string]any) { obj(m, "process")["args_truncated"] = false }},
		{"launch without process", launch, func(m map[string]any) { delete(m, "process") }},
		{"launch with network", launch, func(m map[string]any) { m["network"] = obj(connMap(t, conn), "network") }},
		{"connection without network", conn, func(m map[string]any) { delete(m, "network") }},
		{"detection with process", det, func(m map[string]any) {
			m["process"] = obj(m, "detection")["events"].([]any)[0].(map[string]any)["process"]
		}},
		{"health without health", health, func(m map[string]any) { delete(m, "health") }},
		{"unknown kind", health, func(m map[string]any) { m["kind"] = "future_kind" }},
		{"other schema", health, func(m map[string]any) { m["schema"] = "argus.v2" }},
		{"time with six digits", launch, func(m map[string]any) { m["time"] = "2026-11-26T02:40:18.194504Z" }},
		{"time not in UTC", launch, func(m map[string]any) { m["time"] = "2026-11-26T02:40:18.194504954+01:00" }},
		{"dst_ip not an address", conn, func(m map[string]any) { obj(m, "network")["dst_ip"] = "invalid IP" }},
		{"dst_port past 65535", conn, func(m map[string]any) { obj(m, "network")["dst_port"] = 70000 }},
		{"unknown health state", health, func(m map[string]any) { obj(m, "health")["state"] = "sleeping" }},
		{"count without its times", folded, func(m map[string]any) { delete(obj(m, "network"), "first_seen") }},
		{"first_seen without count", folded, func(m map[string]any) { delete(obj(m, "network"), "count") }},
		{"count as a string", folded, func(m map[string]any) { obj(m, "network")["count"] = "1999" }},
		{"counter as a float", health, func(m map[string]any) { obj(m, "health")["events_lost"] = 1.5 }},
	}
	// The decode and re-encode alone keeps each record valid, so each
	// failure below is the change's.
	for _, r := range rich {
		if err := Validate(mutate(t, r, func(map[string]any) {})); err != nil {
			t.Fatalf("%s re-encoded: %v", r.Kind, err)
		}
	}
	for _, c := range cases {
		if err := Validate(mutate(t, c.rec, c.f)); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// And what is allowed: nested records' times need not have nine
	// digits; args may be null.
	ok := mutate(t, det, func(m map[string]any) {
		obj(m, "detection")["events"].([]any)[0].(map[string]any)["time"] = "2026-11-26T10:00:00Z"
	})
	if err := Validate(ok); err != nil {
		t.Errorf("nested time without fraction: %v", err)
	}
	if err := Validate(mutate(t, launch, func(m map[string]any) { obj(m, "process")["args"] = nil })); err != nil {
		t.Errorf("null args: %v", err)
	}
}

func connMap(t *testing.T, r *event.Record) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(r.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLinesCountsAndReports(t *testing.T) {
	var b []byte
	for _, r := range Rich() {
		b = append(r.AppendJSON(b), '\n')
	}
	if n := Lines(t, b); n != len(Rich()) {
		t.Errorf("Lines checked %d records, want %d", n, len(Rich()))
	}
	ft := &fakeT{TB: t}
	Lines(ft, append(b, "{\"schema\":\"argus.v1\"}\n"...))
	if ft.errors != 1 {
		t.Errorf("an invalid line gave %d errors, want 1", ft.errors)
	}
}

type fakeT struct {
	testing.TB
	errors int
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.errors++ }
