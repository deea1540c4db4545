package filter

import (
	"sync"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// samples are records of every kind with every object present, on which
// Compile tries each condition.
var samples = sync.OnceValue(func() []*event.Record {
	t := time.Unix(1_800_000_000, 0).UTC()
	ext := true
	auid := uint32(1000)
	trust := &event.Trust{Verdict: "unowned", Severity: "LOW", Package: "p", Signer: "s", Reason: "r"}
	proc := &event.Process{PID: 2, TID: 2, PPID: 1, UID: 1000, GID: 1000, EUID: 1000, EGID: 1000, AUID: &auid,
		StartTimeNs: 1, Comm: "x", Args: []string{"/tmp/x", "-v"}, Cwd: "/tmp", CgroupID: 1,
		Exe: event.Exe{Path: "/tmp/x", InvokedAs: "./x", Device: 1, Inode: 2, Size: 3, MtimeNs: 4, CtimeNs: 5,
			Nlink: 1, Mode: 0o100755, SHA256: "00", Trust: trust, PathClasses: []string{"tmp"}},
		Script:    &event.Script{Path: "/tmp/s.py", SHA256: "00", PathClasses: []string{"tmp"}, Trust: trust},
		Libraries: []event.Library{{Path: "/tmp/l.so", SHA256: "00", Trust: trust, PathClasses: []string{"tmp"}, Via: "mmap"}},
		LoaderEnv: []event.LoaderVar{{Name: "LD_PRELOAD", Value: "/tmp/l.so", PathClasses: []string{"tmp"}}},
		Parent:    &event.Parent{PID: 1, Comm: "sh", Exe: event.ParentExe{Path: "/bin/sh"}},
		Ancestors: []event.Ancestor{{PID: 1, ExePath: "/bin/sh", Args: []string{"sh"}}}, Source: "exec"}
	netw := &event.Network{Protocol: "tcp", Family: "ipv4", DstIP: "192.0.2.1", DstPort: 443, SrcIP: "192.0.2.2",
		SrcPort: 40000, Result: "success", NetNS: 1, External: &ext, DstHostname: "c2.example"}
	host := event.Host{Hostname: "h", BootID: "b"}
	launch := &event.Record{Schema: event.Schema, ID: "1", Kind: event.KindProcessLaunch, Time: t, Host: host, Process: proc}
	conn := &event.Record{Schema: event.Schema, ID: "2", Kind: event.KindNetworkConnection, Time: t, Host: host, Process: proc, Network: netw}
	return []*event.Record{
		launch, conn,
		{Schema: event.Schema, ID: "3", Kind: event.KindHashUpdate, Time: t, Host: host, RefID: "1", Process: proc},
		{Schema: event.Schema, ID: "6", Kind: event.KindLibraryLoad, Time: t, Host: host, Process: proc,
			Library: &event.Library{Path: "/tmp/l.so", Device: 1, Inode: 3, SHA256: "00", Trust: trust,
				PathClasses: []string{"tmp"}, Via: "mmap", Preload: "LD_PRELOAD"}},
		{Schema: event.Schema, ID: "4", Kind: event.KindSensorHealth, Time: t, Host: host, Health: &event.Health{
			State: "running", EventsByKind: map[string]uint64{"exec": 1}, Hooks: []event.HookState{{Name: "exec", Attach: "tp_btf", Attached: true}},
			Hashing:       &event.HashingHealth{Failures: map[string]uint64{"gone": 1}},
			TrustVerdicts: map[string]uint64{"unowned": 1}, Detection: &event.DetectionHealth{ByRule: map[string]uint64{"r": 1}},
			Outputs: []event.OutputHealth{{Name: "stdout", Format: "native"}}}},
		{Schema: event.Schema, ID: "5", Kind: event.KindDetection, Time: t, Host: host, Detection: &event.Detection{
			Rule: "t1587_develop_capabilities_unsigned_exec", Technique: "T1587", Tactic: "Resource Development",
			Severity: "HIGH", Summary: "s", Hostname: "h", SHA256: "00", WindowSeconds: 3600,
			Events: []event.Record{*launch, *conn}, FirstSeen: t, LastSeen: t, Connections: 1,
			ProcessTree: []event.Ancestor{{PID: 1, ExePath: "/bin/sh"}}}},
		{Schema: event.Schema, ID: "6", Kind: event.KindDNSQuery, Time: t, Host: host, Process: proc, DNS: &event.DNS{
			ID: 1, Name: "c2.example", Type: "A", RCode: "NOERROR",
			Answers:     []event.DNSAnswer{{Name: "c2.example", Type: "A", TTL: 60, Data: "192.0.2.1"}},
			ResolvedIPs: []string{"192.0.2.1"}, Transport: "udp", ServerIP: "192.0.2.53", ServerPort: 53,
			ClientIP: "192.0.2.2", ClientPort: 40000}},
	}
})
