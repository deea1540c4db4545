package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
)

func TestFormatsEmitOneValidJSONObject(t *testing.T) {
	for _, f := range []Format{FormatNative, FormatUDM, FormatECS} {
		for _, r := range recordtest.All() {
			b := f.Append(nil, r)
			if bytes.IndexByte(b, '\n') >= 0 {
				t.Errorf("%s %s: output has a newline", f, r.ID)
			}
			recordtest.MustJSON(t, b)
			// Appending must not disturb what is already in the buffer.
			pre := []byte("PREFIX")
			if got := f.Append(pre, r); !bytes.Equal(got[6:], b) || string(got[:6]) != "PREFIX" {
				t.Errorf("%s %s: Append does not append", f, r.ID)
			}
		}
	}
}

func TestNativeIsArgusV1(t *testing.T) {
	for _, r := range recordtest.All() {
		if got, want := FormatNative.Append(nil, r), r.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: native differs from AppendJSON", r.ID)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatNative, "native": FormatNative, "UDM": FormatUDM, "ecs": FormatECS} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("cef"); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("ParseFormat(cef) = %v, want an error naming the format", err)
	}
}

var udmEventTypes = map[string]bool{
	"PROCESS_LAUNCH": true, "NETWORK_CONNECTION": true, "STATUS_UPDATE": true,
	"PROCESS_UNCATEGORIZED": true, "GENERIC_EVENT": true, "NETWORK_DNS": true, "PROCESS_MODULE_LOAD": true,
}

func TestUDMRequiredFields(t *testing.T) {
	for _, r := range recordtest.All() {
		m := recordtest.MustJSON(t, FormatUDM.Append(nil, r))
		typ, _ := recordtest.Get(m, "metadata.event_type").(string)
		if !udmEventTypes[typ] {
			t.Errorf("%s: event_type %q", r.ID, typ)
		}
		for _, k := range []string{"metadata.event_timestamp", "metadata.vendor_name", "metadata.product_name",
			"metadata.product_event_type", "metadata.product_log_id", "principal.hostname"} {
			if s, _ := recordtest.Get(m, k).(string); s == "" {
				t.Errorf("%s: %s missing", r.ID, k)
			}
		}
		if recordtest.Get(m, "metadata.vendor_name") != "Argus" || recordtest.Get(m, "metadata.product_name") != "argus-sensor" {
			t.Errorf("%s: vendor/product %v/%v", r.ID, recordtest.Get(m, "metadata.vendor_name"), recordtest.Get(m, "metadata.product_name"))
		}
		if recordtest.Get(m, "metadata.product_log_id") != r.ID && utf8.ValidString(r.ID) {
			t.Errorf("%s: product_log_id %v", r.ID, recordtest.Get(m, "metadata.product_log_id"))
		}
		// What Chronicle requires per type, so a batch is never refused
		// for one event.
		switch typ {
		case "PROCESS_LAUNCH", "PROCESS_UNCATEGORIZED":
			if s, _ := recordtest.Get(m, "target.process.pid").(string); s == "" {
				t.Errorf("%s: %s without target.process.pid", r.ID, typ)
			}
		case "NETWORK_CONNECTION":
			if ips, _ := recordtest.Get(m, "target.ip").([]any); len(ips) != 1 {
				t.Errorf("%s: target.ip %v", r.ID, recordtest.Get(m, "target.ip"))
			}
			if _, ok := recordtest.Get(m, "target.port").(float64); !ok {
				t.Errorf("%s: target.port %v", r.ID, recordtest.Get(m, "target.port"))
			}
		}
		for _, sr := range srs(m) {
			if sev, ok := sr["severity"]; ok && !udmSeverity(sev.(string)) {
				t.Errorf("%s: severity %v not in the UDM enum", r.ID, sev)
			}
		}
	}
}

// srs collects every security_result object in a UDM event.
func srs(v any) []map[string]any {
	var out []map[string]any
	var walk func(any, string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			if key == "security_result" {
				out = append(out, x)
			}
			for k, c := range x {
				walk(c, k)
			}
		case []any:
			for _, c := range x {
				walk(c, key)
			}
		}
	}
	walk(v, "")
	return out
}

