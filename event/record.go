package event

import (
	"math"
	"time"
)

// Schema is the value of every record's "schema" field.
const Schema = "argus.v1"

// Kind names what a record describes.
type Kind string

// Record kinds.
const (
	KindProcessLaunch     Kind = "process_launch"
	KindNetworkConnection Kind = "network_connection"
	KindSensorHealth      Kind = "sensor_health"
	// KindHashUpdate carries an executable's hash that was not ready when
	// the record it belongs to went out (hash_status "pending"). RefID
	// names that record.
	KindHashUpdate Kind = "hash_update"
	// KindDetection is a rule match.
	KindDetection Kind = "detection"
	// KindDNSQuery is a DNS response delivered to a process on the host:
	// the question, the answers and the process that asked.
	KindDNSQuery Kind = "dns_query"
	// KindLibraryLoad is a file a process mapped executable that is not
	// its main executable: a shared library, preloaded or dlopen()ed.
	KindLibraryLoad Kind = "library_load"
)

// Record is one argus.v1 event.
type Record struct {
	Schema string    `json:"schema"`
	ID     string    `json:"id"`
	Kind   Kind      `json:"kind"`
	Time   time.Time `json:"time"`
	Host   Host      `json:"host"`
	// RefID, on a hash_update, is the id of the record it completes.
	RefID     string     `json:"ref_id,omitempty"`
	Process   *Process   `json:"process,omitempty"`
	Network   *Network   `json:"network,omitempty"`
	Health    *Health    `json:"health,omitempty"`
	Detection *Detection `json:"detection,omitempty"`
	// Library, on a library_load, is the file Process mapped executable.
	Library *Library `json:"library,omitempty"`
	DNS     *DNS     `json:"dns,omitempty"`
}

// DNS is a DNS response a process received, in a dns_query record.
type DNS struct {
	// ID is the message id.
	ID uint16 `json:"id"`
	// Name and Type are the question: the name lowercased, without the
	// final dot; the type's mnemonic (A, AAAA, HTTPS, ...) or TYPE<n>.
	Name string `json:"name"`
	Type string `json:"type"`
	// RCode is the response code: NOERROR, NXDOMAIN, SERVFAIL, ...
	RCode   string      `json:"rcode"`
	Answers []DNSAnswer `json:"answers,omitempty"`
	// ResolvedIPs are the addresses the question's name reached through
	// its CNAME chain: what a connection to them will be named after.
	ResolvedIPs []string `json:"resolved_ips,omitempty"`
	// Transport is "udp" or "tcp".
	Transport  string `json:"transport"`
	ServerIP   string `json:"server_ip"`
	ServerPort uint16 `json:"server_port"`
	ClientIP   string `json:"client_ip"`
	ClientPort uint16 `json:"client_port"`
	// ServerTruncated is the message's TC bit: the server cut the answer.
	ServerTruncated bool `json:"server_truncated,omitempty"`
	// Truncated means the sensor copied only the first 512 bytes of a
	// longer message; Partial that answers past the cut (or past a
	// malformed record) are missing.
	Truncated bool `json:"truncated,omitempty"`
	Partial   bool `json:"partial,omitempty"`
}

// DNSAnswer is one answer record.
type DNSAnswer struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data string `json:"data,omitempty"`
}

// Host identifies the machine.
type Host struct {
	Hostname string `json:"hostname"`
	// BootID is /proc/sys/kernel/random/boot_id: it tells one boot's pids
	// and start times from another's.
	BootID string `json:"boot_id,omitempty"`
}

