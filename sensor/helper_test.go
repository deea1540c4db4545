package sensor

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// The test binary doubles as the tool the privileged tests observe: run
// with helperEnv set, TestMain performs one action and exits instead of
// running tests. That keeps the suite self-contained (no gcc, python or
// nc needed), so it runs the same in a bare initramfs.
const helperEnv = "ARGUS_SENSOR_TEST_HELPER"

func runHelper(action string, args []string) int {
	var err error
	switch action {
	case "connect":
		// connect NETWORK ADDR [nonblock]
		err = helperConnect(args[0], args[1], len(args) > 2 && args[2] == "nonblock")
	case "wait-connect":
		// Block until a line arrives on stdin, then connect.
		if _, err = bufio.NewReader(os.Stdin).ReadString('\n'); err == nil {
			err = helperConnect(args[0], args[1], false)
		}
	case "connect-storm":
		// connect-storm ADDR N [pinned]: N blocking TCP connects, each
		// closed with RST; pinned makes them all from one thread on one
		// CPU.
		var n int
		if n, err = strconv.Atoi(args[1]); err == nil {
			err = helperStorm(args[0], n, len(args) > 2 && args[2] == "pinned")
		}
	case "connect-spread":
		// connect-spread ADDR N: N TCP connects to ADDR's port and the
		// N-1 after it: no two alike.
		var n int
		if n, err = strconv.Atoi(args[1]); err == nil {
			err = helperSpread(args[0], n)
		}
	case "connect-exec":
		// connect-exec ADDR: one TCP connect, then exec this binary to
		// make the same connect again from the same pid.
		if err = helperConnect("tcp", args[0], false); err == nil {
			self, _ := os.Executable()
			env := []string{helperEnv + "=connect"}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, helperEnv+"=") {
					env = append(env, kv)
				}
			}
			err = syscall.Exec(self, []string{self, "tcp", args[0]}, env)
		}
	case "dns-query":
		// dns-query udp|udp-sendto|tcp SERVER NAME: one query, its answer read.
		err = helperDNSQuery(args[0], args[1], args[2])
	case "memfd-exec":
		err = helperMemfdExec()
	case "exec-unlinked":
		err = helperExecUnlinked(args[0])
	case "map-exec":
		// map-exec PATH mmap|mprotect [N]: map PATH executable N times
		// (default 1), as a loader would, or readable then mprotect it.
		n := 1
		if len(args) > 2 {
			n, err = strconv.Atoi(args[2])
		}
		for i := 0; i < n && err == nil; i++ {
			err = helperMapExec(args[0], args[1] == "mprotect")
		}
	default:
		err = fmt.Errorf("unknown helper action %q", action)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// helperCmd returns a command that runs this test binary as a helper.
func helperCmd(bin, action string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+action)
	cmd.Stderr = os.Stderr
	return cmd
}

func sockaddr(ap netip.AddrPort) (int, unix.Sockaddr) {
	if ap.Addr().Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// helperConnect connects with raw syscalls so the test controls exactly
// which connect(2) calls happen. A refused or pending connect is not an
// error here: the test asserts the result from the sensor's record.
func helperConnect(network, addr string, nonblock bool) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	typ := unix.SOCK_STREAM
	if network == "udp" {
		typ = unix.SOCK_DGRAM
	}
	if nonblock {
		typ |= unix.SOCK_NONBLOCK
	}
	family, sa := sockaddr(ap)
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, sa)
	fmt.Fprintf(os.Stdout, "connect %s %s: %v\n", network, addr, err)
	return nil
}

func helperStorm(addr string, n int, pinned bool) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	if pinned {
		// Every connect from this thread, and the thread on the first
		// CPU it may run on: one CPU's fold slots see them all.
		runtime.LockOSThread()
		var allowed, set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &allowed); err != nil {
			return fmt.Errorf("read cpu affinity: %w", err)
		}
		cpu := 0
		for cpu < 1024 && !allowed.IsSet(cpu) {
			cpu++
		}
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("pin to cpu %d: %w", cpu, err)
		}
	}
	family, sa := sockaddr(ap)
	for i := 0; i < n; i++ {
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, sa); err != nil {
			unix.Close(fd)
			return fmt.Errorf("connect %d: %w", i, err)
		}
		// RST on close: no TIME_WAIT, so the ephemeral ports never run out.
		unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(fd)
	}
	return nil
}

func helperSpread(addr string, n int) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		family, sa := sockaddr(netip.AddrPortFrom(ap.Addr(), ap.Port()+uint16(i)))
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		unix.Connect(fd, sa) // refused, mostly: any result will do
		unix.Close(fd)
	}
	return nil
}

// helperMemfdExec executes a tiny ELF from a memfd: fileless execution.
func helperMemfdExec() error {
	elf := testutil.ExitELF(0)
	if elf == nil {
		return fmt.Errorf("no tiny ELF for this architecture")
	}
	fd, err := unix.MemfdCreate("argus-test", 0)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	if _, err := unix.Write(fd, elf); err != nil {
		return err
	}
	path := "/proc/self/fd/" + strconv.Itoa(fd)
	return syscall.Exec(path, []string{"memfd-payload"}, os.Environ())
}

// helperExecUnlinked opens path, unlinks it, and executes the open file.
func helperExecUnlinked(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syscall.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{"unlinked-payload"}, os.Environ())
}

// helperDNSQuery sends one A query for name to server (ip:port) and reads
// the answer: over a connected UDP socket, an unconnected one (sendto), or
// TCP with its length prefix.
func helperDNSQuery(mode, server, name string) error {
	q := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4242, RecursionDesired: true})
	q.StartQuestions()
	if err := q.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		return err
	}
	msg, err := q.Finish()
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	switch mode {
	case "udp":
		c, err := net.Dial("udp", server)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err = c.Read(buf)
		return err
	case "udp-sendto":
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		to, err := net.ResolveUDPAddr("udp", server)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(msg, to); err != nil {
			return err
		}
		_, _, err = c.ReadFrom(buf)
		return err
	case "tcp":
		c, err := net.Dial("tcp", server)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(msg)))); err != nil {
			return err
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return err
		}
		_, err = io.ReadFull(c, buf[:binary.BigEndian.Uint16(l[:])])
		return err
	}
	return fmt.Errorf("dns-query: unknown mode %q", mode)
}

// helperMapExec maps the first page of path executable: PROT_EXEC at mmap
// time, or PROT_READ followed by mprotect(PROT_READ|PROT_EXEC).
func helperMapExec(path string, viaMprotect bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	prot := unix.PROT_READ | unix.PROT_EXEC
	if viaMprotect {
		prot = unix.PROT_READ
	}
	b, err := unix.Mmap(int(f.Fd()), 0, 4096, prot, unix.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	if viaMprotect {
		if err := unix.Mprotect(b, unix.PROT_READ|unix.PROT_EXEC); err != nil {
			return fmt.Errorf("mprotect: %w", err)
		}
	}
	return unix.Munmap(b)
}