func TestUDMProcessLaunchSemantics(t *testing.T) {
	m := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Launch(0, true)))
	want := map[string]any{
		"metadata.event_type":                                      "PROCESS_LAUNCH",
		"metadata.event_timestamp":                                 "2026-11-26T02:40:18.194504954Z",
		"metadata.product_event_type":                              "process_launch",
		"principal.hostname":                                       "vm1",
		"principal.process.pid":                                    "8004",
		"principal.process.file.full_path":                         "/usr/bin/bash",
		"principal.user.userid":                                    "1000",
		"target.process.pid":                                       "8017",
		"target.process.command_line":                              "./mytrue a b c",
		"target.process.file.full_path":                            "/tmp/mytrue",
		"target.process.file.sha256":                               strings.Repeat("ab", 32),
		"target.process.file.size":                                 "35664",
		"target.process.file.security_result.0.severity":           "HIGH",
		"target.process.parent_process.pid":                        "8004",
		"target.process.parent_process.file.full_path":             "/usr/bin/bash",
		"target.process.product_specific_process_id":               "argus:" + recordtest.Boot + ":8017:509814896624",
		"about.0.file.full_path":                                   "/home/u/.n2/pay",
		"about.0.file.security_result.0.severity":                  "MEDIUM",
		"additional.exe_hash_status":                               nil,
		"additional.exe_path_classes.1":                            "hidden_dir",
		"additional.exe_trust_verdict":                             "unowned",
		"additional.cwd":                                           "/tmp",
		"target.process.file.security_result.0.category_details.0": "unowned",
		"principal.process.command_line":                           "bash -i",
		"target.process_ancestors.1.file.full_path":                "/sbin/init",
	}
	for k, v := range want {
		if got := recordtest.Get(m, k); !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	pending := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Launch(0, false)))
	if recordtest.Get(pending, "additional.exe_hash_status") != "pending" || recordtest.Get(pending, "target.process.file.sha256") != nil {
		t.Errorf("pending hash: %v %v", recordtest.Get(pending, "additional.exe_hash_status"), recordtest.Get(pending, "target.process.file.sha256"))
	}
}

func TestUDMNetworkConnectionSemantics(t *testing.T) {
	m := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Connect(0, true)))
	want := map[string]any{
		"metadata.event_type":                               "NETWORK_CONNECTION",
		"principal.process.pid":                             "8017",
		"principal.process.file.full_path":                  "/tmp/mytrue",
		"principal.process.file.sha256":                     strings.Repeat("ab", 32),
		"principal.ip.0":                                    "10.0.0.5",
		"principal.port":                                    float64(51512),
		"target.ip.0":                                       "192.0.2.1", // IPv4-mapped, unmapped
		"target.port":                                       float64(4444),
		"network.ip_protocol":                               "TCP",
		"network.direction":                                 "OUTBOUND",
		"additional.network_external":                       true,
		"additional.network_result":                         "established",
		"additional.network_source":                         "sock_diag",
		"principal.process_ancestors.0.pid":                 "8004",
		"additional.network_dst_ip_original":                "::ffff:192.0.2.1",
		"principal.process.file.security_result.0.severity": "HIGH",
		"target.hostname":                                   "c2.argus.test",
	}
	for k, v := range want {
		if got := recordtest.Get(m, k); !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
}

func TestUDMDetectionSemantics(t *testing.T) {
	m := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Detection(true)))
	want := map[string]any{
		"metadata.event_type":                                             "GENERIC_EVENT",
		"metadata.product_event_type":                                     "detection",
		"security_result.0.rule_name":                                     "t1587_develop_capabilities_unsigned_exec",
		"security_result.0.severity":                                      "HIGH",
		"security_result.0.attack_details.tactics.0.id":                   "TA0042",
		"security_result.0.attack_details.tactics.0.name":                 "Resource Development",
		"security_result.0.attack_details.techniques.0.id":                "T1587",
		"security_result.0.attack_details.techniques.0.name":              "Develop Capabilities",
		"security_result.0.attack_details.techniques.1.id":                "T1587",
		"security_result.0.attack_details.techniques.1.subtechnique_id":   "T1587.001",
		"security_result.0.attack_details.techniques.2.subtechnique_name": "Compromise Software Supply Chain",
		"principal.process.file.sha256":                                   strings.Repeat("ab", 32),
		"target.ip.0":                                                     "192.0.2.1",
		"target.hostname":                                                 "c2.argus.test",
		"additional.degraded":                                             true,
		"additional.event_ids.1":                                          recordtest.Connect(1, true).ID,
	}
	for k, v := range want {
		if got := recordtest.Get(m, k); !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
}

