package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// workloadResult is what a workload child prints on stdout.
type workloadResult struct {
	Ops     uint64  `json:"ops"`
	Seconds float64 `json:"seconds"`
	// Ports are the TCP ports the connect and mixed workloads used, so
	// their records can be told from others.
	Ports []uint16 `json:"ports,omitempty"`
	// Records is how many connection records the workload should give,
	// when that is not one per op (the UDP storms).
	Records uint64 `json:"records,omitempty"`
}

// workload names, in report order.
var allWorkloads = []string{"exec", "exec-container", "exec-script", "connect", "connect-distinct", "mixed", "hash", "udp-many", "udp-one"}

// kit is what the workloads run: prepared once by the harness.
type kit struct {
	dir      string
	mixed    string   // a copy of this binary in the temp dir: execs and connects
	hashPool []string // distinct binaries, each executed once per run
}

// prepareKit makes the mixed workload's tool and the hash workload's pool
// of distinct binaries: copies of /bin/true padded to poolSize bytes with
// random bytes, so each has its own digest and costs a real hash.
func prepareKit(dir string, poolFiles int, poolSize int64) (*kit, error) {
	k := &kit{dir: dir, mixed: filepath.Join(dir, "mixed-tool")}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.mixed, b, 0o755); err != nil {
		return nil, fmt.Errorf("write mixed tool: %w", err)
	}
	base, err := os.ReadFile("/bin/true")
	if err != nil {
		return nil, err
	}
	pad := make([]byte, max(0, poolSize-int64(len(base))))
	for i := range poolFiles {
		rand.Read(pad[:min(len(pad), 4096)])
		p := filepath.Join(dir, "hash-pool", "bin-"+strconv.Itoa(i))
		if i == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(p, append(base[:len(base):len(base)], pad...), 0o755); err != nil {
			return nil, fmt.Errorf("write hash pool: %w", err)
		}
		k.hashPool = append(k.hashPool, p)
	}
	return k, nil
}

// runWorkload is the child side: run one workload for d and report.
func runWorkload(name string, d time.Duration, loops int, args []string) error {
	var res workloadResult
	var err error
	switch name {
	case "exec":
		res, err = forkExecLoop(d, loops, func(int) (string, []string) { return "/bin/true", []string{"true"} })
	case "exec-script":
		// An interpreter with a script argument: each exec takes the
		// kernel's urgent path (a forced wakeup that ends the reader's
		// gathering), the cost of anchoring scripts at once.
		res, err = forkExecLoop(d, loops, func(int) (string, []string) { return "/bin/sh", []string{"sh", "/dev/null"} })
	case "connect":
		res, err = connectStorm(d, loops)
	case "connect-distinct":
		res, err = connectDistinct(d, loops)
	case "mixed":
		res, err = mixed(d, loops, args[0])
	case "hash":
		pool := args
		var next atomic.Int64
		res, err = forkExecLoop(d, loops, func(int) (string, []string) {
			i := next.Add(1) - 1
			if int(i) >= len(pool) {
				return "", nil
			}
			return pool[i], []string{"pool"}
		})
	case "udp-many":
		res, err = udpStorm(d, loops, true)
	case "udp-one":
		res, err = udpStorm(d, loops, false)
	case "connect-once":
		return connectOnce(args[0])
	default:
		err = fmt.Errorf("unknown workload %q", name)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// forkExecLoop forks and execs what next names, one loop per core, until d
// is up or next runs out.
func forkExecLoop(d time.Duration, loops int, next func(loop int) (string, []string)) (workloadResult, error) {
	var ops atomic.Uint64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	start := time.Now()
	for l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			for time.Now().Before(stop) {
				exe, argv := next(l)
				if exe == "" {
					return
				}
				pid, err := syscall.ForkExec(exe, argv, &syscall.ProcAttr{Env: os.Environ()})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if ws.ExitStatus() != 0 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("%s exited %d", exe, ws.ExitStatus()))
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("fork/exec loop: %w", err)
	}
	return workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds()}, nil
}

// listenAccepting opens a loopback listener whose connections are accepted
// and closed.
func listenAccepting() (net.Listener, *unix.SockaddrInet4, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	go testutil.AcceptAndClose(l)
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	return l, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: netip.MustParseAddr("127.0.0.1").As4()}, nil
}

