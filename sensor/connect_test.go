package sensor

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// listen opens a loopback listener of the given network and returns its
// address. Connections are accepted and closed.
func listen(t *testing.T, network, host string) netip.AddrPort {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go testutil.AcceptAndClose(l)
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns a loopback TCP address nobody listens on.
func closedPort(t *testing.T, host string) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close()
	return ap
}

func testBinary(t *testing.T) (string, *unix.Stat_t) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	return bin, &st
}

func TestConnectLoopback(t *testing.T) {
	s, h := startSensor(t)
	if s.LegacyConnect() {
		t.Log("this kernel lacks bpf_task_pt_regs: the legacy connect hooks are under test")
	}
	checkLoopback(t, h)
}

// TestLegacyConnectHooks runs the loopback and result checks against the
// pre-5.15 entry/exit hooks, on a second sensor, where the kernel would
// otherwise pick the single-program hook.
func TestLegacyConnectHooks(t *testing.T) {
	testutil.RequireRoot(t)
	s, err := New(Options{LegacyConnect: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close()
	}()
	if !s.LegacyConnect() {
		t.Fatal("LegacyConnect option ignored")
	}
	h := newHub(s.Events())
	checkLoopback(t, h)
	checkResults(t, h)
	st := assertNoLoss(t, s)
	if st.Read[KindConnect] == 0 {
		t.Error("legacy hooks reported no connects")
	}
}

func checkLoopback(t *testing.T, h *hub) {
	bin, st := testBinary(t)
	for _, tc := range []struct {
		network, host string
		family        uint16
		proto         uint16
		sockType      uint16
	}{
		{"tcp", "127.0.0.1", unix.AF_INET, unix.IPPROTO_TCP, unix.SOCK_STREAM},
		{"tcp", "::1", unix.AF_INET6, unix.IPPROTO_TCP, unix.SOCK_STREAM},
		{"udp", "127.0.0.1", unix.AF_INET, unix.IPPROTO_UDP, unix.SOCK_DGRAM},
		{"udp", "::1", unix.AF_INET6, unix.IPPROTO_UDP, unix.SOCK_DGRAM},
	} {
		t.Run(tc.network+"-"+tc.host, func(t *testing.T) {
			dst := listen(t, tc.network, tc.host)
			w := h.subscribe(connectTo(dst.Port()))
			defer w.stop()
			cmd := helperCmd(bin, "connect", tc.network, dst.String())
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			c := nextAttempt(t, w, "connect")
			if c.TGID != uint32(cmd.Process.Pid) {
				t.Errorf("pid %d, want the helper's %d", c.TGID, cmd.Process.Pid)
			}
			if c.Exe.Ino != st.Ino || c.Exe.Dev != st.Dev {
				t.Errorf("exe ino %d dev %d, want the test binary's %d %d", c.Exe.Ino, c.Exe.Dev, st.Ino, st.Dev)
			}
			if c.Dst != dst || c.Family != tc.family || c.Protocol != tc.proto || c.SockType != tc.sockType {
				t.Errorf("got dst %s family %d proto %d type %d, want %s %d %d %d",
					c.Dst, c.Family, c.Protocol, c.SockType, dst, tc.family, tc.proto, tc.sockType)
			}
			if c.Result != 0 || !c.AddrFromSocket {
				t.Errorf("result %d from socket %v, want 0 read back from the socket", c.Result, c.AddrFromSocket)
			}
			if c.Src.Port() == 0 || c.Src.Addr() != dst.Addr() {
				t.Errorf("source %s, want a bound port on %s", c.Src, dst.Addr())
			}
			if c.Task.PPID != uint32(os.Getpid()) || c.Task.StartNs == 0 {
				t.Errorf("task %+v", c.Task)
			}
		})
	}
}

func TestConnectResults(t *testing.T) {
	_, h := startSensor(t)
	checkResults(t, h)
}

func checkResults(t *testing.T, h *hub) {
	bin, _ := testBinary(t)
	for _, tc := range []struct {
		name     string
		dst      func(t *testing.T) netip.AddrPort
		nonblock bool
		want     int32
		fromSock bool
	}{
		{"refused-ipv4", func(t *testing.T) netip.AddrPort { return closedPort(t, "127.0.0.1") }, false, -int32(unix.ECONNREFUSED), false},
		{"refused-ipv6", func(t *testing.T) netip.AddrPort { return closedPort(t, "::1") }, false, -int32(unix.ECONNREFUSED), false},
		{"in-progress", func(t *testing.T) netip.AddrPort { return listen(t, "tcp", "127.0.0.1") }, true, -int32(unix.EINPROGRESS), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst(t)
			w := h.subscribe(connectTo(dst.Port()))
			defer w.stop()
			args := []string{"tcp", dst.String()}
			if tc.nonblock {
				args = append(args, "nonblock")
			}
			cmd := helperCmd(bin, "connect", args...)
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			c := nextAttempt(t, w, "connect")
			if c.Result != tc.want || c.AddrFromSocket != tc.fromSock || c.Dst != dst {
				t.Errorf("result %d, from socket %v, dst %s; want %d, %v, %s", c.Result, c.AddrFromSocket, c.Dst, tc.want, tc.fromSock, dst)
			}
		})
	}
}

func TestConnectFromDeletedBinary(t *testing.T) {
	_, h := startSensor(t)
	bin, _ := testBinary(t)
	victim := filepath.Join(realDir(t), "victim")
	src, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	dstf, err := os.OpenFile(victim, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dstf, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dstf.Close()
	var st unix.Stat_t
	if err := unix.Stat(victim, &st); err != nil {
		t.Fatal(err)
	}

	dst := listen(t, "tcp", "127.0.0.1")
	w := h.subscribe(connectTo(dst.Port()))
	defer w.stop()
	cmd := helperCmd(victim, "wait-connect", "tcp", dst.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "go\n")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	c := nextAttempt(t, w, "connect")
	if !c.Exe.Deleted || c.Exe.Ino != st.Ino || c.TGID != uint32(cmd.Process.Pid) {
		t.Errorf("deleted=%v ino=%d pid=%d, want deleted, ino %d, pid %d", c.Exe.Deleted, c.Exe.Ino, c.TGID, st.Ino, cmd.Process.Pid)
	}
}