// Process is the process a record is about.
type Process struct {
	PID  uint32 `json:"pid"`
	TID  uint32 `json:"tid,omitempty"`
	PPID uint32 `json:"ppid"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	EUID uint32 `json:"euid"`
	EGID uint32 `json:"egid"`
	// AUID is the login uid; absent when unset.
	AUID *uint32 `json:"auid,omitempty"`
	// StartTimeNs is CLOCK_BOOTTIME at process start; with PID and the
	// host's boot id it names one process.
	StartTimeNs   uint64   `json:"start_time_ns"`
	Comm          string   `json:"comm,omitempty"`
	Args          []string `json:"args"`
	ArgsTruncated bool     `json:"args_truncated,omitempty"`
	Cwd           string   `json:"cwd"`
	CwdTruncated  bool     `json:"cwd_truncated,omitempty"`
	CgroupID      uint64   `json:"cgroup_id,omitempty"`
	// Container is the container the process runs in; absent on the host.
	Container *Container `json:"container,omitempty"`
	// K8s is the Kubernetes pod of that container, when it belongs to one.
	K8s *K8s `json:"k8s,omitempty"`
	Exe Exe  `json:"exe"`
	// ExeRelabeled is the file the kernel names as the process's
	// executable (/proc/PID/exe) when that is not the file it executed:
	// the process replaced it without an exec (prctl PR_SET_MM_MAP or
	// PR_SET_MM_EXE_FILE, what CRIU's restore does). Exe stays the file
	// that was executed, whose code runs. Present on network_connection.
	ExeRelabeled *Relabel `json:"exe_relabeled,omitempty"`
	// CodeOrigin, on a network_connection, says the code that made the
	// call was not a file's text as mapped: CodeAnonymous (memory no file
	// backs: shellcode, injected or unpacked), CodeWritten (a file's text
	// written to since it was mapped: code injected over it), or
	// CodeUnknown (the kernel could not look). Empty for a file's text.
	CodeOrigin string `json:"code_origin,omitempty"`
	// Script is the file an interpreter runs (python3 ~/.n2/pay, node
	// /tmp/x.js): the payload's own identity, not the interpreter's.
	Script *Script `json:"script,omitempty"`
	// Libraries, on a network_connection, are the files the process
	// mapped executable that no package or signature vouches for (at
	// most MaxLibraries): identities of the process, as its script is.
	Libraries []Library `json:"libraries,omitempty"`
	// LoaderEnv holds the dynamic loader's variables (LD_PRELOAD,
	// LD_LIBRARY_PATH, LD_AUDIT, or the configured names) from the
	// environment the program was executed with, captured in the kernel
	// at exec. Present on process_launch when any is set.
	LoaderEnv []LoaderVar `json:"loader_env,omitempty"`
	// LoaderEnvTruncated: the environment had more strings than the
	// kernel scans, or more loader variables than it keeps.
	LoaderEnvTruncated bool    `json:"loader_env_truncated,omitempty"`
	Parent             *Parent `json:"parent,omitempty"`
	// Ancestors is the process's ancestry beyond itself, parent first, as
	// far as the sensor knows it (at least four levels where they exist).
	// Present on process_launch.
	Ancestors []Ancestor `json:"ancestors,omitempty"`
	// Source says where the process details came from: "exec" (captured
	// in the kernel at exec), "fork" (inherited from the parent's) or
	// "procfs" (read from /proc for a process older than the sensor) or
	// "kernel" (gone before it could be read: only the record's own fields).
	Source string `json:"source,omitempty"`
}

// Container names the container a process runs in: the id and runtime
// from its cgroup path, the rest from the runtime's own state on disk
// where the runtime records it.
type Container struct {
	ID      string `json:"id"`
	Runtime string `json:"runtime,omitempty"`
	Name    string `json:"name,omitempty"`
	Image   string `json:"image,omitempty"`
	ImageID string `json:"image_id,omitempty"`
}

// K8s names the Kubernetes pod and container of a containerised process.
type K8s struct {
	PodName       string `json:"pod_name,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	PodUID        string `json:"pod_uid,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
}

// Relabel is the file a process made the kernel name as its executable
// without executing it: its identity as the kernel saw it, and its path
// when /proc still named it when the record was made.
type Relabel struct {
	Path   string `json:"path,omitempty"`
	Device uint64 `json:"device"`
	Inode  uint64 `json:"inode"`
}

