package sensor

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Errors returned by Decode. They are wrapped with the record kind and sizes.
var (
	ErrShortRecord   = errors.New("short record")
	ErrUnknownKind   = errors.New("unknown record kind")
	ErrBadSection    = errors.New("section lengths exceed record")
	ErrBadAddrFamily = errors.New("unknown address family")
)

// load copies the fixed-size prefix of b into dst, a bpf2go-generated
// struct with C layout (structs.HostLayout). Copying rather than casting
// keeps the result independent of b's alignment and lifetime.
func load[T any](dst *T, b []byte) bool {
	n := int(unsafe.Sizeof(*dst))
	if len(b) < n {
		return false
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(dst)), n), b)
	return true
}

var (
	headerSize  = int(unsafe.Sizeof(execEventHeader{}))
	execSize    = int(unsafe.Sizeof(execExecEvent{}))
	exitSize    = int(unsafe.Sizeof(lifecycleExitEvent{}))
	forkSize    = int(unsafe.Sizeof(lifecycleForkEvent{}))
	connectSize = int(unsafe.Sizeof(connectConnectEvent{}))
	dnsFixed    = int(unsafe.Offsetof(dnsDnsEvent{}.Payload))
	librarySize = int(unsafe.Sizeof(mmapLibraryEvent{}))
	cgroupSize  = int(unsafe.Sizeof(lifecycleCgroupEvent{}))
)

// Decode parses one ring buffer record. It never panics: a record that is
// short, of an unknown kind, or whose section lengths do not fit returns an
// error naming the problem.
func Decode(b []byte) (Event, error) {
	var h execEventHeader
	if !load(&h, b) {
		return nil, fmt.Errorf("decode header: %d bytes, need %d: %w", len(b), headerSize, ErrShortRecord)
	}
	switch Kind(h.Type) {
	case KindExec:
		e, err := decodeExec(b)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return e, nil
	case KindConnect:
		c, err := decodeConnect(b)
		if err != nil {
			return nil, err
		}
		return c, nil
	case KindDNS:
		d, err := decodeDNS(b)
		if err != nil {
			return nil, err
		}
		return d, nil
	case KindLibrary:
		l, err := decodeLibrary(b)
		if err != nil {
			return nil, err
		}
		return l, nil
	case KindExit:
		var r lifecycleExitEvent
		if !load(&r, b) {
			return nil, shortErr(KindExit, len(b), exitSize)
		}
		return &Exit{Header: header(h), StartNs: r.StartNs, ExitCode: r.ExitCode}, nil
	case KindFork:
		var r lifecycleForkEvent
		if !load(&r, b) {
			return nil, shortErr(KindFork, len(b), forkSize)
		}
		return &Fork{Header: header(h), StartNs: r.StartNs, ParentStartNs: r.ParentStartNs, PPID: r.Ppid, ExecID: r.ExecId}, nil
	case KindCgroup:
		var r lifecycleCgroupEvent
		if !load(&r, b) {
			return nil, shortErr(KindCgroup, len(b), cgroupSize)
		}
		if int(r.PathLen) > len(r.Path) {
			return nil, fmt.Errorf("decode cgroup record: path of %d bytes, buffer %d: %w", r.PathLen, len(r.Path), ErrBadSection)
		}
		p := unsafe.Slice((*byte)(unsafe.Pointer(&r.Path[0])), len(r.Path))
		return &Cgroup{Header: header(h), ID: r.Id, Path: cString(p[:r.PathLen]),
			PathTruncated: lifecycleCgroupFlag(r.Flags)&lifecycleCgroupFlagCGROUP_PATH_TRUNCATED != 0}, nil
	}
	return nil, fmt.Errorf("decode record: type %d: %w", h.Type, ErrUnknownKind)
}

func shortErr(k Kind, have, need int) error {
	return fmt.Errorf("decode %s record: %d bytes, need %d: %w", k, have, need, ErrShortRecord)
}

