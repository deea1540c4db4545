// Package recordtest holds argus.v1 records for the tests of the record
// formats and of the outputs that carry them: every kind, with optional
// fields filled or left empty, and odd records that lack what their kind
// usually has. It also decodes what a format wrote (MustJSON, Get) and
// finds the repository's own files (RepoFile), such as the field lists in
// docs/ the formats are checked against.
package recordtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// Boot is the boot id of every record here.
const Boot = "4b35b4dd-767a-4fb3-9fba-6d53cbdf1826"

// Time is when the records here happened.
var Time = time.Date(2026, 11, 26, 2, 40, 18, 194504954, time.UTC)

func ptr[T any](v T) *T { return &v }

// Launch is a process_launch with every optional field the schema
// has, filled or not depending on full.
func Launch(i int, full bool) *event.Record {
	r := &event.Record{
		Schema: event.Schema,
		ID:     fmt.Sprintf("4b35b4dd-%x-1f51-1", 0x76b359cade+i),
		Kind:   event.KindProcessLaunch,
		Time:   Time.Add(time.Duration(i) * time.Millisecond),
		Host:   event.Host{Hostname: "vm1", BootID: Boot},
		Process: &event.Process{
			PID: 8017, PPID: 8004, UID: 1000, GID: 1000, EUID: 1000, EGID: 1000,
			StartTimeNs: 509814896624 + uint64(i), Comm: "mytrue",
			Args: []string{"./mytrue", "a", "b c"}, Cwd: "/tmp", CgroupID: 1,
			Exe: event.Exe{
				Path: "/tmp/mytrue", InvokedAs: "./mytrue", Device: 65024, Inode: 9981074,
				Size: 35664, MtimeNs: 1795660818193980487, CtimeNs: 1795660818193980487,
				Nlink: 1, Mode: 33261, UID: 1000,
			},
			Parent: &event.Parent{PID: 8004, Comm: "bash", Exe: event.ParentExe{Path: "/usr/bin/bash"}},
			Source: "exec",
		},
	}
	if full {
		p := r.Process
		p.TID = 8018
		p.AUID = ptr(uint32(1000))
		p.ArgsTruncated = true
		p.CwdTruncated = true
		p.Exe.PathTruncated = true
		p.Exe.Memfd = true
		p.Exe.Deleted = true
		p.Exe.SHA256 = strings.Repeat("ab", 32)
		p.Exe.HashStatus = ""
		p.Exe.Trust = &event.Trust{Verdict: "unowned", Severity: "HIGH", Package: "", Signer: "", Reason: "no package owns the file"}
		p.Exe.PathClasses = []string{"tmp", "hidden_dir"}
		p.Ancestors = []event.Ancestor{{PID: 8004, ExePath: "/usr/bin/bash", Args: []string{"bash", "-i"}},
			{PID: 1, ExePath: "/sbin/init"}}
		p.Script = &event.Script{
			Path: "/home/u/.n2/pay", SHA256: strings.Repeat("cd", 32), HashStatus: "",
			PathClasses: []string{"hidden_dir"},
			Trust:       &event.Trust{Verdict: "unknown", Severity: "MEDIUM", Signer: "CN=x"},
			AgeSeconds:  ptr(int64(12)), AgeSource: "ctime",
			Prevalence: &event.Prevalence{FirstSeen: Time, Executions: 1, FirstExecution: true, TrackedSince: Time.Add(-time.Hour)},
		}
		p.Exe.AgeSeconds, p.Exe.AgeSource = ptr(int64(7)), "btime"
		p.Exe.Prevalence = &event.Prevalence{FirstSeen: Time.Add(-time.Minute), Executions: 3, ConnectedOutside: true,
			TrackedSince: Time.Add(-24 * time.Hour), Key: "file"}
	} else {
		r.Process.Exe.HashStatus = "pending"
	}
	return r
}

