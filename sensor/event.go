package sensor

import (
	"net/netip"
)

// Kind is the type of a kernel record.
type Kind uint32

// The record kinds, as numbered in bpf/include/events.h.
const (
	KindExec    Kind = Kind(execEventTypeEVENT_EXEC)
	KindExit    Kind = Kind(execEventTypeEVENT_EXIT)
	KindFork    Kind = Kind(execEventTypeEVENT_FORK)
	KindConnect Kind = Kind(execEventTypeEVENT_CONNECT)
	KindDNS     Kind = Kind(execEventTypeEVENT_DNS)
	KindLibrary Kind = Kind(execEventTypeEVENT_LIBRARY)
	KindCgroup  Kind = Kind(execEventTypeEVENT_CGROUP)
)

func (k Kind) String() string {
	switch k {
	case KindExec:
		return "exec"
	case KindExit:
		return "exit"
	case KindFork:
		return "fork"
	case KindConnect:
		return "connect"
	case KindDNS:
		return "dns"
	case KindLibrary:
		return "library"
	case KindCgroup:
		return "cgroup"
	}
	return "unknown"
}

// Event is one decoded kernel record: *Exec, *Exit, *Fork, *Connect,
// *DNS, *Library or *Cgroup.
type Event interface {
	Head() *Header
}

// Header is common to every record.
type Header struct {
	Kind Kind
	TID  uint32 // thread id (the kernel's pid)
	TGID uint32 // process id
	CPU  uint32
	// BootNs is CLOCK_BOOTTIME in nanoseconds when the record was built.
	BootNs uint64
	// queued is what the record counts against Options.QueueBytes until
	// Release; share, when not 0, is one more than the slot of
	// Sensor.shares it counts in until then.
	queued int64
	share  uint16
}

// Head returns the header; it makes every record type an Event.
func (h *Header) Head() *Header { return h }

// Task is the process a record is about, as the kernel saw it.
type Task struct {
	// StartNs is the thread group leader's start time, CLOCK_BOOTTIME ns.
	// Together with TGID it identifies a process across pid reuse.
	StartNs  uint64
	CgroupID uint64
	PPID     uint32
	UID      uint32
	GID      uint32
	EUID     uint32
	EGID     uint32
	AUID     uint32 // login uid; 0xffffffff when unset
	Comm     string
	// ExecID is the kernel's count of execs in the task's history
	// (task->self_exec_id): raised by each exec, copied by fork and clone,
	// changed by nothing else. Two records of one process with the same
	// ExecID saw the same program image, so an executable that differs
	// between them was swapped in without an exec (prctl PR_SET_MM_MAP or
	// PR_SET_MM_EXE_FILE, which relabel /proc/PID/exe).
	ExecID uint64
}

// File is a file's identity as the kernel saw it.
type File struct {
	// Dev is the device in the encoding stat(2) reports as st_dev.
	Dev     uint64
	Ino     uint64
	Size    int64
	MtimeNs int64
	CtimeNs int64
	Nlink   uint32
	Mode    uint32
	UID     uint32
	FSMagic uint32
	// Deleted means the file was unlinked (nlink 0 or unhashed dentry).
	Deleted bool
	// Memfd means a memfd_create(2) file: fileless execution.
	Memfd bool
	// InternalMount means the file is on a kernel-internal mount that no
	// mount namespace can reach by path.
	InternalMount bool
}

// Exec is a successful execve: the new program image of a process.
type Exec struct {
	Header
	Task Task
	Exe  File
	// Path is the executable's absolute path, resolved in the kernel from its
	// dentry up to the root of the process's mount namespace.
	Path          string
	PathTruncated bool
	// Disconnected means the path walk ended at a pseudo or unlinked root
	// (memfd), so Path is a name, not a location.
	Disconnected bool
	// Detached means the path walk ended at a mount in no namespace: a
	// mount lazily unmounted (umount -l) before the exec, so the path
	// ("/implant") is from that mount's own root and names nothing.
	Detached bool
	// UsernsBind means the executable's mount shows a subtree or a single
	// file of its filesystem, in a mount namespace a non-initial user
	// namespace owns: `unshare -rm; mount --bind /tmp/x /usr/bin/foo`.
	UsernsBind    bool
	Cwd           string
	CwdTruncated  bool
	Args          []string
	Argc          int32
	ArgsTruncated bool
	// ArgsUnreadable means argv could not be copied from the new image.
	ArgsUnreadable bool
	// Filename is the name passed to execve: relative, /dev/fd/N, or the
	// script for an interpreted program.
	Filename          string
	FilenameTruncated bool
	ParentComm        string
	// LoaderEnv are the loader variables (Options.LoaderEnv) of the
	// environment the program was executed with, in their order there.
	LoaderEnv []EnvVar
	// LoaderEnvTruncated: the environment was not scanned to its end, or
	// had more loader variables than the kernel keeps.
	LoaderEnvTruncated bool
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name, Value string
	// Truncated: the value was cut at the kernel's bound.
	Truncated bool
}