func header(h execEventHeader) Header {
	return Header{Kind: Kind(h.Type), TID: h.Tid, TGID: h.Tgid, CPU: h.Cpu, BootNs: h.TsNs}
}

func decodeExec(b []byte) (*Exec, error) {
	var r execExecEvent
	if !load(&r, b) {
		return nil, shortErr(KindExec, len(b), execSize)
	}
	rest := b[execSize:]
	need := int(r.PathLen) + int(r.CwdLen) + int(r.ArgsLen) + int(r.FilenameLen) + int(r.EnvLen)
	if need > len(rest) {
		return nil, fmt.Errorf("decode exec record: sections need %d bytes, %d present: %w", need, len(rest), ErrBadSection)
	}
	pathB, rest := rest[:r.PathLen], rest[r.PathLen:]
	cwdB, rest := rest[:r.CwdLen], rest[r.CwdLen:]
	argsB, rest := rest[:r.ArgsLen], rest[r.ArgsLen:]
	fileB, rest := rest[:r.FilenameLen], rest[r.FilenameLen:]
	envB := rest[:r.EnvLen]

	flags := execExecFlag(r.Flags)
	e := &Exec{
		Header:             header(r.Hdr),
		Task:               task(r.Task),
		Exe:                file(r.Exe),
		Path:               joinComponents(pathB, flags&execExecFlagEXEC_PATH_TRUNCATED != 0),
		PathTruncated:      flags&execExecFlagEXEC_PATH_TRUNCATED != 0,
		Disconnected:       flags&execExecFlagEXEC_PATH_DISCONNECTED != 0,
		Detached:           flags&execExecFlagEXEC_PATH_DETACHED != 0,
		UsernsBind:         flags&execExecFlagEXEC_PATH_USERNS_BIND != 0,
		Cwd:                joinComponents(cwdB, flags&execExecFlagEXEC_CWD_TRUNCATED != 0),
		CwdTruncated:       flags&execExecFlagEXEC_CWD_TRUNCATED != 0,
		Args:               splitArgs(argsB),
		Argc:               r.Argc,
		ArgsTruncated:      flags&execExecFlagEXEC_ARGS_TRUNCATED != 0,
		ArgsUnreadable:     flags&execExecFlagEXEC_ARGS_UNREADABLE != 0,
		Filename:           cString(fileB),
		FilenameTruncated:  flags&execExecFlagEXEC_FILENAME_TRUNCATED != 0,
		ParentComm:         comm(r.ParentComm),
		LoaderEnv:          splitEnv(envB, r.EnvTrunc),
		LoaderEnvTruncated: flags&execExecFlagEXEC_LOADER_ENV_TRUNCATED != 0,
	}
	return e, nil
}

func decodeLibrary(b []byte) (*Library, error) {
	var r mmapLibraryEvent
	if !load(&r, b) {
		return nil, shortErr(KindLibrary, len(b), librarySize)
	}
	rest := b[librarySize:]
	if int(r.PathLen) > len(rest) {
		return nil, fmt.Errorf("decode library record: path needs %d bytes, %d present: %w", r.PathLen, len(rest), ErrBadSection)
	}
	flags := mmapLibraryFlag(r.Flags)
	trunc := flags&mmapLibraryFlagLIBRARY_PATH_TRUNCATED != 0
	return &Library{
		Header:        header(execEventHeader(r.Hdr)),
		Task:          task(execTaskInfo(r.Task)),
		File:          file(execFileInfo(r.File)),
		Path:          joinComponents(rest[:r.PathLen], trunc),
		PathTruncated: trunc,
		Disconnected:  flags&mmapLibraryFlagLIBRARY_PATH_DISCONNECTED != 0,
		Mprotect:      flags&mmapLibraryFlagLIBRARY_VIA_MPROTECT != 0,
	}, nil
}