// Connect is a network_connection of the process Launch(i, full)
// describes.
func Connect(i int, full bool) *event.Record {
	r := Launch(i, full)
	r.Kind = event.KindNetworkConnection
	r.ID = fmt.Sprintf("4b35b4dd-%x-1f51-4", 0x76b359cade+i)
	r.Network = &event.Network{
		Protocol: "tcp", Family: "ipv4", DstIP: "192.0.2.1", DstPort: 4444,
		Result: "EINPROGRESS", ResultCode: -115,
	}
	if full {
		r.Network.Family = "ipv6"
		r.Network.DstIP = "::ffff:192.0.2.1"
		r.Network.SrcIP = "10.0.0.5"
		r.Network.SrcPort = 51512
		r.Network.NetNS = 4026531840
		r.Network.External = ptr(true)
		r.Network.Source = "sock_diag"
		r.Network.Result = "established"
		r.Network.DstHostname = "c2.argus.test"
		sc := *r.Process.Script
		sc.SHA256, sc.HashStatus = "", "too_large"
		r.Process.Script = &sc
	}
	return r
}

// Health is a sensor_health record, every counter filled when full.
func Health(full bool) *event.Record {
	r := &event.Record{
		Schema: event.Schema, ID: Boot + "-health-187b0a", Kind: event.KindSensorHealth,
		Time: Time, Host: event.Host{Hostname: "vm1", BootID: Boot},
		Health: &event.Health{State: "running", Processes: 12, UptimeSeconds: 61.5, Version: "v0.1.0"},
	}
	if full {
		h := r.Health
		h.EventsLost, h.EventsDropped, h.DecodeErrors, h.WriteErrors = 3, 4, 5, 6
		h.LastError = "decode: short record"
		h.EventsByKind = map[string]uint64{"exec": 10, "connect": 20}
		h.LostByKind = map[string]uint64{"exec": 3}
		h.Hooks = []event.HookState{{Name: "exec", Attach: "tp_btf/sched_process_exec", Attached: true},
			{Name: "connect", Attach: "tracepoint/syscalls/sys_exit_connect", Error: "verifier"}}
		h.RingBytes, h.RingPending = 8<<20, 4096
		h.ProcessesEvicted = 7
		h.Hashing = &event.HashingHealth{CacheHits: 90, CacheMisses: 10, HitRatio: 0.9, FilesHashed: 10,
			BytesHashed: 1 << 20, InFlight: 1, Failures: map[string]uint64{"too_large": 1}, LateDropped: 2}
		h.TrustVerdicts = map[string]uint64{"package_verified": 50, "unowned": 2}
		h.Detection = &event.DetectionHealth{ByRule: map[string]uint64{"t1587": 1},
			Allowlisted: map[string]uint64{"t1587": 3}, Keys: 12, Evicted: 0}
		h.Outputs = []event.OutputHealth{{Name: "syslog+tcp://siem:514", Format: "udm", Sent: 100, Errors: 2,
			Retries: 2, SpoolRecords: 5, SpoolBytes: 5000, Dropped: 1, LastError: "connect: refused"}}
	}
	return r
}

// Detection is a detection record whose triggering records are a full
// launch and connect.
func Detection(full bool) *event.Record {
	l, c := Launch(0, true), Connect(1, true)
	d := &event.Detection{
		Rule: "t1587_develop_capabilities_unsigned_exec", Technique: "T1587", Tactic: "Resource Development",
		Severity: "HIGH", Summary: "unsigned /tmp/mytrue connected to 192.0.2.1:4444",
		Hostname: "vm1", SHA256: strings.Repeat("ab", 32), WindowSeconds: 3600,
		Events:    []event.Record{*l, *c},
		FirstSeen: Time, LastSeen: Time.Add(time.Second),
	}
	if full {
		d.Techniques = []string{"T1587.001", "T1195.002"}
		d.Degraded = true
		d.Connections = 2
		d.ProcessTree = []event.Ancestor{{PID: 8004, ExePath: "/usr/bin/bash", Args: []string{"bash"}}, {PID: 1, ExePath: "/sbin/init"}}
		// Joined on the file: the hash could not be had.
		d.SHA256, d.JoinKey, d.FileIdentity, d.HashStatus = "", "file_identity", "2049:1234:1764700000000000000", "too_large"
	} else {
		d.JoinKey = "sha256"
	}
	return &event.Record{
		Schema: event.Schema, ID: "det-" + Boot + "-1", Kind: event.KindDetection,
		Time: Time.Add(time.Second), Host: event.Host{Hostname: "vm1", BootID: Boot}, Detection: d,
	}
}

