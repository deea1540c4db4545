package sensor

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// raw returns the bytes of a generated record struct, as the kernel lays
// them out.
func raw[T any](v *T) []byte {
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v)))
}

func comm16(s string) (c [16]int8) {
	for i := 0; i < len(s) && i < 15; i++ {
		c[i] = int8(s[i])
	}
	return c
}

func execRecord(path, cwd, args, filename string, flags execExecFlag) []byte {
	r := execExecEvent{
		Hdr:  execEventHeader{Type: uint32(KindExec), Tid: 42, Tgid: 42, Cpu: 1, TsNs: 1000},
		Task: execTaskInfo{StartNs: 900, Ppid: 1, Uid: 1000, Auid: 1000, Comm: comm16("tool")},
		Exe: execFileInfo{Ino: 77, Size: 129, MtimeNs: 5, CtimeNs: 6, Dev: 8<<20 | 1, Nlink: 1, Mode: 0o100755,
			Flags: uint32(execFileFlagFILE_DELETED)},
		ParentComm: comm16("bash"), Flags: uint32(flags), Argc: 3,
		PathLen: uint16(len(path)), CwdLen: uint16(len(cwd)), ArgsLen: uint16(len(args)), FilenameLen: uint16(len(filename)),
	}
	b := raw(&r)
	return append(append(append(append(b, path...), cwd...), args...), filename...)
}

func TestDecodeExec(t *testing.T) {
	b := execRecord("tool\x00bin\x00usr\x00", "", "tool\x00-v\x00\x00", "./tool\x00", 0)
	ev, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.(*Exec)
	if e.Path != "/usr/bin/tool" || e.Cwd != "/" || e.Filename != "./tool" {
		t.Errorf("path %q cwd %q filename %q", e.Path, e.Cwd, e.Filename)
	}
	if want := []string{"tool", "-v", ""}; !slices.Equal(e.Args, want) {
		t.Errorf("args %q, want %q", e.Args, want)
	}
	if e.Exe.Dev != unix.Mkdev(8, 1) || !e.Exe.Deleted || e.Exe.Memfd || e.Task.Comm != "tool" || e.ParentComm != "bash" {
		t.Errorf("exe %+v task %+v parent %q", e.Exe, e.Task, e.ParentComm)
	}
	if e.Kind != KindExec || e.TGID != 42 || e.BootNs != 1000 {
		t.Errorf("header %+v", e.Header)
	}
}

func TestDecodeExecTruncated(t *testing.T) {
	b := execRecord("tool\x00d\x00", "d\x00", "tool\x00abc", "", execExecFlagEXEC_PATH_TRUNCATED|execExecFlagEXEC_CWD_TRUNCATED|execExecFlagEXEC_ARGS_TRUNCATED)
	ev, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.(*Exec)
	if e.Path != ".../d/tool" || e.Cwd != ".../d" || !e.PathTruncated || !e.CwdTruncated || !e.ArgsTruncated {
		t.Errorf("path %q cwd %q flags %v %v %v", e.Path, e.Cwd, e.PathTruncated, e.CwdTruncated, e.ArgsTruncated)
	}
	if want := []string{"tool", "abc"}; !slices.Equal(e.Args, want) {
		t.Errorf("args %q, want %q (the last, cut, string kept)", e.Args, want)
	}
}

func TestDecodeConnect(t *testing.T) {
	for _, tc := range []struct {
		family uint16
		daddr  [16]byte
		want   string
	}{
		{unix.AF_INET, [16]byte{192, 0, 2, 1}, "192.0.2.1:4444"},
		{unix.AF_INET6, netip.MustParseAddr("2001:db8::1").As16(), "[2001:db8::1]:4444"},
		{unix.AF_INET6, netip.MustParseAddr("::ffff:192.0.2.1").As16(), "[::ffff:192.0.2.1]:4444"},
	} {
		var r connectConnectEvent
		r.Hdr.Type, r.Hdr.Tgid = uint32(KindConnect), 7
		r.Family, r.Protocol, r.SockType, r.Dport, r.Result = tc.family, unix.IPPROTO_TCP, unix.SOCK_STREAM, 4444, -int32(unix.EINPROGRESS)
		r.Daddr = tc.daddr
		r.Flags = uint16(execConnectFlagCONNECT_ADDR_FROM_SOCKET)
		ev, err := Decode(raw(&r))
		if err != nil {
			t.Fatal(err)
		}
		c := ev.(*Connect)
		if c.Dst.String() != tc.want || !c.AddrFromSocket || c.Result != -int32(unix.EINPROGRESS) || c.Src.IsValid() {
			t.Errorf("got dst %s from socket %v result %d src %v; want %s", c.Dst, c.AddrFromSocket, c.Result, c.Src, tc.want)
		}
	}
}

