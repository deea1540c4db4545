package event

import "time"

// Schema is the value of every record's "schema" field.
const Schema = "argus.v1"

// Kind names what a record describes.
type Kind string

// Record kinds.
const (
	KindProcessLaunch     Kind = "process_launch"
	KindNetworkConnection Kind = "network_connection"
	KindSensorHealth      Kind = "sensor_health"
)

// Record is one argus.v1 event.
type Record struct {
	Schema  string    `json:"schema"`
	ID      string    `json:"id"`
	Kind    Kind      `json:"kind"`
	Time    time.Time `json:"time"`
	Host    Host      `json:"host"`
	Process *Process  `json:"process,omitempty"`
	Network *Network  `json:"network,omitempty"`
	Health  *Health   `json:"health,omitempty"`
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
	Exe           Exe      `json:"exe"`
	Parent        *Parent  `json:"parent,omitempty"`
	// Source says where the process details came from: "exec" (captured
	// in the kernel at exec), "fork" (inherited from the parent's) or
	// "procfs" (read from /proc for a process older than the sensor) or
	// "kernel" (gone before it could be read: only the record's own fields).
	Source string `json:"source,omitempty"`
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
	SrcIP    string `json:"src_ip,omitempty"`
	SrcPort  uint16 `json:"src_port,omitempty"`
	// Result is "success", "EINPROGRESS" (non-blocking connect under
	// way) or the errno name, e.g. "ECONNREFUSED".
	Result     string `json:"result"`
	ResultCode int32  `json:"result_code"`
	NetNS      uint32 `json:"netns,omitempty"`
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
	RingBytes     int               `json:"ring_bytes,omitempty"`
	RingPending   int               `json:"ring_pending,omitempty"`
	// Processes is the size of the process table; ProcessesEvicted counts
	// entries its bound pushed out.
	Processes        int    `json:"processes"`
	ProcessesEvicted uint64 `json:"processes_evicted"`
	// WriteErrors counts records the output sink failed to take.
	WriteErrors   uint64  `json:"write_errors"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	Version       string  `json:"version,omitempty"`
}

// HookState is one attach point.
type HookState struct {
	Name     string `json:"name"`
	Attach   string `json:"attach"`
	Attached bool   `json:"attached"`
	Error    string `json:"error,omitempty"`
}
