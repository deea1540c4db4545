package snapshot

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

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