func decodeConnect(b []byte) (*Connect, error) {
	var r connectConnectEvent
	if !load(&r, b) {
		return nil, shortErr(KindConnect, len(b), connectSize)
	}
	return connectFrom(&r)
}

// connectFrom converts a connect record, from the ring or from a fold
// entry's copy of one.
func connectFrom(r *connectConnectEvent) (*Connect, error) {
	c := &Connect{
		// The connect object's nested structs have the same layout as the
		// exec object's named ones; Go converts between them field by field.
		Header:         header(execEventHeader(r.Hdr)),
		Task:           task(execTaskInfo(r.Task)),
		Exe:            file(execFileInfo(r.Exe)),
		Result:         r.Result,
		FD:             r.Fd,
		NetNS:          r.Netns,
		Family:         r.Family,
		Protocol:       r.Protocol,
		SockType:       r.SockType,
		AddrFromSocket: flag(r.Flags, execConnectFlagCONNECT_ADDR_FROM_SOCKET),
		Submitted:      flag(r.Flags, execConnectFlagCONNECT_SUBMITTED),
		Compat:         flag(r.Flags, execConnectFlagCONNECT_COMPAT),
		IOUring:        flag(r.Flags, execConnectFlagCONNECT_IO_URING),
		OwnerFromMM:    flag(r.Flags, execConnectFlagCONNECT_OWNER_FROM_MM),
		KernelThread:   flag(r.Flags, execConnectFlagCONNECT_KERNEL_THREAD),
		Via:            Via(r.Via),
		UserIP:         r.UserIp,
	}
	switch {
	case flag(r.Flags, execConnectFlagCONNECT_CODE_ANONYMOUS):
		c.Code = CodeAnonymous
	case flag(r.Flags, execConnectFlagCONNECT_CODE_WRITTEN):
		c.Code = CodeWritten
	case flag(r.Flags, execConnectFlagCONNECT_CODE_UNKNOWN):
		c.Code = CodeUnknown
	}
	if flag(r.Flags, execConnectFlagCONNECT_EXE_RELABELED) {
		c.Relabeled, c.ExecDev, c.ExecIno = true, unix.Mkdev(r.ExecDev>>20, r.ExecDev&0xfffff), r.ExecIno
	}
	var dst, src netip.Addr
	switch r.Family {
	case unix.AF_INET:
		dst = netip.AddrFrom4([4]byte(r.Daddr[:4]))
		src = netip.AddrFrom4([4]byte(r.Saddr[:4]))
	case unix.AF_INET6:
		dst = netip.AddrFrom16(r.Daddr)
		src = netip.AddrFrom16(r.Saddr)
	default:
		return nil, fmt.Errorf("decode connect record: family %d: %w", r.Family, ErrBadAddrFamily)
	}
	c.Dst = netip.AddrPortFrom(dst, r.Dport)
	if r.Sport != 0 || !src.IsUnspecified() {
		c.Src = netip.AddrPortFrom(src, r.Sport)
	}
	return c, nil
}