// Library is a file a process mapped executable that is not its main
// executable: a shared library the loader mapped (LD_PRELOAD included), one
// dlopen(3) loaded, or any file mapped PROT_EXEC. The kernel reports each
// (process, file) once, and not at all a file TrustLibrary vouched for.
type Library struct {
	Header
	Task Task
	File File
	// Path is the file's absolute path, walked in the kernel as for Exec.
	Path          string
	PathTruncated bool
	Disconnected  bool
	// Mprotect means the mapping was made executable by mprotect(2), not
	// mapped so by mmap(2).
	Mprotect bool
}

// Exit is the death of a whole process (its last thread).
type Exit struct {
	Header
	StartNs  uint64
	ExitCode int32
}

// Fork is the creation of a new process (not a thread). TID and TGID in the
// header are the child's.
type Fork struct {
	Header
	StartNs       uint64
	ParentStartNs uint64
	PPID          uint32
	ExecID        uint64 // the child's Task.ExecID, its parent's at the fork
}

// Cgroup is the creation of a cgroup v2 directory. It precedes, in the
// ring, every record of a process that runs in it.
type Cgroup struct {
	Header // the task that created it
	// ID is the cgroup's id, as Task.CgroupID carries it: the inode number
	// of its directory.
	ID uint64
	// Path is the cgroup's path from the root of the v2 hierarchy, as the
	// "0::" line of /proc/<pid>/cgroup shows it.
	Path          string
	PathTruncated bool
}

// Connect is an outbound connection attempt on an IPv4 or IPv6 socket:
// a connect(2) with its result from the syscall hooks, or one the socket
// address hooks saw being submitted (Submitted), however it was issued.
type Connect struct {
	Header
	Task Task
	Exe  File
	// Result is the syscall's return: 0 or a negative errno (-EINPROGRESS
	// for a non-blocking connect under way). A call interrupted by a signal
	// shows a kernel restart code (-ERESTARTSYS, -512 to -516); see
	// IsRestart.
	Result int32
	// FD is the socket's descriptor in the calling process.
	FD       uint64
	NetNS    uint32
	Family   uint16 // unix.AF_INET or unix.AF_INET6
	Protocol uint16 // IPPROTO_*
	SockType uint16 // unix.SOCK_STREAM, unix.SOCK_DGRAM, ...
	Dst      netip.AddrPort
	Src      netip.AddrPort
	// AddrFromSocket means Dst was read back from the kernel socket after
	// the call, not from the caller's buffer.
	AddrFromSocket bool

	// Submitted means the record was made by a socket address hook before
	// the connection was attempted: Result is 0 but the outcome is not
	// known, and FD is NoFD.
	Submitted bool
	// Via is the operation that made it.
	Via Via
	// Compat means a 32-bit (compat or x32) syscall made it.
	Compat bool
	// IOUring means it was issued through io_uring: inline from
	// io_uring_enter, from an io-wq worker or from an SQPOLL thread.
	IOUring bool
	// OwnerFromMM means a kernel thread made it on a process's behalf
	// (io_uring before Linux 5.12) and the header and Task name the
	// process owning the thread's borrowed mm.
	OwnerFromMM bool
	// KernelThread means a kernel thread with no process behind it made it.
	KernelThread bool

	// Relabeled means the kernel found that the process's executable (Exe)
	// is not the file its last exec loaded, and that no exec came since:
	// the process relabelled itself (prctl PR_SET_MM_MAP or
	// PR_SET_MM_EXE_FILE). ExecDev and ExecIno name the executed file.
	// Told from a per-process note the exec program writes before it sends
	// the exec record, so it holds when that record was lost; a process
	// exec'd before the sensor started, or while the note map was full
	// (Stats.ExecFilesFull), is not checked.
	Relabeled bool
	ExecDev   uint64 // encoded as File.Dev
	ExecIno   uint64

	// Code says where the code that made the call lives, from the
	// mapping holding the syscall's user instruction pointer (the connect
	// tracepoint, Linux 5.17+): CodeFile (a file's text as mapped, or not
	// looked at), CodeAnonymous (memory no file backs: shellcode,
	// injected or unpacked), CodeWritten (a file's text written to since
	// it was mapped: code injected over it), CodeUnknown (the lookup
	// failed: the address space's lock was held; or written text in a
	// process with uprobes, whose breakpoints are writes too).
	Code Code
	// UserIP is the user instruction pointer of the system call, from the
	// socket address hooks (which cannot look up its mapping, so Code is
	// CodeFile there): userspace finds the mapping instead. 0 when not
	// known: io_uring, kernel threads, the connect tracepoint (which sets
	// Code itself), the legacy hooks.
	UserIP uint64

	// Folded, when not 0, makes this a summary: that many attempts
	// identical to an earlier record (same process, address space,
	// network namespace, destination, protocol and result) were counted
	// in the kernel instead of sent (Options.FoldInterval). The rest of
	// the record is the earlier one's; BootNs is the last folded
	// attempt's time, FoldFirstNs the first one's.
	Folded      uint64
	FoldFirstNs uint64
	FoldLastNs  uint64
}