// Exe is the executable of a process.
type Exe struct {
	Path          string `json:"path"`
	PathTruncated bool   `json:"path_truncated,omitempty"`
	// InvokedAs is the name given to execve: relative, /dev/fd/N, or the
	// script of an interpreted program.
	InvokedAs string `json:"invoked_as,omitempty"`
	Device    uint64 `json:"device"`
	Inode     uint64 `json:"inode"`
	Size      int64  `json:"size"`
	MtimeNs   int64  `json:"mtime_ns"`
	CtimeNs   int64  `json:"ctime_ns"`
	Nlink     uint32 `json:"nlink"`
	Mode      uint32 `json:"mode"`
	UID       uint32 `json:"uid"`
	Memfd     bool   `json:"memfd"`
	Deleted   bool   `json:"deleted"`
	// FSType names the filesystem the executable is on, from the kernel's
	// superblock magic: tmpfs, ramfs, fuse, overlay, btrfs, ext4, ...
	FSType string `json:"fs_type,omitempty"`
	// SHA256 is the lowercase hex digest of exactly the file the kernel
	// executed; when absent, HashStatus says why.
	SHA256 string `json:"sha256,omitempty"`
	// HashStatus is empty when SHA256 is set, else one of "gone",
	// "changed_since_exec", "too_large", "error", "pending".
	HashStatus string `json:"hash_status,omitempty"`
	Trust      *Trust `json:"trust,omitempty"`
	// PathClasses are the user-writable or suspicious places the path is
	// in: tmp, shm, run_user, downloads, node_modules, hidden_dir, memfd,
	// deleted.
	PathClasses []string `json:"path_classes,omitempty"`
	// AgeSeconds is how long before the exec the file came to be
	// (AgeSource "btime": its birth time; "ctime": its last status change,
	// where the filesystem keeps no birth time). Absent when unknown.
	AgeSeconds *int64 `json:"age_seconds,omitempty"`
	AgeSource  string `json:"age_source,omitempty"`
	// Prevalence is how new and how common the binary is on this host.
	Prevalence *Prevalence `json:"prevalence,omitempty"`
}

// Prevalence is what the host's prevalence store knows of a binary,
// keyed by its sha256 (or its file identity when it has none).
type Prevalence struct {
	// FirstSeen is the first execution the store remembers.
	FirstSeen time.Time `json:"first_seen"`
	// Executions counts executions seen on this host, this one included
	// (on a connection: those so far).
	Executions uint64 `json:"executions"`
	// FirstExecution is true on the launch that is its first execution
	// seen here.
	FirstExecution bool `json:"first_execution"`
	// ConnectedOutside is true once the binary has connected to an
	// external address (before this record).
	ConnectedOutside bool `json:"connected_outside"`
	// TrackedSince is when the store began: a FirstSeen close to it means
	// "already here when tracking began", not "new".
	TrackedSince time.Time `json:"tracked_since"`
	// Key is what the store counts by when it is not the sha256:
	// "file" (device, inode, ctime) for a binary with no hash.
	Key string `json:"key,omitempty"`
}

