package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
)

// ecsCustomNamespace is the one top-level name under which the ECS writer
// puts what ECS has no field for. ECS reserves no field set by that name.
const ecsCustomNamespace = "argus"

// ecsFieldsFile is the field list of the ECS release the writer declares,
// committed as test data (see its first line for its origin).
const ecsFieldsFile = "testdata/ecs-" + ecsVersion + "-fields.tsv"

type ecsField struct {
	typ   string
	array bool // ECS normalizes the field to an array
}

func readECSFields(t *testing.T, path string) map[string]ecsField {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("ECS field list for the declared version %s: %v", ecsVersion, err)
	}
	defer f.Close()
	out := map[string]ecsField{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 {
			t.Fatalf("%s: bad line %q", path, line)
		}
		fl := ecsField{typ: cols[1]}
		if len(cols) > 2 {
			fl.array = strings.Contains(cols[len(cols)-1], "array")
		}
		out[cols[0]] = fl
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 1000 {
		t.Fatalf("%s: only %d fields", path, len(out))
	}
	return out
}

// ecsLeaves decodes an ECS document and calls f for every leaf: its
// dotted path, its value, and whether it was an array (f is then called
// once per element). Objects in arrays are passed whole, then their members one by one.
func ecsLeaves(t *testing.T, doc []byte, f func(path string, v any, inArray bool)) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("ECS output is not JSON: %v\n%s", err, doc)
	}
	var walk func(string, any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, c)
			}
		case []any:
			for _, c := range x {
				f(path, c, true)
				// An object in an array (dns.answers): its members
				// are fields of their own, one value each.
				if o, ok := c.(map[string]any); ok {
					for k, m := range o {
						walk(path+"."+k, m)
					}
				}
			}
			if len(x) == 0 {
				f(path, nil, true)
			}
		default:
			f(path, v, false)
		}
	}
	walk("", m)
}

// ecsTypeOK reports whether v is a value Elasticsearch indexes into a
// field of ECS type typ without coercion or a mapping error.
func ecsTypeOK(typ string, v any) bool {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "match_only_text", "text":
		_, ok := v.(string)
		return ok
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil || typ == "unsigned_long" && !strings.ContainsAny(n.String(), ".eE-")
	case "float", "double", "scaled_float", "half_float":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Float64()
		return err == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "date":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "ip":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := netip.ParseAddr(s)
		return err == nil
	case "object":
		// Its members are checked as fields of their own.
		_, ok := v.(map[string]any)
		return ok
	}
	return false // nested, flattened, geo_point: not written by this writer
}

// richRecords is every record the field checks encode: the format tests'
// records, full and sparse, and the schema's rich records, which fill
// every optional member of argus.v1.
func richRecords() []*event.Record {
	return append(recordtest.All(), schematest.Rich()...)
}

// TestECSFieldsExistInDeclaredVersion holds the ECS writer to what
// Elastic accepts: every field it writes outside the custom namespace is
// a field of the ECS release named in ecs.version, with a value of that
// field's type, as an array exactly where ECS makes the field one.
func TestECSFieldsExistInDeclaredVersion(t *testing.T) {
	fields := readECSFields(t, ecsFieldsFile)
	if _, ok := fields[ecsCustomNamespace]; ok {
		t.Fatalf("ECS %s defines %q: the custom namespace would collide", ecsVersion, ecsCustomNamespace)
	}
	for name := range fields {
		if strings.HasPrefix(name, ecsCustomNamespace+".") {
			t.Fatalf("ECS %s defines %s: the custom namespace would collide", ecsVersion, name)
		}
	}
	problems := map[string]bool{}
	checked := map[string]bool{}
	for _, r := range richRecords() {
		doc := FormatECS.Append(nil, r)
		if v := recordtest.Get(recordtest.MustJSON(t, doc), "ecs.version"); v != ecsVersion {
			t.Fatalf("%s: ecs.version %v, the field list is %s's", r.ID, v, ecsVersion)
		}
		ecsLeaves(t, doc, func(path string, v any, inArray bool) {
			if path == ecsCustomNamespace || strings.HasPrefix(path, ecsCustomNamespace+".") {
				return
			}
			checked[path] = true
			f, ok := fields[path]
			switch {
			case !ok:
				problems[path+": not a field of ECS "+ecsVersion] = true
			case inArray && !f.array:
				problems[path+": written as an array; ECS "+ecsVersion+" has one value"] = true
			case !inArray && f.array:
				problems[path+": written as one value; ECS "+ecsVersion+" makes it an array"] = true
			case v != nil && !ecsTypeOK(f.typ, v):
				problems[path+": value "+strings.TrimSpace(string(mustMarshal(t, v)))+" is not of ECS type "+f.typ] = true
			}
		})
	}
	var list []string
	for p := range problems {
		list = append(list, p)
	}
	sort.Strings(list)
	for _, p := range list {
		t.Error(p)
	}
	if len(checked) < 50 {
		t.Errorf("only %d ECS fields checked", len(checked))
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestECSReferenceCopy checks the committed field list against the
// reference it was trimmed from, in shared/reference beside the
// repository. CI has it and must not skip; elsewhere it may be absent.
func TestECSReferenceCopy(t *testing.T) {
	ref := filepath.Join(recordtest.RepoRoot(t), "..", "shared", "reference", "ecs-"+ecsVersion+"-fields.tsv")
	if _, err := os.Stat(ref); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ECS reference field list: %v (CI lays shared/ beside the clone)", err)
		}
		t.Skipf("no ECS reference field list beside the repository (%v): the committed copy is checked alone", err)
	}
	want, got := readECSFields(t, ref), readECSFields(t, ecsFieldsFile)
	if len(want) != len(got) {
		t.Errorf("committed copy has %d fields, the reference %d", len(got), len(want))
	}
	for name, f := range want {
		if got[name] != f {
			t.Errorf("%s: committed copy %+v, reference %+v", name, got[name], f)
		}
	}
}