// TestUDMDNSSemantics: a dns_query is a NETWORK_DNS event with the
// message in network.dns, types and codes as numbers.
func TestUDMDNSSemantics(t *testing.T) {
	m := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.DNSQuery(0, false)))
	for k, v := range map[string]any{
		"metadata.event_type":              "NETWORK_DNS",
		"metadata.product_event_type":      "dns_query",
		"principal.hostname":               "vm1",
		"principal.ip.0":                   "10.9.0.2",
		"target.ip.0":                      "10.9.0.1",
		"target.port":                      float64(53),
		"network.application_protocol":     "DNS",
		"network.ip_protocol":              "UDP",
		"network.dns.id":                   float64(4242),
		"network.dns.response":             true,
		"network.dns.response_code":        float64(0),
		"network.dns.questions.0.name":     "www.argus.test",
		"network.dns.questions.0.type":     float64(1),
		"network.dns.answers.0.type":       float64(5),
		"network.dns.answers.0.data":       "edge.argus.test",
		"network.dns.answers.1.ttl":        float64(60),
		"additional.dns_resolved_ips.0":    "192.0.2.1",
		"principal.process.pid":            nil, // no process known
		"network.dns.truncated":            nil,
		"additional.dns_truncated":         nil,
		"additional.dns_rcode":             "NOERROR",
		"additional.dns_type":              "A",
		"principal.process.file.full_path": nil,
		"network.dns.questions.0.class":    float64(1),
		"network.dns.answers.1.data":       "192.0.2.1",
		"network.dns.answers.1.name":       "edge.argus.test",
		"network.direction":                "OUTBOUND",
		"metadata.product_log_id":          recordtest.DNSQuery(0, false).ID,
		"additional.boot_id":               recordtest.Boot,
		"network.dns.answers.0.name":       "www.argus.test",
		"network.dns.answers.0.ttl":        float64(300),
		"network.dns.answers.1.type":       float64(1),
		"network.dns.answers.0.class":      float64(1),
		"principal.port":                   float64(40000),
		"target.hostname":                  nil,
		"metadata.vendor_name":             "Argus",
		"metadata.product_name":            "argus-sensor",
	} {
		if got := recordtest.Get(m, k); !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	f := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.DNSQuery(0, true)))
	for k, v := range map[string]any{
		"principal.process.pid": "8017", "principal.process.file.full_path": "/tmp/mytrue", "network.ip_protocol": "TCP",
		"network.dns.truncated": true, "network.dns.response_code": float64(3), "network.dns.questions.0.type": float64(28),
		"additional.dns_truncated": true, "additional.dns_partial": true, "network.dns.answers": nil,
	} {
		if got := recordtest.Get(f, k); !reflect.DeepEqual(got, v) {
			t.Errorf("full: %s = %#v, want %#v", k, got, v)
		}
	}
}

func TestUDMHealthAndHashUpdate(t *testing.T) {
	h := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Health(true)))
	for k, v := range map[string]any{
		"metadata.event_type": "STATUS_UPDATE", "additional.events_lost": float64(3),
		"additional.events_by_kind_connect": float64(20), "additional.hooks_failed.0": "connect",
		"security_result.0.severity": "MEDIUM", "metadata.product_version": "v0.1.0",
		"additional.outputs_dropped": float64(1), "additional.outputs.0.name": "syslog+tcp://siem:514",
		"additional.trust_verdicts_unowned": float64(2), "additional.hashing_failures_too_large": float64(1),
	} {
		if got := recordtest.Get(h, k); !reflect.DeepEqual(got, v) {
			t.Errorf("health %s = %#v, want %#v", k, got, v)
		}
	}
	u := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.HashUpdate(true)))
	for k, v := range map[string]any{
		"metadata.event_type": "PROCESS_UNCATEGORIZED", "metadata.product_event_type": "hash_update",
		"target.process.file.sha256": strings.Repeat("ef", 32), "additional.ref_id": recordtest.HashUpdate(true).RefID,
	} {
		if got := recordtest.Get(u, k); !reflect.DeepEqual(got, v) {
			t.Errorf("hash_update %s = %#v, want %#v", k, got, v)
		}
	}
}