func TestDecodeLifecycle(t *testing.T) {
	var x lifecycleExitEvent
	x.Hdr.Type, x.Hdr.Tgid, x.StartNs, x.ExitCode = uint32(KindExit), 9, 123, 256
	ev, err := Decode(raw(&x))
	if err != nil || ev.(*Exit).ExitCode != 256 || ev.(*Exit).StartNs != 123 {
		t.Fatalf("exit: %+v %v", ev, err)
	}
	var f lifecycleForkEvent
	f.Hdr.Type, f.Hdr.Tgid, f.Ppid, f.StartNs, f.ParentStartNs = uint32(KindFork), 10, 9, 5, 4
	ev, err = Decode(raw(&f))
	if err != nil || ev.(*Fork).PPID != 9 || ev.(*Fork).ParentStartNs != 4 {
		t.Fatalf("fork: %+v %v", ev, err)
	}
	var c lifecycleCgroupEvent
	c.Hdr.Type, c.Id = uint32(KindCgroup), 4242
	path := "/machine.slice/libpod-abc.scope\x00"
	for i := range len(path) {
		c.Path[i] = int8(path[i])
	}
	c.PathLen = uint16(len(path))
	ev, err = Decode(raw(&c))
	if g, ok := ev.(*Cgroup); err != nil || !ok || g.ID != 4242 || g.Path != "/machine.slice/libpod-abc.scope" || g.PathTruncated {
		t.Fatalf("cgroup: %+v %v", ev, err)
	}
	c.Flags = uint16(lifecycleCgroupFlagCGROUP_PATH_TRUNCATED)
	if ev, err = Decode(raw(&c)); err != nil || !ev.(*Cgroup).PathTruncated {
		t.Fatalf("cgroup, truncated: %+v %v", ev, err)
	}
}

func TestDecodeRejectsBadRecords(t *testing.T) {
	full := execRecord("a\x00", "", "a\x00", "a\x00", 0)
	var conn connectConnectEvent
	conn.Hdr.Type, conn.Family = uint32(KindConnect), 99
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShortRecord},
		{"short header", make([]byte, headerSize-1), ErrShortRecord},
		{"unknown kind", raw(&execEventHeader{Type: 99}), ErrUnknownKind},
		{"exec header only", raw(&execEventHeader{Type: uint32(KindExec)}), ErrShortRecord},
		{"exec sections cut", full[:len(full)-1], ErrBadSection},
		{"exit short", raw(&execEventHeader{Type: uint32(KindExit)}), ErrShortRecord},
		{"fork short", raw(&execEventHeader{Type: uint32(KindFork)}), ErrShortRecord},
		{"cgroup short", raw(&execEventHeader{Type: uint32(KindCgroup)}), ErrShortRecord},
		{"cgroup path longer than its buffer", raw(&lifecycleCgroupEvent{Hdr: execEventHeader{Type: uint32(KindCgroup)}, PathLen: 513}), ErrBadSection},
		{"connect short", raw(&execEventHeader{Type: uint32(KindConnect)}), ErrShortRecord},
		{"connect bad family", raw(&conn), ErrBadAddrFamily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode(tc.b)
			if !errors.Is(err, tc.want) || ev != nil {
				t.Fatalf("got %v, %v; want %v", ev, err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(execRecord("tool\x00tmp\x00", "tmp\x00", "tool\x00x\x00", "./tool\x00", 0))
	var c connectConnectEvent
	c.Hdr.Type, c.Family = uint32(KindConnect), unix.AF_INET6
	f.Add(raw(&c))
	var x lifecycleExitEvent
	x.Hdr.Type = uint32(KindExit)
	f.Add(raw(&x))
	var d dnsDnsEvent
	d.Hdr.Type, d.Family, d.PayloadLen, d.Flags = uint32(KindDNS), unix.AF_INET, 12, uint16(dnsDnsFlagDNS_OWNER)
	f.Add(raw(&d))
	f.Add(raw(&d)[:dnsFixed+5])
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if (ev == nil) == (err == nil) {
			t.Fatalf("Decode returned event %v and error %v", ev, err)
		}
		if ev != nil && ev.Head().Kind.String() == "unknown" {
			t.Fatalf("decoded an unknown kind: %+v", ev)
		}
	})
}