// Trust is the provenance verdict of an executable.
type Trust struct {
	// Verdict is package_verified, package_modified, signed_trusted,
	// signed_untrusted, unowned or unknown.
	Verdict string `json:"verdict"`
	// Severity is a Chronicle UDM SecurityResult severity:
	// INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL. Only trusted
	// verdicts are INFORMATIONAL.
	Severity string `json:"severity"`
	Package  string `json:"package,omitempty"`
	Signer   string `json:"signer,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Script is a file run by an interpreter.
type Script struct {
	Path        string      `json:"path"`
	SHA256      string      `json:"sha256,omitempty"`
	HashStatus  string      `json:"hash_status,omitempty"`
	PathClasses []string    `json:"path_classes,omitempty"`
	Trust       *Trust      `json:"trust,omitempty"`
	AgeSeconds  *int64      `json:"age_seconds,omitempty"`
	AgeSource   string      `json:"age_source,omitempty"`
	Prevalence  *Prevalence `json:"prevalence,omitempty"`
}

// MaxLibraries bounds Process.Libraries.
const MaxLibraries = 8

// Library is a file mapped executable into a process, other than its main
// executable.
type Library struct {
	Path          string `json:"path"`
	PathTruncated bool   `json:"path_truncated,omitempty"`
	Device        uint64 `json:"device"`
	Inode         uint64 `json:"inode"`
	Size          int64  `json:"size"`
	MtimeNs       int64  `json:"mtime_ns"`
	CtimeNs       int64  `json:"ctime_ns"`
	Nlink         uint32 `json:"nlink"`
	Mode          uint32 `json:"mode"`
	UID           uint32 `json:"uid"`
	Memfd         bool   `json:"memfd"`
	Deleted       bool   `json:"deleted"`
	FSType        string `json:"fs_type,omitempty"`
	SHA256        string `json:"sha256,omitempty"`
	HashStatus    string `json:"hash_status,omitempty"`
	Trust         *Trust `json:"trust,omitempty"`
	// PathClasses are as Exe.PathClasses, for the library's path.
	PathClasses []string `json:"path_classes,omitempty"`
	// Via is "mmap" (mapped executable) or "mprotect" (made executable
	// after it was mapped).
	Via string `json:"via"`
	// Preload says who named the library for preloading: "LD_PRELOAD"
	// (the process's loader environment) or "ld.so.preload"
	// (/etc/ld.so.preload). Absent otherwise.
	Preload string `json:"preload,omitempty"`
}

// LoaderVar is one dynamic loader variable of a process's environment.
type LoaderVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Truncated: the value was longer than the kernel keeps.
	Truncated bool `json:"truncated,omitempty"`
	// PathClasses are the path classes of the paths the value names
	// (LD_PRELOAD=/tmp/x.so: tmp), so a library preloaded from a
	// user-writable place shows on the launch.
	PathClasses []string `json:"path_classes,omitempty"`
}

// Parent is the parent of a process.
type Parent struct {
	PID  uint32    `json:"pid"`
	Comm string    `json:"comm,omitempty"`
	Exe  ParentExe `json:"exe"`
}

// ParentExe is the parent's executable, when known.
type ParentExe struct {
	Path string `json:"path,omitempty"`
}

// Network is a connection attempt.
type Network struct {
	Protocol string `json:"protocol"` // "tcp", "udp", or the IP protocol number
	Family   string `json:"family"`   // "ipv4" or "ipv6"
	DstIP    string `json:"dst_ip"`
	DstPort  uint16 `json:"dst_port"`
	// DstHostname is the name whose DNS answer (its A/AAAA records,
	// through its CNAME chain) gave DstIP, as seen by the sensor, for
	// this process or else any on the host, within the answer's TTL.
	DstHostname string `json:"dst_hostname,omitempty"`
	SrcIP       string `json:"src_ip,omitempty"`
	SrcPort     uint16 `json:"src_port,omitempty"`
	// Result is "success", "EINPROGRESS" (non-blocking connect under
	// way), the errno name, e.g. "ECONNREFUSED", or "submitted" when the
	// connection was seen being made and its outcome cannot be known
	// (io_uring, 32-bit calls, datagrams, TCP Fast Open; ResultCode 0).
	Result     string `json:"result"`
	ResultCode int32  `json:"result_code"`
	NetNS      uint32 `json:"netns,omitempty"`
	// Via names how the connection was made: "connect", "socketcall",
	// "sendmsg" (first datagram from a socket to a destination),
	// "fastopen" or "unknown", prefixed "io_uring_" when issued through
	// io_uring and suffixed "32" for a 32-bit program. Absent for
	// connections found by the startup snapshot.
	Via string `json:"via,omitempty"`
	// Source is "sock_diag" for a connection that was already open when
	// the sensor started (found by the startup snapshot, so Result is
	// "established" and the time is when it was found); absent for
	// connections the kernel hook saw being made.
	Source string `json:"source,omitempty"`
	// Count, when set, makes the record a summary of repeats: Count
	// attempts identical to an earlier record of the same process (same
	// destination, protocol and result, within the sensor's fold
	// interval) that were counted in the kernel instead of reported one
	// by one. FirstSeen and LastSeen are the first and last of them; the
	// record's time is LastSeen, and its other fields are the first folded
	// attempt's (the same process, destination, protocol and result as
	// the earlier record; its own source port). Absent on an ordinary
	// record, which stands for one.
	Count     uint64    `json:"count,omitempty"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// External is true unless the destination is loopback, private,
	// link-local, multicast, broadcast, unspecified, one of the host's
	// own addresses, or a configured internal range. Absent when not
	// classified.
	External *bool `json:"external,omitempty"`
}