func TestECSSemantics(t *testing.T) {
	l := recordtest.MustJSON(t, FormatECS.Append(nil, recordtest.Launch(0, true)))
	for k, v := range map[string]any{
		"@timestamp": "2026-11-26T02:40:18.194504954Z", "event.kind": "event", "event.category.0": "process",
		"event.type.0": "start", "event.id": recordtest.Launch(0, true).ID, "process.pid": float64(8017),
		"process.executable": "/tmp/mytrue", "process.args.2": "b c", "process.working_directory": "/tmp",
		"process.parent.pid": float64(8004), "process.parent.executable": "/usr/bin/bash",
		"process.hash.sha256": strings.Repeat("ab", 32), "host.hostname": "vm1", "user.id": "1000",
		"process.name": "mytrue", "argus.process.exe.trust.verdict": "unowned",
		"argus.process.script.path": "/home/u/.n2/pay", "process.parent.command_line": "bash -i",
		"argus.process.ancestors.1.executable": "/sbin/init",
	} {
		if got := recordtest.Get(l, k); !reflect.DeepEqual(got, v) {
			t.Errorf("launch %s = %#v, want %#v", k, got, v)
		}
	}
	c := recordtest.MustJSON(t, FormatECS.Append(nil, recordtest.Connect(0, true)))
	for k, v := range map[string]any{
		"event.category.0": "network", "destination.ip": "192.0.2.1", "destination.port": float64(4444),
		"source.ip": "10.0.0.5", "network.transport": "tcp", "network.direction": "egress",
		"event.outcome": "success", "argus.network.external": true, "argus.network.source": "sock_diag",
		"destination.domain": "c2.argus.test",
	} {
		if got := recordtest.Get(c, k); !reflect.DeepEqual(got, v) {
			t.Errorf("connect %s = %#v, want %#v", k, got, v)
		}
	}
	d := recordtest.MustJSON(t, FormatECS.Append(nil, recordtest.Detection(true)))
	for k, v := range map[string]any{
		"event.kind": "alert", "rule.name": "t1587_develop_capabilities_unsigned_exec",
		"threat.technique.id.0": "T1587", "threat.tactic.id.0": "TA0042", "event.severity": float64(73),
		"threat.technique.subtechnique.id.1": "T1195.002", "destination.ip": "192.0.2.1",
		"destination.domain": "c2.argus.test",
	} {
		if got := recordtest.Get(d, k); !reflect.DeepEqual(got, v) {
			t.Errorf("detection %s = %#v, want %#v", k, got, v)
		}
	}
	q := recordtest.MustJSON(t, FormatECS.Append(nil, recordtest.DNSQuery(0, false)))
	for k, v := range map[string]any{
		"event.kind": "event", "event.category.0": "network", "event.type.0": "protocol", "event.action": "dns_answer",
		"event.outcome": "success", "event.dataset": "argus.dns_query", "network.protocol": "dns", "network.transport": "udp",
		"network.type": "ipv4", "source.ip": "10.9.0.2", "source.port": float64(40000), "destination.ip": "10.9.0.1",
		"destination.port": float64(53), "dns.type": "answer", "dns.id": "4242", "dns.response_code": "NOERROR",
		"dns.question.name": "www.argus.test", "dns.question.type": "A", "dns.answers.0.type": "CNAME",
		"dns.answers.0.data": "edge.argus.test", "dns.answers.1.ttl": float64(60), "dns.resolved_ip.0": "192.0.2.1",
		"dns.header_flags": nil, "process": nil, "message": "dns www.argus.test A NOERROR",
	} {
		if got := recordtest.Get(q, k); !reflect.DeepEqual(got, v) {
			t.Errorf("dns_query %s = %#v, want %#v", k, got, v)
		}
	}
	qf := recordtest.MustJSON(t, FormatECS.Append(nil, recordtest.DNSQuery(0, true)))
	for k, v := range map[string]any{
		"event.outcome": "failure", "dns.response_code": "NXDOMAIN", "dns.header_flags.0": "TC", "network.transport": "tcp",
		"process.pid": float64(8017), "argus.dns.truncated": true, "argus.dns.partial": true, "dns.answers": nil,
	} {
		if got := recordtest.Get(qf, k); !reflect.DeepEqual(got, v) {
			t.Errorf("full dns_query %s = %#v, want %#v", k, got, v)
		}
	}
}

// leafPaths returns the dotted paths of every scalar in v, array indexes
// left out.
func leafPaths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			leafPaths(c, p, out)
		}
	case []any:
		for _, c := range x {
			leafPaths(c, prefix, out)
		}
	default:
		out[prefix] = true
	}
}

// documentedFields reads the field column of the tables in a markdown
// file, within the section whose heading starts with section ("" for
// all).
func documentedFields(t *testing.T, file, section string) []string {
	t.Helper()
	row := regexp.MustCompile("^\\| *`([^`]+)`")
	in := section == ""
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(recordtest.RepoFile(t, file)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = section == "" && !strings.HasPrefix(line, "## Event types") || section != "" && strings.HasPrefix(line, "## "+section)
			continue
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no documented fields found in section %q", file, section)
	}
	return out
}

