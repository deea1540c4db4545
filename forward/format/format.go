package format

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/argus-sensor/argus-sensor/event"
)

// Format names how a record is encoded for a sink. Every format but
// compact writes one JSON object per record; every format writes no
// newline in it, so any record can be one line of a file, one syslog
// message or (JSON formats) one element of a JSON array.
type Format string

// Formats.
const (
	// FormatNative is the argus.v1 schema (docs/schema.md).
	FormatNative Format = "native"
	// FormatUDM is Google SecOps (Chronicle) Unified Data Model
	// (docs/udm-mapping.md).
	FormatUDM Format = "udm"
	// FormatECS is Elastic Common Schema (docs/forwarding.md).
	FormatECS Format = "ecs"
	// FormatCompact (compact.go) is the one exception to the JSON rule:
	// a line of text for people.
)

// ParseFormat returns the format named s; "" is FormatNative.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(strings.TrimSpace(s))) {
	case "", FormatNative, "argus", "json":
		return FormatNative, nil
	case FormatUDM, "chronicle":
		return FormatUDM, nil
	case FormatECS, "elastic":
		return FormatECS, nil
	case FormatCompact:
		return FormatCompact, nil
	}
	return "", fmt.Errorf("format %q: want native, udm, ecs or compact", s)
}

// Append appends r encoded in format f to dst.
func (f Format) Append(dst []byte, r *event.Record) []byte {
	switch f {
	case FormatUDM:
		return appendUDM(dst, r)
	case FormatECS:
		return appendECS(dst, r)
	case FormatCompact:
		return appendCompact(dst, r, false)
	case formatCompactColor:
		return appendCompact(dst, r, true)
	}
	return r.AppendJSON(dst)
}

// normIP returns ip with an IPv4-mapped IPv6 address written as IPv4, so
// SIEM range checks written for IPv4 (10/8, 192.168/16, ...) apply to
// connections a dual-stack socket made to an IPv4 peer.
func normIP(ip string) string {
	if !strings.HasPrefix(ip, "::ffff:") {
		return ip
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4In6() {
		return ip
	}
	return a.Unmap().String()
}

// mitreTactics maps ATT&CK Enterprise tactic names to their ids.
var mitreTactics = map[string]string{
	"reconnaissance":       "TA0043",
	"resource development": "TA0042",
	"initial access":       "TA0001",
	"execution":            "TA0002",
	"persistence":          "TA0003",
	"privilege escalation": "TA0004",
	"defense evasion":      "TA0005",
	"credential access":    "TA0006",
	"discovery":            "TA0007",
	"lateral movement":     "TA0008",
	"collection":           "TA0009",
	"command and control":  "TA0011",
	"exfiltration":         "TA0010",
	"impact":               "TA0040",
}

// mitreTechniques names the techniques Argus rules report. Others go out
// with their id only.
var mitreTechniques = map[string]string{
	"T1587":     "Develop Capabilities",
	"T1587.001": "Malware",
	"T1587.002": "Code Signing Certificates",
	"T1587.003": "Digital Certificates",
	"T1587.004": "Exploits",
	"T1195":     "Supply Chain Compromise",
	"T1195.001": "Compromise Software Dependencies and Development Tools",
	"T1195.002": "Compromise Software Supply Chain",
	"T1204":     "User Execution",
	"T1204.002": "Malicious File",
	"T1059":     "Command and Scripting Interpreter",
	"T1059.004": "Unix Shell",
	"T1105":     "Ingress Tool Transfer",
	"T1571":     "Non-Standard Port",
}

// tacticID returns the ATT&CK id of a tactic given by name or by id.
func tacticID(t string) string {
	if strings.HasPrefix(t, "TA") {
		return t
	}
	return mitreTactics[strings.ToLower(strings.TrimSpace(t))]
}

// techniques returns every technique id of a detection, primary first,
// without duplicates.
func techniques(d *event.Detection) []string {
	out := make([]string, 0, 1+len(d.Techniques))
	if d.Technique != "" {
		out = append(out, d.Technique)
	}
	for _, t := range d.Techniques {
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup && t != "" {
			out = append(out, t)
		}
	}
	return out
}

// detectionProcess finds the suspect process of a detection: the launch
// among its triggering records, else the first record with a process.
func detectionProcess(d *event.Detection) (*event.Record, *event.Process) {
	var first *event.Record
	for i := range d.Events {
		r := &d.Events[i]
		if r.Process == nil {
			continue
		}
		if r.Kind == event.KindProcessLaunch {
			return r, r.Process
		}
		if first == nil {
			first = r
		}
	}
	if first != nil {
		return first, first.Process
	}
	return nil, nil
}

// detectionNetwork finds the first connection among a detection's
// triggering records.
func detectionNetwork(d *event.Detection) *event.Network {
	for i := range d.Events {
		if d.Events[i].Network != nil {
			return d.Events[i].Network
		}
	}
	return nil
}