// Detection is a rule match.
type Detection struct {
	Rule      string `json:"rule"`
	Technique string `json:"technique"` // MITRE ATT&CK id, e.g. "T1587"
	// Techniques lists further related technique ids, e.g. "T1195.002".
	Techniques []string `json:"techniques,omitempty"`
	Tactic     string   `json:"tactic"`   // e.g. "Resource Development"
	Severity   string   `json:"severity"` // UDM severity name
	Summary    string   `json:"summary,omitempty"`
	Hostname   string   `json:"hostname"`
	SHA256     string   `json:"sha256,omitempty"`
	// JoinKey says what the records were joined on: "sha256", or
	// "file_identity" when the content hash could not be had and the
	// executable's device, inode and ctime at exec stood in for it.
	JoinKey string `json:"join_key,omitempty"`
	// FileIdentity is "device:inode:ctime_ns" when JoinKey is
	// file_identity.
	FileIdentity string `json:"file_identity,omitempty"`
	// HashStatus is why the hash is missing when JoinKey is
	// file_identity: the launch's hash_status (too_large, gone, error, ...).
	HashStatus string `json:"hash_status,omitempty"`
	// WindowSeconds is the correlation window the rule matched within.
	WindowSeconds int64 `json:"window_seconds"`
	// Degraded is true when the sensor lost or dropped events during the
	// window: the rule may have missed matches, or have matched on a
	// partial picture.
	Degraded bool `json:"degraded"`
	// Events are the triggering records, whole.
	Events []Record `json:"events"`
	// FirstSeen and LastSeen bound the matched activity.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Connections counts matching connections seen in the window so far.
	Connections int `json:"connection_count,omitempty"`
	// ProcessTree is the launched process's ancestry, nearest first.
	ProcessTree []Ancestor `json:"process_tree,omitempty"`
	// Novelty says why the binary counts as new on the host, which
	// raised the severity: "new_file" (written shortly before it ran),
	// "rare" (run only a few times here). Absent for an established one.
	Novelty []string `json:"novelty,omitempty"`
}

// Ancestor is one process in an ancestry chain.
type Ancestor struct {
	PID     uint32   `json:"pid"`
	ExePath string   `json:"exe_path,omitempty"`
	Args    []string `json:"args,omitempty"`
}

