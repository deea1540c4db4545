package detect

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/argus-sensor/argus-sensor/event"
)

// AllowEntry suppresses known-good activity. Every condition given must
// match; conditions not given match anything.
type AllowEntry struct {
	// Name identifies the entry in counters and logs.
	Name string `yaml:"name"`
	// Rules limits the entry to these rules; empty means all.
	Rules []string `yaml:"rules"`
	// Exe are globs on the executable (or script) path. "*" matches
	// within one component, "**" any number of components.
	Exe []string `yaml:"exe"`
	// SHA256 are executable or script digests.
	SHA256 []string `yaml:"sha256"`
	// ParentExe are globs on the parent's executable path.
	ParentExe []string `yaml:"parent_exe"`
	// Users are uids.
	Users []uint32 `yaml:"users"`
	// Destinations are CIDRs of allowed destinations.
	Destinations []string `yaml:"destinations"`
	// Ports are allowed destination ports.
	Ports []uint16 `yaml:"ports"`

	dests []netip.Prefix
}

// compile validates the entry.
func (a *AllowEntry) compile() error {
	if a.Name == "" {
		return fmt.Errorf("allowlist entry: name is required")
	}
	for _, g := range append(append([]string(nil), a.Exe...), a.ParentExe...) {
		if _, err := path.Match(strings.ReplaceAll(g, "**", "*"), ""); err != nil || !strings.HasPrefix(g, "/") {
			return fmt.Errorf("allowlist entry %s: glob %q: want an absolute path pattern", a.Name, g)
		}
	}
	for _, s := range a.SHA256 {
		if len(s) != 64 || strings.Trim(strings.ToLower(s), "0123456789abcdef") != "" {
			return fmt.Errorf("allowlist entry %s: sha256 %q: want 64 hex digits", a.Name, s)
		}
	}
	a.dests = nil
	for _, d := range a.Destinations {
		p, err := netip.ParsePrefix(d)
		if err != nil {
			return fmt.Errorf("allowlist entry %s: destination %q: want a CIDR", a.Name, d)
		}
		a.dests = append(a.dests, p.Masked())
	}
	for _, r := range a.Rules {
		if r != RuleT1587 && r != RuleNPM && r != RuleRelabel && r != RuleInjected {
			return fmt.Errorf("allowlist entry %s: unknown rule %q", a.Name, r)
		}
	}
	return nil
}

func (a *AllowEntry) hasNetwork() bool { return len(a.dests) > 0 || len(a.Ports) > 0 }

func (a *AllowEntry) forRule(rule string) bool {
	return len(a.Rules) == 0 || containsStr(a.Rules, rule)
}

// matchProcess checks the process conditions against the identity c
// (the exe, or the script an interpreter runs) of process p. The exe and
// sha256 conditions judge that identity alone: allowing an interpreter
// does not allow the scripts it runs.
func (a *AllowEntry) matchProcess(p *event.Process, c candidate) bool {
	if p == nil {
		return len(a.Exe) == 0 && len(a.SHA256) == 0 && len(a.ParentExe) == 0 && len(a.Users) == 0
	}
	if len(a.Exe) > 0 && !anyGlob(a.Exe, c.path) {
		return false
	}
	if len(a.SHA256) > 0 && !containsFold(a.SHA256, c.sha256) {
		return false
	}
	if len(a.ParentExe) > 0 && (p.Parent == nil || !anyGlob(a.ParentExe, p.Parent.Exe.Path)) {
		return false
	}
	if len(a.Users) > 0 && !containsUint(a.Users, p.UID) {
		return false
	}
	return true
}

// matchNetwork checks the network conditions against n.
func (a *AllowEntry) matchNetwork(n *event.Network) bool {
	if n == nil {
		return !a.hasNetwork()
	}
	if len(a.dests) > 0 {
		ip, err := netip.ParseAddr(n.DstIP)
		if err != nil {
			return false
		}
		ip = ip.Unmap()
		found := false
		for _, p := range a.dests {
			if p.Contains(ip) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(a.Ports) > 0 && !containsPort(a.Ports, n.DstPort) {
		return false
	}
	return true
}

// globMatch matches p against pattern, where "*" and the other path.Match
// syntax work within one component and "**" matches any number of
// components.
func globMatch(pattern, p string) bool {
	return matchParts(strings.Split(pattern, "/"), strings.Split(p, "/"))
}

func matchParts(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if matchParts(pat[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], parts[0]); !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}

func anyGlob(globs []string, p string) bool {
	if p == "" {
		return false
	}
	for _, g := range globs {
		if globMatch(g, p) {
			return true
		}
	}
	return false
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func containsUint(list []uint32, v uint32) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func containsPort(list []uint16, v uint16) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