// checkDocumented asserts that every field a format emits is in the
// document, and every field in the document is emitted by some record.
func checkDocumented(t *testing.T, f Format, fields []string) {
	emitted := map[string]bool{}
	for _, r := range richRecords() {
		leafPaths(recordtest.MustJSON(t, f.Append(nil, r)), "", emitted)
	}
	matches := func(doc, path string) bool {
		if strings.HasSuffix(doc, "*") {
			return strings.HasPrefix(path, strings.TrimSuffix(doc, "*"))
		}
		return doc == path
	}
	var undocumented []string
	for p := range emitted {
		ok := false
		for _, d := range fields {
			ok = ok || matches(d, p)
		}
		if !ok {
			undocumented = append(undocumented, p)
		}
	}
	sort.Strings(undocumented)
	for _, p := range undocumented {
		t.Errorf("%s emits %s, which the mapping document does not list", f, p)
	}
	for _, d := range fields {
		ok := false
		for p := range emitted {
			ok = ok || matches(d, p)
		}
		if !ok {
			t.Errorf("%s mapping documents %s, which no record produces", f, d)
		}
	}
}

func TestUDMMatchesDocumentedFieldList(t *testing.T) {
	checkDocumented(t, FormatUDM, documentedFields(t, "docs/udm-mapping.md", ""))
}

func TestECSMatchesDocumentedFieldList(t *testing.T) {
	checkDocumented(t, FormatECS, documentedFields(t, "docs/forwarding.md", "ECS field mapping"))
}

func TestJSONEscaping(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\n\t\r", "\xff\xfe", "a\u2028b\u2029", "<&>", "é漢字"} {
		b := event.AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %v (%s)", s, err, b)
			continue
		}
		var want strings.Builder
		for _, r := range s {
			want.WriteRune(r) // an invalid byte ranges as U+FFFD, as encoded
		}
		if got != want.String() {
			t.Errorf("%q round-trips to %q", s, got)
		}
	}
}

func TestNormIP(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:10.1.2.3": "10.1.2.3", "10.1.2.3": "10.1.2.3", "2001:db8::1": "2001:db8::1", "::ffff:zz": "::ffff:zz",
	} {
		if got := normIP(in); got != want {
			t.Errorf("normIP(%s) = %s, want %s", in, got, want)
		}
	}
}

var _ = event.Schema

// TestLibraryLoadSemantics: a library_load is UDM's PROCESS_MODULE_LOAD
// with the library as target.process.file, and ECS's library event with
// dll.*; a connection's untrusted libraries reach both.
func TestLibraryLoadSemantics(t *testing.T) {
	var lib, conn *event.Record
	for _, r := range schematest.Rich() {
		switch {
		case r.Kind == event.KindLibraryLoad:
			lib = r
		case r.Kind == event.KindNetworkConnection && len(r.Process.Libraries) > 0:
			conn = r
		}
	}
	if lib == nil || conn == nil {
		t.Fatal("schematest.Rich has no library_load, or no connection with libraries")
	}
	m := recordtest.MustJSON(t, FormatUDM.Append(nil, lib))
	for k, want := range map[string]any{
		"metadata.event_type":              "PROCESS_MODULE_LOAD",
		"principal.process.pid":            fmt.Sprint(lib.Process.PID),
		"principal.process.file.full_path": lib.Process.Exe.Path,
		"target.process.pid":               fmt.Sprint(lib.Process.PID),
		"target.process.file.full_path":    lib.Library.Path,
		"target.process.file.sha256":       lib.Library.SHA256,
		"additional.library_preload":       "LD_PRELOAD",
	} {
		if got := recordtest.Get(m, k); got != want {
			t.Errorf("udm %s = %v, want %v", k, got, want)
		}
	}
	e := recordtest.MustJSON(t, FormatECS.Append(nil, lib))
	for k, want := range map[string]any{
		"event.action":       "library_load",
		"dll.path":           lib.Library.Path,
		"dll.name":           "T1574006.so",
		"dll.hash.sha256":    lib.Library.SHA256,
		"process.executable": lib.Process.Exe.Path,
	} {
		if got := recordtest.Get(e, k); got != want {
			t.Errorf("ecs %s = %v, want %v", k, got, want)
		}
	}
	if cat, _ := recordtest.Get(e, "event.category").([]any); len(cat) != 1 || cat[0] != "library" {
		t.Errorf("ecs event.category %v, want [library]", cat)
	}
	c := recordtest.MustJSON(t, FormatUDM.Append(nil, conn))
	about, _ := recordtest.Get(c, "about").([]any)
	found := false
	for _, a := range about {
		found = found || recordtest.Get(a, "file.sha256") == conn.Process.Libraries[0].SHA256
	}
	if !found {
		t.Errorf("udm connection about %v lacks the library", about)
	}
	if s := string(FormatCompact.Append(nil, lib)); !strings.Contains(s, "lib="+lib.Library.Path) || !strings.Contains(s, "preload=LD_PRELOAD") {
		t.Errorf("compact %q", s)
	}
}
