package format

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

// The SIEM rule is checked against what the UDM encoder emits: a field
// the rule reads that Argus never writes would make it silently match
// nothing (YARA-L does not reject unknown-but-valid UDM paths).

func readRule(t *testing.T) string { return readRuleFile(t, "rules/t1587_linux.yaral") }

func readRuleFile(t *testing.T, name string) string {
	t.Helper()
	b := recordtest.RepoFile(t, name)
	// Drop comments so examples in them are not taken for conditions.
	return regexp.MustCompile(`(?m)^\s*//.*$`).ReplaceAllString(string(b), "")
}

func TestRuleReadsFieldsArgusWrites(t *testing.T) {
	rule := readRule(t)
	emitted := func(recs ...any) map[string]bool {
		m := map[string]bool{}
		for _, r := range recs {
			leafPaths(r, "", m)
		}
		return m
	}
	proc := emitted(recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Launch(0, true))),
		recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.HashUpdate(true))))
	netw := emitted(recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Connect(0, true))))
	refs := regexp.MustCompile(`\$(proc|net)\.([a-z0-9_.]+)`).FindAllStringSubmatch(rule, -1)
	if len(refs) < 10 {
		t.Fatalf("found only %d field references in the rule", len(refs))
	}
	for _, r := range refs {
		set := proc
		if r[1] == "net" {
			set = netw
		}
		if !set[r[2]] {
			t.Errorf("rule reads $%s.%s, which Argus UDM does not write", r[1], r[2])
		}
	}
	for _, want := range []string{"$hostname, $sha256 over 1h", "$proc and $net", `"INFORMATIONAL"`,
		"$proc.target.process.file.sha256 = $sha256", "$net.principal.process.file.sha256 = $sha256"} {
		if !strings.Contains(rule, want) {
			t.Errorf("rule lacks %q", want)
		}
	}
}

func TestRulePathRegexes(t *testing.T) {
	rule := readRule(t)
	var res []*regexp.Regexp
	for _, m := range regexp.MustCompile(`full_path = /((?:\\/|[^/])+)/`).FindAllStringSubmatch(rule, -1) {
		res = append(res, regexp.MustCompile(strings.ReplaceAll(m[1], `\/`, `/`)))
	}
	if len(res) < 8 {
		t.Fatalf("found %d path regexes", len(res))
	}
	match := func(p string) bool {
		for _, re := range res {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"/tmp/atomic_custom_tool", "/var/tmp/x", "/dev/shm/.x", "/run/user/1000/x",
		"/home/dev/Downloads/tool", "/srv/app/node_modules/.bin/esbuild", "/home/u/.n2/pay", "/root/.cache/t",
		"/memfd:payload"} {
		if !match(p) {
			t.Errorf("rule misses %s", p)
		}
	}
	for _, p := range []string{"/usr/bin/bash", "/usr/local/bin/tool", "/home/u/bin/tool", "/opt/tmp/x",
		"/var/lib/tmp/x", "/root/bin/x"} {
		if match(p) {
			t.Errorf("rule matches %s", p)
		}
	}
}

func TestRuleExcludesPrivateRanges(t *testing.T) {
	rule := readRule(t)
	var nets []netip.Prefix
	for _, m := range regexp.MustCompile(`net\.ip_in_range_cidr\(\$net\.target\.ip, "([^"]+)"\)`).FindAllStringSubmatch(rule, -1) {
		nets = append(nets, netip.MustParsePrefix(m[1]))
	}
	excluded := func(ip string) bool {
		a := netip.MustParseAddr(ip)
		for _, n := range nets {
			if n.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "::1", "fe80::1", "fd00::1", "fc00::1"} {
		if !excluded(ip) {
			t.Errorf("rule treats %s as external", ip)
		}
	}
	for _, ip := range []string{"192.0.2.1", "8.8.8.8", "172.32.0.1", "185.235.241.208", "2001:db8::1"} {
		if excluded(ip) {
			t.Errorf("rule treats %s as private", ip)
		}
	}
}

// The novelty rule reads the host's own age and prevalence from
// additional, by the names the UDM encoder writes there, and the same
// UDM paths as the main rule.
func TestNovelRuleReadsFieldsArgusWrites(t *testing.T) {
	rule := readRuleFile(t, "rules/t1587_linux_novel.yaral")
	launch := recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Launch(0, true)))
	proc, netw := map[string]bool{}, map[string]bool{}
	leafPaths(launch, "", proc)
	leafPaths(recordtest.MustJSON(t, FormatUDM.Append(nil, recordtest.Connect(0, true))), "", netw)
	refs := regexp.MustCompile(`\$(proc|net)\.([a-z0-9_.]+)(\["([a-z0-9_]+)"\])?`).FindAllStringSubmatch(rule, -1)
	if len(refs) < 10 {
		t.Fatalf("found only %d field references in the rule", len(refs))
	}
	additional, _ := launch["additional"].(map[string]any)
	for _, r := range refs {
		if r[2] == "additional.fields" {
			if _, ok := additional[r[4]]; !ok || r[1] != "proc" {
				t.Errorf("rule reads $%s.additional.fields[%q], which Argus UDM does not write", r[1], r[4])
			}
			continue
		}
		set := proc
		if r[1] == "net" {
			set = netw
		}
		if !set[r[2]] {
			t.Errorf("rule reads $%s.%s, which Argus UDM does not write", r[1], r[2])
		}
	}
	for _, want := range []string{"$sha256 over 24h", "$fleet_hosts <= 2", `"exe_age_seconds"`, `"exe_prevalence_executions"`} {
		if !strings.Contains(rule, want) {
			t.Errorf("rule lacks %q", want)
		}
	}
}
