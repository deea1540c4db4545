package schematest

import (
	"strings"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

const richBoot = "4b35b4dd-767a-4fb3-9fba-6d53cbdf1826"

var richTime = time.Date(2026, 11, 26, 2, 40, 18, 194504954, time.UTC)

// Rich returns one record of each kind, and the variants a kind has
// (a launch whose hashes are still pending), with every optional member
// of event.Record filled in somewhere among them. The values are the
// kind the sensor writes: paths, digests, errno names, verdicts.
func Rich() []*event.Record {
	launch := richLaunch()
	pending := richLaunch()
	pending.ID = richBoot[:8] + "-76b359cadf-1f52-1"
	pending.Process.Exe.SHA256, pending.Process.Exe.HashStatus, pending.Process.Exe.Trust = "", "pending", nil
	pending.Process.Script.SHA256, pending.Process.Script.HashStatus, pending.Process.Script.Trust = "", "pending", nil

	conn := richLaunch()
	conn.ID = richBoot[:8] + "-76b359d0aa-1f53-4"
	conn.Kind = event.KindNetworkConnection
	conn.Time = richTime.Add(time.Second)
	conn.Process.Ancestors = nil
	conn.Process.EUID, conn.Process.EGID = 1000, 1000
	conn.Process.Exe.Nlink, conn.Process.Exe.Deleted, conn.Process.Exe.Memfd = 1, false, false
	conn.Process.Exe.Path, conn.Process.Exe.PathTruncated = "/tmp/mytrue", false
	conn.Process.Exe.PathClasses = []string{"tmp"}
	conn.Process.Script = &event.Script{Path: "/usr/lib/node_modules/npm/bin/npm-cli.js", SHA256: strings.Repeat("ef", 32),
		PathClasses: []string{"node_modules"},
		Trust: &event.Trust{Verdict: "package_modified", Severity: "HIGH", Package: "npm",
			Reason: "content differs from the package's digest"}}
	ext := true
	conn.Network = &event.Network{
		Protocol: "tcp", Family: "ipv6", DstIP: "::ffff:192.0.2.1", DstPort: 4444,
		SrcIP: "::ffff:10.0.0.5", SrcPort: 51512, Result: "ECONNREFUSED", ResultCode: -111, DstHostname: "c2.argus.test",
		NetNS: 4026531840, Source: "sock_diag", External: &ext, Via: "io_uring_connect32",
	}

	// A summary of repeats: 1999 more identical attempts after conn.
	folded := *conn
	folded.ID = richBoot[:8] + "-76b359d0ff-1f53-4"
	folded.Time = richTime.Add(1800 * time.Millisecond)
	fn := *conn.Network
	fn.Result, fn.ResultCode, fn.Source = "success", 0, ""
	fn.Count, fn.FirstSeen, fn.LastSeen = 1999, richTime.Add(1001*time.Millisecond), folded.Time
	folded.Network = &fn

	lib := richLibrary()
	memfdLib := *lib.Library
	memfdLib.Path, memfdLib.PathTruncated, memfdLib.Memfd, memfdLib.Deleted, memfdLib.Nlink = "/memfd:x", false, true, true, 0
	memfdLib.SHA256, memfdLib.HashStatus, memfdLib.Via, memfdLib.Preload = "", "gone", "mprotect", ""
	conn.Process.Libraries = []event.Library{*lib.Library, memfdLib}
	conn.Process.ExeRelabeled = &event.Relabel{Path: "/usr/bin/true", Device: 0x800001, Inode: 1311}
	conn.Process.CodeOrigin = "written_file_text"
	launch.Process.LoaderEnv = []event.LoaderVar{
		{Name: "LD_PRELOAD", Value: "/tmp/T1574006.so", PathClasses: []string{"tmp"}},
		{Name: "LD_LIBRARY_PATH", Value: "/opt/app/lib:/opt/app/lib64:/opt/a", Truncated: true},
	}
	launch.Process.LoaderEnvTruncated = true

	update := richLaunch()
	update.Kind = event.KindHashUpdate
	update.RefID = pending.ID
	update.ID = pending.ID + "-hash"
	update.Time = richTime.Add(2 * time.Second)

	det := &event.Record{
		Schema: event.Schema, ID: "det-" + richBoot + "-1", Kind: event.KindDetection,
		Time: richTime.Add(3 * time.Second), Host: event.Host{Hostname: "vm1", BootID: richBoot},
		Detection: &event.Detection{
			Rule: "t1587_develop_capabilities_unsigned_exec", Technique: "T1587",
			Techniques: []string{"T1587.001", "T1195.002"}, Tactic: "Resource Development",
			Severity: "HIGH", Summary: "unsigned /tmp/mytrue connected to 192.0.2.1:4444",
			Hostname: "vm1", SHA256: launch.Process.Exe.SHA256, WindowSeconds: 3600, Degraded: true,
			Events:    []event.Record{*launch, *conn},
			FirstSeen: launch.Time, LastSeen: conn.Time, Connections: 2,
			ProcessTree: []event.Ancestor{{PID: 8004, ExePath: "/usr/bin/bash", Args: []string{"bash", "-i"}},
				{PID: 1, ExePath: "/sbin/init", Args: []string{"/sbin/init"}}},
			Novelty: []string{"new_file", "rare"}, JoinKey: "sha256",
		},
	}

	health := &event.Record{
		Schema: event.Schema, ID: richBoot + "-health-187b0a2c4e1f0000", Kind: event.KindSensorHealth,
		Time: richTime.Add(4 * time.Second), Host: event.Host{Hostname: "vm1", BootID: richBoot},
		Health: &event.Health{
			State: "running", EventsLost: 3, EventsDropped: 4, DecodeErrors: 5,
			LastError:    "decode: short record",
			EventsByKind: map[string]uint64{"exec": 10, "exit": 9, "fork": 4, "connect": 20},
			LostByKind:   map[string]uint64{"exec": 3, "connect_pending_full": 1},
			Hooks: []event.HookState{
				{Name: "exec", Attach: "tp_btf/sched_process_exec", Attached: true},
				{Name: "connect", Attach: "tracepoint/syscalls/sys_exit_connect", Error: "verifier: invalid access"},
				{Name: "sockaddr_sendmsg6", Attach: "cgroup/sendmsg6", Error: "no cgroup v2 hierarchy", Optional: true},
			},
			RingBytes: 8 << 20, RingPending: 4096, Processes: 312, ProcessesEvicted: 7, WriteErrors: 6, DatagramsFolded: 998,
			ConnectsFolded: 1999, ConnectsUnfolded: 2,
			LibrariesTrusted: 5120, LibrariesRepeated: 77, ExecFilesFull: 3,
			UptimeSeconds: 61.5,
			Hashing: &event.HashingHealth{CacheHits: 90, CacheMisses: 10, HitRatio: 0.9, FilesHashed: 10,
				BytesHashed: 1 << 20, InFlight: 1, Failures: map[string]uint64{"too_large": 1, "gone": 0}, LateDropped: 2},
			TrustVerdicts: map[string]uint64{"package_verified": 50, "unowned": 2},
			Detection: &event.DetectionHealth{ByRule: map[string]uint64{"t1587_develop_capabilities_unsigned_exec": 1},
				Allowlisted: map[string]uint64{"npm_lifecycle_script_exec": 3}, Keys: 12, Evicted: 1},
			Outputs: []event.OutputHealth{{Name: "syslog+tcp://siem.example.net:514", Format: "udm", Sent: 100,
				Errors: 2, Retries: 2, SpoolRecords: 5, SpoolBytes: 5000, Dropped: 1, LastError: "dial tcp: connection refused",
				Filtered: 40, FilterErrors: 1, ReceiverRefusing: true}},
			DNS: &event.DNSHealth{Capture: "off", CaptureError: "no cgroup v2 hierarchy mounted", Responses: 1000,
				RateLimited: 9000, Skipped: 2, Truncated: 3, ParseErrors: 1, Records: 999, CacheEntries: 100, CacheMax: 100,
				CacheEvicted: 900},
			Prevalence: &event.PrevalenceHealth{Entries: 1200, Bytes: 393216, Evicted: 3, WriteErrors: 1,
				Rebuilt: "quick_check: database disk image is malformed", TrackedSince: richTime.Add(-72 * time.Hour)},
			Version: "v0.1.0",
		},
	}
	// The same match joined on file identity: the hash could not be had.
	byFile := *det
	d := *det.Detection
	d.SHA256, d.JoinKey, d.FileIdentity, d.HashStatus = "", "file_identity", "65024:9223372036854775813:1795660818193980487", "too_large"
	byFile.ID, byFile.Detection = det.ID+"-file", &d
	query := richLaunch()
	query.ID = richBoot[:8] + "-76b359d0a9-1f53-5"
	query.Kind = event.KindDNSQuery
	query.Process.Ancestors = nil
	query.DNS = &event.DNS{
		ID: 4242, Name: "www.argus.test", Type: "A", RCode: "NOERROR",
		Answers: []event.DNSAnswer{{Name: "www.argus.test", Type: "CNAME", TTL: 300, Data: "edge.argus.test"},
			{Name: "edge.argus.test", Type: "A", TTL: 60, Data: "192.0.2.1"}, {Name: "edge.argus.test", Type: "RRSIG", TTL: 60}},
		ResolvedIPs: []string{"192.0.2.1"}, Transport: "tcp", ServerIP: "192.0.2.1", ServerPort: 53,
		ClientIP: "192.0.2.2", ClientPort: 40000, ServerTruncated: true, Truncated: true, Partial: true,
	}
	return []*event.Record{launch, pending, conn, update, det, health, &byFile, query, lib, &folded}
}

func richLibrary() *event.Record {
	r := richLaunch()
	r.ID = richBoot[:8] + "-76b359cae0-1f51-5"
	r.Kind = event.KindLibraryLoad
	r.Time = richTime.Add(5 * time.Millisecond)
	r.Process.Ancestors, r.Process.Script = nil, nil
	r.Library = &event.Library{
		Path: ".../tmp/T1574006.so", PathTruncated: true, Device: 65024, Inode: 1<<63 + 9, Size: 15560,
		MtimeNs: 1795660818193980487, CtimeNs: 1795660818193980487, Nlink: 1, Mode: 0o100755, UID: 1000,
		Memfd: false, Deleted: false, FSType: "tmpfs", SHA256: strings.Repeat("5a", 32),
		Trust: &event.Trust{Verdict: "signed_untrusted", Severity: "MEDIUM", Signer: "keyid:0badc0de",
			Reason: "no trusted certificate"},
		PathClasses: []string{"tmp"}, Via: "mmap", Preload: "LD_PRELOAD",
	}
	return r
}

func richLaunch() *event.Record {
	auid := uint32(1000)
	age := int64(42)
	return &event.Record{
		Schema: event.Schema, ID: richBoot[:8] + "-76b359cade-1f51-1", Kind: event.KindProcessLaunch,
		Time: richTime, Host: event.Host{Hostname: "vm1", BootID: richBoot},
		Process: &event.Process{
			PID: 8017, TID: 8018, PPID: 8004, UID: 1000, GID: 1000, EUID: 0, EGID: 0, AUID: &auid,
			StartTimeNs: 509814896624, Comm: "mytrue",
			Args: []string{"./mytrue", "-c", "b c", "\x00\xff<&>\u2028"}, ArgsTruncated: true,
			Cwd: "/tmp/work", CwdTruncated: true, CgroupID: 1 << 40,
			Container: &event.Container{ID: strings.Repeat("c0", 32), Runtime: "cri-o", Name: "k8s_web_web-7d4b9_shop_1",
				Image: "registry.example/shop/web:1.4", ImageID: strings.Repeat("1d", 32)},
			K8s: &event.K8s{PodName: "web-7d4b9", Namespace: "shop", PodUID: "5f1c0b3e-2a47-4d38-9b6e-0c8e1f2a3b4c", ContainerName: "web"},
			Exe: event.Exe{
				Path: ".../deep/tmp/mytrue", PathTruncated: true, InvokedAs: "./mytrue",
				Device: 65024, Inode: 1<<63 + 5, Size: 35664, MtimeNs: 1795660818193980487,
				CtimeNs: 1795660818193980487, Nlink: 0, Mode: 0o100755, UID: 1000,
				Memfd: true, Deleted: true, SHA256: strings.Repeat("ab", 32),
				Trust: &event.Trust{Verdict: "package_modified", Severity: "HIGH", Package: "coreutils",
					Signer: "CN=dev", Reason: "content differs from the package's digest"},
				PathClasses: []string{"tmp", "memfd", "deleted"}, FSType: "tmpfs",
				AgeSeconds: &age, AgeSource: "btime",
				Prevalence: &event.Prevalence{FirstSeen: richTime.Add(-time.Minute), Executions: 2,
					ConnectedOutside: true, TrackedSince: richTime.Add(-72 * time.Hour), Key: "file"},
			},
			Script: &event.Script{
				Path: "/home/u/.n2/pay", SHA256: strings.Repeat("cd", 32), PathClasses: []string{"hidden_dir"},
				Trust:      &event.Trust{Verdict: "signed_untrusted", Severity: "MEDIUM", Signer: "CN=x", Reason: "no trusted certificate"},
				AgeSeconds: &age, AgeSource: "ctime",
				Prevalence: &event.Prevalence{FirstSeen: richTime, Executions: 1, FirstExecution: true,
					TrackedSince: richTime.Add(-72 * time.Hour)},
			},
			Parent: &event.Parent{PID: 8004, Comm: "bash", Exe: event.ParentExe{Path: "/usr/bin/bash"}},
			Ancestors: []event.Ancestor{{PID: 8004, ExePath: "/usr/bin/bash", Args: []string{"bash", "-i"}},
				{PID: 1, ExePath: "/sbin/init"}},
			Source: "exec",
		},
	}
}