// decodeDNS reads a DNS record: the fixed part, then payload_len bytes of
// the message. The ring holds the whole reserved struct; a shorter record
// is accepted as long as it holds the payload it announces.
func decodeDNS(b []byte) (*DNS, error) {
	if len(b) < dnsFixed {
		return nil, shortErr(KindDNS, len(b), dnsFixed)
	}
	var r dnsDnsEvent
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&r)), dnsFixed), b)
	n := int(r.PayloadLen)
	if n > DNSPayloadMax || dnsFixed+n > len(b) {
		return nil, fmt.Errorf("decode dns record: payload of %d bytes, %d present: %w", n, len(b)-dnsFixed, ErrBadSection)
	}
	f := dnsDnsFlag(r.Flags)
	d := &DNS{
		Header:    header(execEventHeader(r.Hdr)),
		Owner:     f&dnsDnsFlagDNS_OWNER != 0,
		Cookie:    r.Cookie,
		Protocol:  r.Protocol,
		Message:   append([]byte(nil), b[dnsFixed:dnsFixed+n]...),
		MsgLen:    int(r.MsgLen),
		Truncated: f&dnsDnsFlagDNS_TRUNCATED != 0,
	}
	if d.Owner {
		d.OwnerStartNs = r.OwnerStartNs
		d.OwnerComm = comm(r.OwnerComm)
	}
	var srv, cli netip.Addr
	switch r.Family {
	case unix.AF_INET:
		srv = netip.AddrFrom4([4]byte(r.Saddr[:4]))
		cli = netip.AddrFrom4([4]byte(r.Daddr[:4]))
	case unix.AF_INET6:
		srv = netip.AddrFrom16(r.Saddr)
		cli = netip.AddrFrom16(r.Daddr)
	default:
		return nil, fmt.Errorf("decode dns record: family %d: %w", r.Family, ErrBadAddrFamily)
	}
	d.Server = netip.AddrPortFrom(srv, r.Sport)
	d.Client = netip.AddrPortFrom(cli, r.Dport)
	return d, nil
}

func flag(flags uint16, f execConnectFlag) bool { return uint32(flags)&uint32(f) != 0 }

func task(t execTaskInfo) Task {
	return Task{
		StartNs: t.StartNs, CgroupID: t.CgroupId, PPID: t.Ppid,
		UID: t.Uid, GID: t.Gid, EUID: t.Euid, EGID: t.Egid, AUID: t.Auid,
		Comm: comm(t.Comm), ExecID: t.ExecId,
	}
}

func file(fi execFileInfo) File {
	f := execFileFlag(fi.Flags)
	return File{
		// The kernel's dev_t is major<<20|minor; stat(2) reports the
		// glibc encoding, which unix.Mkdev produces.
		Dev:           unix.Mkdev(fi.Dev>>20, fi.Dev&0xfffff),
		Ino:           fi.Ino,
		Size:          fi.Size,
		MtimeNs:       int64(fi.MtimeNs),
		CtimeNs:       int64(fi.CtimeNs),
		Nlink:         fi.Nlink,
		Mode:          fi.Mode,
		UID:           fi.Uid,
		FSMagic:       fi.FsMagic,
		Deleted:       f&execFileFlagFILE_DELETED != 0,
		Memfd:         f&execFileFlagFILE_MEMFD != 0,
		InternalMount: f&execFileFlagFILE_INTERNAL_MOUNT != 0,
	}
}

func comm(c [16]int8) string {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), len(c))
	return cString(b)
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// TruncatedPrefix starts a path whose top components the kernel could not
// fit: what follows is the tail of the path, not an absolute path.
const TruncatedPrefix = "..."

// joinComponents turns "leaf\0parent\0...\0" into "/.../parent/leaf", or
// ".../parent/leaf" when the walk was truncated before the root.
func joinComponents(b []byte, truncated bool) string {
	var sb strings.Builder
	if truncated {
		sb.WriteString(TruncatedPrefix)
	}
	if len(b) == 0 {
		sb.WriteByte('/')
		return sb.String()
	}
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	sb.Grow(len(b) + 1 + len(TruncatedPrefix))
	for i := len(parts) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.Write(parts[i])
	}
	return sb.String()
}

// splitEnv splits NUL-terminated NAME=value strings; bit i of trunc marks
// the i-th value as cut.
func splitEnv(b []byte, trunc uint16) []EnvVar {
	var out []EnvVar
	for i, s := range splitArgs(b) {
		name, value, _ := strings.Cut(s, "=")
		out = append(out, EnvVar{Name: name, Value: value, Truncated: i < 16 && trunc&(1<<i) != 0})
	}
	return out
}

// splitArgs splits NUL-terminated argv strings. A final string without its
// NUL (cut by the bound) is kept as it is.
func splitArgs(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return args
}
