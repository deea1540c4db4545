package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// NetPair is two network namespaces joined by a veth pair and nothing
// else: the client's only route leads to the server. It is how tests make
// "external" traffic without any packet leaving the machine. On these
// machines eth0 is 192.0.2.2/24 and 192.0.2.1 is the real gateway, so
// traffic to 192.0.2.1 must only ever come from inside Client.
type NetPair struct {
	Client, Server string // namespace names, for "ip netns exec"
}

// Addresses inside a NetPair.
const (
	ServerV4         = "192.0.2.1"
	ClientV4         = "192.0.2.2"
	ServerPrivateV4  = "10.9.0.1"
	ClientPrivateV4  = "10.9.0.2"
	ServerV6         = "2001:db8::1"
	ClientV6         = "2001:db8::2"
	netPairPrefixLen = 24
)

// NewNetPair creates the namespaces and removes them when t ends.
func NewNetPair(t testing.TB) *NetPair {
	t.Helper()
	RequireRoot(t)
	id := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	n := &NetPair{Client: "argus-cli-" + id, Server: "argus-srv-" + id}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", n.Client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Client).Run() })
	ip("netns", "add", n.Server)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Server).Run() })
	ip("-n", n.Client, "link", "add", "veth-c", "type", "veth", "peer", "name", "veth-s", "netns", n.Server)
	for ns, dev := range map[string]string{n.Client: "veth-c", n.Server: "veth-s"} {
		ip("-n", ns, "link", "set", "lo", "up")
		ip("-n", ns, "link", "set", dev, "up")
	}
	ip("-n", n.Client, "addr", "add", ClientV4+"/24", "dev", "veth-c")
	ip("-n", n.Client, "addr", "add", ClientPrivateV4+"/24", "dev", "veth-c")
	ip("-n", n.Client, "addr", "add", ClientV6+"/64", "dev", "veth-c", "nodad")
	ip("-n", n.Server, "addr", "add", ServerV4+"/24", "dev", "veth-s")
	ip("-n", n.Server, "addr", "add", ServerPrivateV4+"/24", "dev", "veth-s")
	ip("-n", n.Server, "addr", "add", ServerV6+"/64", "dev", "veth-s", "nodad")
	return n
}

// Listen opens a TCP listener inside the server namespace; accepted
// connections are closed at once. It returns the listener, closed when t
// ends.
func (n *NetPair) Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	err := n.inNamespace(n.Server, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, n.Server, err)
	}
	t.Cleanup(func() { l.Close() })
	go AcceptAndClose(l)
	return l
}

// AcceptAndClose accepts every connection to l and closes it at once,
// until l is closed: a server for tests that only need connects to
// succeed.
func AcceptAndClose(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// Command returns a command that runs inside the client namespace.
func (n *NetPair) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Client, name}, args...)...)
}

// inNamespace runs fn on a thread switched into namespace ns. A socket
// created there stays in ns for its lifetime, whatever thread uses it
// later. The thread is switched back before it is released.
func (n *NetPair) inNamespace(ns string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the wrong namespace: keep it locked so
		// the runtime retires it rather than reuse it.
		runtime.LockOSThread()
		return fmt.Errorf("return from %s: %w", ns, err)
	}
	return ferr
}