// HashUpdate is the hash_update that follows Launch(5, full).
func HashUpdate(full bool) *event.Record {
	r := Launch(5, full)
	r.Kind = event.KindHashUpdate
	r.RefID = r.ID
	r.ID += "-h"
	r.Process.Exe.SHA256 = strings.Repeat("ef", 32)
	r.Process.Exe.HashStatus = ""
	if full {
		r.Process.Exe.Trust = &event.Trust{Verdict: "signed_untrusted", Severity: "LOW", Package: "devtool", Signer: "CN=dev"}
	}
	return r
}

// DNSQuery is the dns_query the process Launch(i, full) received: the
// answer for www.argus.test through a CNAME chain, with the flags set when
// full; without its process when not.
func DNSQuery(i int, full bool) *event.Record {
	r := Launch(i, full)
	r.Kind = event.KindDNSQuery
	r.ID = fmt.Sprintf("4b35b4dd-%x-0-5", 0x76b359cade+i)
	r.Process.Ancestors = nil
	r.DNS = &event.DNS{
		ID: 4242, Name: "www.argus.test", Type: "A", RCode: "NOERROR",
		Answers: []event.DNSAnswer{{Name: "www.argus.test", Type: "CNAME", TTL: 300, Data: "edge.argus.test"},
			{Name: "edge.argus.test", Type: "A", TTL: 60, Data: "192.0.2.1"}},
		ResolvedIPs: []string{"192.0.2.1"}, Transport: "udp", ServerIP: "10.9.0.1", ServerPort: 53,
		ClientIP: "10.9.0.2", ClientPort: 40000,
	}
	if full {
		r.DNS.Type, r.DNS.Transport, r.DNS.RCode = "AAAA", "tcp", "NXDOMAIN"
		r.DNS.Answers, r.DNS.ResolvedIPs = nil, nil
		r.DNS.ServerTruncated, r.DNS.Truncated, r.DNS.Partial = true, true, true
	} else {
		r.Process = nil
	}
	return r
}

// All covers every kind, with optional fields filled and empty,
// and records missing the parts their kind usually has.
func All() []*event.Record {
	var out []*event.Record
	for _, full := range []bool{false, true} {
		out = append(out, Launch(1, full), Connect(2, full), Health(full), Detection(full), HashUpdate(full), DNSQuery(3, full))
	}
	out = append(out,
		&event.Record{Schema: event.Schema, ID: "bare-launch", Kind: event.KindProcessLaunch, Time: Time, Host: event.Host{Hostname: "vm1"}},
		&event.Record{Schema: event.Schema, ID: "bare-hash", Kind: event.KindHashUpdate, RefID: "x", Time: Time, Host: event.Host{Hostname: "vm1"}},
		&event.Record{Schema: event.Schema, ID: "odd \"name\"\n\xff", Kind: "future_kind", Time: Time, Host: event.Host{Hostname: "host with space\u2028"}},
		&event.Record{Schema: event.Schema, ID: "no-dst", Kind: event.KindNetworkConnection, Time: Time,
			Host: event.Host{Hostname: "vm1"}, Network: &event.Network{Protocol: "udplite", Family: "ipv4"}},
		&event.Record{Schema: event.Schema, ID: "dns-without-dns", Kind: event.KindDNSQuery, Time: Time, Host: event.Host{Hostname: "vm1"}},
		&event.Record{Schema: event.Schema, ID: "empty-detection", Kind: event.KindDetection, Time: Time,
			Host: event.Host{Hostname: "vm1"}, Detection: &event.Detection{Rule: "r", Severity: "bogus", Tactic: "TA0002"}},
	)
	return out
}

// MustJSON decodes one JSON object or fails the test.
func MustJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return m
}

// Get walks a dotted path through decoded JSON objects; a numeric
// element indexes an array.
func Get(m any, path string) any {
	cur := m
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			var i int
			if _, err := fmt.Sscanf(k, "%d", &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// RepoFile reads a file of the repository by its path from the top
// (the directory holding go.mod), wherever the test runs from.
func RepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RepoRoot is the repository's root: the nearest directory above the
// test's own that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