// Health reports the sensor's own state and loss counters.
type Health struct {
	// State is "started", "running" (periodic) or "stopped".
	State string `json:"state"`
	// EventsLost counts records the kernel could not deliver.
	EventsLost uint64 `json:"events_lost"`
	// EventsDropped counts events discarded in userspace because a
	// consumer fell behind.
	EventsDropped uint64            `json:"events_dropped"`
	DecodeErrors  uint64            `json:"decode_errors"`
	LastError     string            `json:"last_error,omitempty"`
	EventsByKind  map[string]uint64 `json:"events_by_kind,omitempty"`
	LostByKind    map[string]uint64 `json:"lost_by_kind,omitempty"`
	Hooks         []HookState       `json:"hooks,omitempty"`
	// DatagramsFolded counts datagrams to a (socket, destination) that
	// already had its network_connection record: counted, not reported
	// one by one.
	DatagramsFolded uint64 `json:"datagrams_folded,omitempty"`
	// ConnectsFolded counts connects counted in a summary record
	// (network.count) instead of reported one by one; ConnectsUnfolded
	// foldable connects reported one by one because the kernel's fold
	// table was full.
	ConnectsFolded   uint64 `json:"connects_folded,omitempty"`
	ConnectsUnfolded uint64 `json:"connects_unfolded,omitempty"`
	// LibrariesTrusted counts executable file mappings the kernel left
	// unreported because the file was judged trusted; LibrariesRepeated
	// those of a file the process image had already mapped.
	LibrariesTrusted  uint64 `json:"libraries_trusted,omitempty"`
	LibrariesRepeated uint64 `json:"libraries_repeated,omitempty"`
	// ExecFilesFull counts execs the kernel could not note as their
	// process's executed file because its table was full: a relabel by
	// such a process is told from its exec record alone, and missed if
	// that record is lost too.
	ExecFilesFull uint64 `json:"exec_files_full,omitempty"`
	RingBytes     int    `json:"ring_bytes,omitempty"`
	RingPending   int    `json:"ring_pending,omitempty"`
	// Processes is the size of the process table; ProcessesEvicted counts
	// entries its bound pushed out.
	Processes        int    `json:"processes"`
	ProcessesEvicted uint64 `json:"processes_evicted"`
	// WriteErrors counts failed delivery attempts over all outputs.
	WriteErrors   uint64  `json:"write_errors"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Hashing, TrustVerdicts, Detection and Outputs report the later
	// pipeline stages.
	Hashing       *HashingHealth    `json:"hashing,omitempty"`
	TrustVerdicts map[string]uint64 `json:"trust_verdicts,omitempty"`
	Detection     *DetectionHealth  `json:"detection,omitempty"`
	Outputs       []OutputHealth    `json:"outputs,omitempty"`
	Prevalence    *PrevalenceHealth `json:"prevalence,omitempty"`
	DNS           *DNSHealth        `json:"dns,omitempty"`
	Version       string            `json:"version,omitempty"`
}

// DNSHealth reports passive DNS: the kernel hook and the name cache.
type DNSHealth struct {
	// Capture is "on" when the DNS response hook is attached, else "off"
	// with CaptureError saying why.
	Capture      string `json:"capture"`
	CaptureError string `json:"capture_error,omitempty"`
	// Responses counts responses read from the kernel; RateLimited those
	// the in-kernel rate limit kept out; Skipped TCP segments not holding
	// a whole message; Truncated responses cut at the copy bound;
	// ParseErrors responses that did not parse.
	Responses   uint64 `json:"responses"`
	RateLimited uint64 `json:"rate_limited"`
	Skipped     uint64 `json:"skipped"`
	Truncated   uint64 `json:"truncated"`
	ParseErrors uint64 `json:"parse_errors"`
	// Records counts dns_query records written (0 when they are off).
	Records uint64 `json:"records"`
	// CacheEntries is the addresses in the name cache, CacheMax its
	// bound, CacheEvicted the addresses the bound pushed out.
	CacheEntries int    `json:"cache_entries"`
	CacheMax     int    `json:"cache_max"`
	CacheEvicted uint64 `json:"cache_evicted"`
}

// HashingHealth reports the hasher.
type HashingHealth struct {
	CacheHits   uint64  `json:"cache_hits"`
	CacheMisses uint64  `json:"cache_misses"`
	HitRatio    float64 `json:"hit_ratio"`
	FilesHashed uint64  `json:"files_hashed"`
	BytesHashed uint64  `json:"bytes_hashed"`
	InFlight    int64   `json:"in_flight"`
	// Failures counts results without a hash, by hash_status.
	Failures map[string]uint64 `json:"failures"`
	// LateDropped counts records whose pending hash was given up on
	// because too many were waiting.
	LateDropped uint64 `json:"late_dropped"`
}

// DetectionHealth reports the correlation engine.
type DetectionHealth struct {
	ByRule      map[string]uint64 `json:"by_rule"`
	Allowlisted map[string]uint64 `json:"allowlisted,omitempty"`
	Keys        int               `json:"keys"`
	Evicted     uint64            `json:"evicted"`
}

// PrevalenceHealth reports the prevalence store.
type PrevalenceHealth struct {
	Entries     int64  `json:"entries"`
	Bytes       int64  `json:"bytes"`
	Evicted     uint64 `json:"evicted"`
	WriteErrors uint64 `json:"write_errors"`
	// Rebuilt says why the store found at start was damaged and set
	// aside for a new, empty one; absent when it opened cleanly.
	Rebuilt      string    `json:"rebuilt,omitempty"`
	TrackedSince time.Time `json:"tracked_since"`
}

// OutputHealth reports one output.
type OutputHealth struct {
	Name         string `json:"name"`
	Format       string `json:"format"`
	Sent         uint64 `json:"sent"`
	Errors       uint64 `json:"errors"`
	Retries      uint64 `json:"retries"`
	SpoolRecords uint64 `json:"spool_records"`
	SpoolBytes   int64  `json:"spool_bytes"`
	Dropped      uint64 `json:"dropped"`
	LastError    string `json:"last_error,omitempty"`
	// ReceiverRefusing is set while the receiver refuses every request
	// for a configuration fault of its own (a HEC index the token may not
	// write): the records stay spooled and are retried, and last_error
	// says what the receiver answered.
	ReceiverRefusing bool `json:"receiver_refusing,omitempty"`
	// Filtered counts records this output's kinds: or drop: kept from it
	// on purpose; FilterErrors drop conditions that failed (the record
	// was kept). Absent when the output has no filter.
	Filtered     uint64 `json:"filtered,omitempty"`
	FilterErrors uint64 `json:"filter_errors,omitempty"`
}

// HookState is one attach point.
type HookState struct {
	Name     string `json:"name"`
	Attach   string `json:"attach"`
	Attached bool   `json:"attached"`
	// Optional hooks widen coverage; the sensor runs without them.
	Optional bool   `json:"optional,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Attempts is how many connection attempts the record stands for: its
// Count when it is a summary of folded repeats, else one. It saturates at
// 2^31-1, so sums of a few stay in an int on every platform.
func (n *Network) Attempts() int {
	if n.Count == 0 {
		return 1
	}
	return int(min(n.Count, math.MaxInt32))
}