// loopbackListener is a listening TCP socket on 127.0.0.1 that its own
// loop accepts from.
func loopbackListener() (int, *unix.SockaddrInet4, error) {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(lfd)
		return -1, nil, err
	}
	if err := unix.Listen(lfd, 16); err != nil {
		unix.Close(lfd)
		return -1, nil, err
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		unix.Close(lfd)
		return -1, nil, err
	}
	return lfd, sa.(*unix.SockaddrInet4), nil
}

// connectRST makes one loopback connection and closes it with RST (no
// TIME_WAIT, so ports never run out). With a listener (lfd >= 0) it first
// accepts the connection on the same thread. The connect storm does that
// to keep the accept queue at one: with a separate accepting goroutine on
// a saturated host the queue overflowed, SYNs were dropped, and the 1 s
// retransmit made the rate swing from 13k/s to 36k/s between identical
// runs.
func connectRST(sa *unix.SockaddrInet4, lfd int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return err
	}
	if lfd >= 0 {
		nfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			return err
		}
		unix.Close(nfd)
	}
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// connectStorm connects to loopback and closes, one loop per core, for d.
func connectStorm(d time.Duration, loops int) (workloadResult, error) {
	var ops atomic.Uint64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	var ports []uint16
	stop := time.Now().Add(d)
	start := time.Now()
	for range loops {
		lfd, sa, err := loopbackListener()
		if err != nil {
			return workloadResult{}, fmt.Errorf("connect storm: listen: %w", err)
		}
		ports = append(ports, uint16(sa.Port))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer unix.Close(lfd)
			runtime.LockOSThread()
			for time.Now().Before(stop) {
				if err := connectRST(sa, lfd); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("connect storm: %w", err)
	}
	return workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds(), Ports: ports}, nil
}

// mixed execs a binary in a temp dir that connects once to loopback: the
// launch, connect, hash-cache, trust and rule paths all run per op.
func mixed(d time.Duration, loops int, tool string) (workloadResult, error) {
	l, sa, err := listenAccepting()
	if err != nil {
		return workloadResult{}, err
	}
	defer l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", sa.Port)
	// Replace, not append: the first of duplicate variables wins.
	env := []string{workloadEnv + "=connect-once"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, workloadEnv+"=") {
			env = append(env, kv)
		}
	}
	var ops atomic.Uint64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	start := time.Now()
	for range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			for time.Now().Before(stop) {
				pid, err := syscall.ForkExec(tool, []string{tool, "0", "0", addr}, &syscall.ProcAttr{Env: env})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
				if ws.ExitStatus() != 0 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("mixed tool exited %d", ws.ExitStatus()))
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("mixed: %w", err)
	}
	return workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds(), Ports: []uint16{uint16(sa.Port)}}, nil
}

func connectOnce(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	return connectRST(&unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, -1)
}

// udpPort is where the UDP storms send: nobody listens there.
const udpPort = 9

