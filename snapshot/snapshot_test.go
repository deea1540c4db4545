package snapshot

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

func TestProcessesFindsSelfAndChild(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	procs, err := Processes("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var child *Process
	for i := range procs {
		if procs[i].PID == uint32(cmd.Process.Pid) {
			child = &procs[i]
		}
	}
	if child == nil {
		t.Fatal("child not found")
	}
	if !strings.HasSuffix(child.ExePath, "/sleep") || child.PPID != uint32(os.Getpid()) ||
		!slices.Equal(child.Args, []string{"sleep", "30"}) || !child.HaveExe || child.StartTicks == 0 ||
		child.StartNs != child.StartTicks*1e7 || child.Comm != "sleep" || child.NetNS == 0 {
		t.Errorf("child %+v", child)
	}
}

// TestConnections finds an outbound loopback connection and leaves out
// the accepted side of it.
func TestConnections(t *testing.T) {
	testutil.RequireRoot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case a := <-accepted:
		defer a.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no accept")
	}
	conns, err := Connections("")
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	var outbound, inbound int
	for _, cn := range conns {
		if cn.Src == local && cn.Dst == remote {
			outbound++
			if cn.Inode == 0 || cn.State != tcpEstablished {
				t.Errorf("outbound %+v", cn)
			}
		}
		if cn.Src == remote && cn.Dst == local {
			inbound++
		}
	}
	if outbound != 1 || inbound != 0 {
		t.Fatalf("outbound %d (want 1), accepted side %d (want 0)", outbound, inbound)
	}
	// The /proc/<pid>/net tables, which need no privilege, agree.
	pconns, err := ProcConnections("/proc", uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	var pout, pin int
	for _, cn := range pconns {
		if cn.Src == local && cn.Dst == remote {
			pout++
			if cn.Inode == 0 || cn.State != tcpEstablished || cn.Family != unix.AF_INET {
				t.Errorf("procfs outbound %+v", cn)
			}
		}
		if cn.Src == remote && cn.Dst == local {
			pin++
		}
	}
	if pout != 1 || pin != 0 {
		t.Fatalf("procfs: outbound %d (want 1), accepted side %d (want 0)", pout, pin)
	}
	owners := SocketOwners("/proc", []uint32{uint32(os.Getpid())})
	found := false
	for _, cn := range conns {
		if cn.Src == local && owners[cn.Inode] == uint32(os.Getpid()) {
			found = true
		}
	}
	if !found {
		t.Error("socket inode not mapped to this process")
	}
}

func TestParseDiagMsgRejectsShort(t *testing.T) {
	if _, ok := parseDiagMsg(make([]byte, sizeofDiagMsg-1), 6); ok {
		t.Fatal("short message accepted")
	}
}

func TestParseProcNetLine(t *testing.T) {
	c, ok := parseProcNetLine("   3: 0100007F:A1B2 0100000A:115C 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 20 4 30 10 -1", unix.AF_INET, unix.IPPROTO_TCP)
	if !ok || c.Src.String() != "127.0.0.1:41394" || c.Dst.String() != "10.0.0.1:4444" || c.State != tcpEstablished || c.UID != 1000 || c.Inode != 424242 {
		t.Fatalf("%+v %v", c, ok)
	}
	c, ok = parseProcNetLine("   0: 00000000000000000000000001000000:0016 B80D01200000000000000000D0000000:01BB 02 00000000:00000000 00:00000000 00000000     0        0 99 1 0", unix.AF_INET6, unix.IPPROTO_TCP)
	if !ok || c.Src.Addr().String() != "::1" || c.Dst.Addr().String() != "2001:db8::d0" || c.Dst.Port() != 443 || c.State != tcpSynSent {
		t.Fatalf("%+v %v", c, ok)
	}
	for _, bad := range []string{"", "sl local rem", "0: zz:1 00:00 01 0 0 0 0 0 1"} {
		if _, ok := parseProcNetLine(bad, unix.AF_INET, unix.IPPROTO_TCP); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}