// FuzzDecodeConnectRoundTrip writes a connect record from fuzzed fields
// and checks Decode gives them back.
func FuzzDecodeConnectRoundTrip(f *testing.F) {
	f.Add(false, []byte{192, 0, 2, 1}, []byte{10, 0, 0, 2}, uint16(443), uint16(51000), int32(-115), uint64(3), uint32(42))
	f.Add(true, netip.MustParseAddr("2001:db8::1").AsSlice(), []byte{}, uint16(22), uint16(0), int32(0), uint64(0), uint32(1))
	f.Fuzz(func(t *testing.T, v6 bool, daddr, saddr []byte, dport, sport uint16, result int32, fd uint64, tgid uint32) {
		var r connectConnectEvent
		r.Hdr.Type, r.Hdr.Tgid, r.Hdr.Tid = uint32(KindConnect), tgid, tgid
		r.Family, r.Dport, r.Sport, r.Result, r.Fd = unix.AF_INET, dport, sport, result, fd
		if v6 {
			r.Family = unix.AF_INET6
		}
		copy(r.Daddr[:], daddr)
		copy(r.Saddr[:], saddr)
		ev, err := Decode(raw(&r))
		if err != nil {
			t.Fatal(err)
		}
		c := ev.(*Connect)
		dst, src := netip.AddrFrom16(r.Daddr), netip.AddrFrom16(r.Saddr)
		if !v6 {
			dst, src = netip.AddrFrom4([4]byte(r.Daddr[:4])), netip.AddrFrom4([4]byte(r.Saddr[:4]))
		}
		wantSrc := netip.AddrPortFrom(src, sport)
		if sport == 0 && src.IsUnspecified() {
			wantSrc = netip.AddrPort{}
		}
		if c.Kind != KindConnect || c.TGID != tgid || c.Family != r.Family || c.Result != result || c.FD != fd ||
			c.Dst != netip.AddrPortFrom(dst, dport) || c.Src != wantSrc {
			t.Fatalf("decoded %+v from %+v", c, r)
		}
	})
}