// udpStorm sends datagrams with sendto from one unconnected UDP socket per
// loop, for d. With many, every datagram goes to a destination of its own
// (127.64.0.0/10, port udpPort), the worst case for the socket address
// hooks: one record each. Otherwise every datagram of a socket goes to one
// destination, 127.64.0.1: one record per socket, the rest counted in
// datagrams_folded.
func udpStorm(d time.Duration, loops int, many bool) (workloadResult, error) {
	var ops atomic.Uint64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	start := time.Now()
	payload := []byte("argus-bench")
	for loop := range loops {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return workloadResult{}, fmt.Errorf("udp storm: socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer unix.Close(fd)
			runtime.LockOSThread()
			sa := &unix.SockaddrInet4{Port: udpPort, Addr: [4]byte{127, 64, 0, 1}}
			// Each loop its own slice of the /10: destinations never repeat.
			next := uint32(loop) << 18
			for time.Now().Before(stop) {
				if many {
					next++
					sa.Addr = [4]byte{127, 64 | byte(next>>16&0x3f), byte(next >> 8), byte(next)}
				}
				if err := unix.Sendto(fd, payload, 0, sa); err != nil && err != unix.ECONNREFUSED {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("udp storm: %w", err)
	}
	res := workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds(), Ports: []uint16{udpPort}, Records: ops.Load()}
	if !many {
		res.Records = uint64(loops)
	}
	return res, nil
}

// distinctPeriod is how many destinations distinctAddr gives before it
// repeats: every address of 127.0.0.0/8 but those whose last byte is 0 or
// 255.
const distinctPeriod = 256 * 256 * 254

// distinctAddr is the i-th destination of the connect-distinct storm, in
// 127.0.0.0/8; it repeats only after distinctPeriod steps.
func distinctAddr(i uint64) [4]byte {
	i %= distinctPeriod
	n := i / 254
	return [4]byte{127, byte(n >> 8), byte(n), byte(i%254 + 1)}
}

// netnsOf is the network namespace of a /proc path (self, thread-self or
// a pid), as the kernel names it: "net:[4026531840]".
func netnsOf(proc string) (string, error) {
	return os.Readlink(filepath.Join("/proc", proc, "ns", "net"))
}

// privateLoopback checks that this process is in a network namespace of
// its own (workloadCmd starts connect-distinct with CLONE_NEWNET, so
// every thread is born in it), that the namespace has no interface but
// lo, and brings lo up. It returns the namespace.
func privateLoopback() (string, error) {
	self, err := netnsOf("self")
	if err != nil {
		return "", err
	}
	parent, err := netnsOf(strconv.Itoa(os.Getppid()))
	if err != nil {
		return "", err
	}
	if self == parent {
		return "", fmt.Errorf("not in a private network namespace (%s, the harness's own)", self)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" {
		return "", fmt.Errorf("the namespace has interfaces other than lo: %v", ifs)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return "", err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return "", fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return "", fmt.Errorf("lo up: %w", err)
	}
	return self, nil
}

// connectDistinct is the connect storm with a new destination every
// time, so that nothing folds repeated connections: each loop listens on
// 0.0.0.0 on a port of its own and connects to the addresses of
// 127.0.0.0/8 in turn (distinctAddr), from its own offset. It runs in a
// private network namespace whose only interface is lo, so none of it
// can leave the host; every loop thread checks that it is in it.
func connectDistinct(d time.Duration, loops int) (workloadResult, error) {
	ns, err := privateLoopback()
	if err != nil {
		return workloadResult{}, fmt.Errorf("connect-distinct: %w", err)
	}
	var ops atomic.Uint64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	var ports []uint16
	stop := time.Now().Add(d)
	start := time.Now()
	for l := range loops {
		lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return workloadResult{}, fmt.Errorf("connect-distinct: listen: %w", err)
		}
		if err := unix.Bind(lfd, &unix.SockaddrInet4{}); err != nil {
			return workloadResult{}, fmt.Errorf("connect-distinct: bind: %w", err)
		}
		if err := unix.Listen(lfd, 16); err != nil {
			return workloadResult{}, fmt.Errorf("connect-distinct: listen: %w", err)
		}
		sa, err := unix.Getsockname(lfd)
		if err != nil {
			return workloadResult{}, fmt.Errorf("connect-distinct: listen: %w", err)
		}
		port := sa.(*unix.SockaddrInet4).Port
		ports = append(ports, uint16(port))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer unix.Close(lfd)
			runtime.LockOSThread()
			inNS := func() bool {
				got, err := netnsOf("thread-self")
				if err != nil || got != ns {
					firstErr.CompareAndSwap(nil, fmt.Errorf("loop %d thread in network namespace %q, not %q: %v", l, got, ns, err))
					return false
				}
				return true
			}
			if !inNS() {
				return
			}
			dst := &unix.SockaddrInet4{Port: port}
			next := uint64(l) * distinctPeriod / uint64(loops)
			for time.Now().Before(stop) {
				dst.Addr = distinctAddr(next)
				next++
				if err := connectRST(dst, lfd); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("connect %v: %w", dst.Addr, err))
					return
				}
				ops.Add(1)
			}
			inNS()
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("connect-distinct: %w", err)
	}
	return workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds(), Ports: ports}, nil
}