// Code is where the code behind a connect record lives (Connect.Code).
type Code uint8

const (
	CodeFile Code = iota
	CodeAnonymous
	CodeWritten
	CodeUnknown
)

func (c Code) String() string {
	switch c {
	case CodeAnonymous:
		return "anonymous_memory"
	case CodeWritten:
		return "written_file_text"
	case CodeUnknown:
		return "unknown"
	}
	return ""
}

// NoFD is Connect.FD when the descriptor is not known.
const NoFD = ^uint64(0)

// Via is the operation behind a connection record.
type Via uint16

// The operations, as numbered in bpf/include/events.h (enum connect_via).
const (
	ViaConnect    Via = Via(execConnectViaVIA_CONNECT)
	ViaSocketcall Via = Via(execConnectViaVIA_SOCKETCALL)
	ViaSendmsg    Via = Via(execConnectViaVIA_SENDMSG)
	ViaFastOpen   Via = Via(execConnectViaVIA_FASTOPEN)
	ViaUnknown    Via = Via(execConnectViaVIA_UNKNOWN)
)

func (v Via) String() string {
	switch v {
	case ViaConnect:
		return "connect"
	case ViaSocketcall:
		return "socketcall"
	case ViaSendmsg:
		return "sendmsg"
	case ViaFastOpen:
		return "fastopen"
	}
	return "unknown"
}

// IsRestart reports whether a connect result is one of the kernel's
// internal restart codes (-ERESTARTSYS to -ERESTART_RESTARTBLOCK): the call
// was interrupted by a signal and is normally restarted as the same call,
// which then produces its own record.
func IsRestart(result int32) bool { return result <= -512 && result >= -516 }

// DNS is a DNS response delivered to a socket on the host, copied by the
// DNS response hook up to DNSPayloadMax bytes. Its header's TID and TGID
// name the process that owns the receiving socket when Owner is set
// (the socket address hooks saw it send to port 53), and are 0 when not.
type DNS struct {
	Header
	// Owner means the receiving socket's owner is known: TGID, TID,
	// OwnerStartNs and OwnerComm describe it.
	Owner        bool
	OwnerStartNs uint64
	OwnerComm    string
	// Cookie is the receiving socket's cookie.
	Cookie   uint64
	Protocol uint16 // unix.IPPROTO_UDP or unix.IPPROTO_TCP
	// Server is the responder's address and port (53); Client the
	// receiving socket's.
	Server netip.AddrPort
	Client netip.AddrPort
	// Message is the DNS message as delivered, up to DNSPayloadMax
	// bytes; Truncated means MsgLen was longer and the rest was cut.
	Message   []byte
	MsgLen    int
	Truncated bool
}

// DNSPayloadMax is how much of a DNS message the hook copies.
const DNSPayloadMax = len(dnsDnsEvent{}.Payload)