func BenchmarkDecodeConnect(b *testing.B) {
	var r connectConnectEvent
	r.Hdr.Type, r.Family, r.Dport = uint32(KindConnect), unix.AF_INET, 443
	rec := raw(&r)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeExec(b *testing.B) {
	rec := execRecord("python3.11\x00bin\x00usr\x00", "work\x00user\x00home\x00", "python3\x00-c\x00print(1)\x00", "/usr/bin/python3\x00", 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodeSubmittedConnect(t *testing.T) {
	var r connectConnectEvent
	r.Hdr.Type, r.Hdr.Tgid, r.Hdr.Tid = uint32(KindConnect), 7, 9
	r.Family, r.Protocol, r.SockType, r.Dport = unix.AF_INET, unix.IPPROTO_UDP, unix.SOCK_DGRAM, 53
	r.Daddr = [16]byte{192, 0, 2, 1}
	r.Fd = NoFD
	r.Flags = uint16(execConnectFlagCONNECT_SUBMITTED | execConnectFlagCONNECT_COMPAT | execConnectFlagCONNECT_IO_URING |
		execConnectFlagCONNECT_OWNER_FROM_MM)
	r.Via = uint16(execConnectViaVIA_SENDMSG)
	ev, err := Decode(raw(&r))
	if err != nil {
		t.Fatal(err)
	}
	c := ev.(*Connect)
	if !c.Submitted || !c.Compat || !c.IOUring || !c.OwnerFromMM || c.KernelThread || c.AddrFromSocket ||
		c.Via != ViaSendmsg || c.FD != NoFD || c.Dst.String() != "192.0.2.1:53" {
		t.Errorf("decoded %+v", c)
	}
	for v, want := range map[Via]string{ViaConnect: "connect", ViaSocketcall: "socketcall", ViaSendmsg: "sendmsg",
		ViaFastOpen: "fastopen", ViaUnknown: "unknown", 99: "unknown"} {
		if v.String() != want {
			t.Errorf("Via(%d) = %q, want %q", v, v.String(), want)
		}
	}
}

func TestDecodeDNS(t *testing.T) {
	var r dnsDnsEvent
	r.Hdr.Type, r.Hdr.Tgid, r.Hdr.Tid, r.Hdr.TsNs = uint32(KindDNS), 42, 43, 99
	r.Family, r.Protocol, r.Sport, r.Dport = unix.AF_INET6, unix.IPPROTO_TCP, 53, 40000
	r.Saddr = netip.MustParseAddr("2001:db8::53").As16()
	r.Daddr = netip.MustParseAddr("2001:db8::2").As16()
	r.Flags = uint16(dnsDnsFlagDNS_OWNER | dnsDnsFlagDNS_TRUNCATED | dnsDnsFlagDNS_TCP)
	r.OwnerStartNs, r.Cookie, r.MsgLen, r.PayloadLen = 7, 8, 900, uint16(DNSPayloadMax)
	copy(r.OwnerComm[:], []int8{'d', 'i', 'g'})
	for i := range r.Payload {
		r.Payload[i] = byte(i)
	}
	ev, err := Decode(raw(&r))
	if err != nil {
		t.Fatal(err)
	}
	d := ev.(*DNS)
	if d.TGID != 42 || d.TID != 43 || d.BootNs != 99 || !d.Owner || d.OwnerStartNs != 7 || d.OwnerComm != "dig" ||
		d.Cookie != 8 || d.Protocol != unix.IPPROTO_TCP || d.Server.String() != "[2001:db8::53]:53" ||
		d.Client.String() != "[2001:db8::2]:40000" || !d.Truncated || d.MsgLen != 900 || len(d.Message) != DNSPayloadMax ||
		d.Message[511] != 255 {
		t.Errorf("decoded %+v", d)
	}
	// A payload longer than the record holds is refused.
	if _, err := Decode(raw(&r)[:dnsFixed+100]); !errors.Is(err, ErrBadSection) {
		t.Errorf("short payload: %v", err)
	}
	r.PayloadLen = uint16(DNSPayloadMax + 1)
	if _, err := Decode(raw(&r)); !errors.Is(err, ErrBadSection) {
		t.Errorf("oversized payload_len: %v", err)
	}
}

func TestDecodeLibrary(t *testing.T) {
	r := mmapLibraryEvent{Flags: uint32(mmapLibraryFlagLIBRARY_VIA_MPROTECT), PathLen: uint16(len("x.so\x00tmp\x00"))}
	r.Hdr.Type, r.Hdr.Tgid, r.Hdr.Tid = uint32(KindLibrary), 7, 8
	r.Task.StartNs, r.Task.Comm = 11, comm16("curl")
	r.File.Ino, r.File.Dev, r.File.Flags = 99, 8<<20|2, uint32(execFileFlagFILE_MEMFD)
	b := append(raw(&r), "x.so\x00tmp\x00"...)
	ev, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	l := ev.(*Library)
	if l.Path != "/tmp/x.so" || !l.Mprotect || l.PathTruncated || l.TGID != 7 || l.TID != 8 || l.Task.Comm != "curl" ||
		l.File.Ino != 99 || l.File.Dev != unix.Mkdev(8, 2) || !l.File.Memfd {
		t.Errorf("library %+v", l)
	}
	// A path section longer than the record, and a record shorter than
	// its struct, are refused, never read past.
	if _, err := Decode(b[:len(b)-1]); !errors.Is(err, ErrBadSection) {
		t.Errorf("cut path: %v, want ErrBadSection", err)
	}
	if _, err := Decode(b[:40]); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short record: %v, want ErrShortRecord", err)
	}
}

// TestDecodeLoaderEnv: NAME=value strings split at the first '=', with
// the kernel's per-variable truncation bits.
func TestDecodeLoaderEnv(t *testing.T) {
	env := "LD_PRELOAD=/tmp/a.so\x00LD_LIBRARY_PATH=/x=y\x00"
	b := execRecord("t\x00", "", "t\x00", "t\x00", execExecFlagEXEC_LOADER_ENV_TRUNCATED)
	var r execExecEvent
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r)), b)
	r.EnvLen, r.EnvTrunc = uint16(len(env)), 1<<1
	b = append(append(raw(&r), b[unsafe.Sizeof(r):]...), env...)
	ev, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.(*Exec)
	want := []EnvVar{{Name: "LD_PRELOAD", Value: "/tmp/a.so"}, {Name: "LD_LIBRARY_PATH", Value: "/x=y", Truncated: true}}
	if !slices.Equal(e.LoaderEnv, want) || !e.LoaderEnvTruncated {
		t.Errorf("loader env %+v (truncated %v), want %+v", e.LoaderEnv, e.LoaderEnvTruncated, want)
	}
}
