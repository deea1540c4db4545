package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// workloadResult is what a workload child prints on stdout.
type workloadResult struct {
	Ops     uint64  `json:"ops"`
	Seconds float64 `json:"seconds"`
	// Port is the TCP port the connect workload used, so its records can
	// be told from others.
	Port uint16 `json:"port,omitempty"`
	// Exe is the executable the exec workload ran.
	Exe string `json:"exe,omitempty"`
}

// runWorkload is the child side: run one workload for d and report.
func runWorkload(name string, d time.Duration, loops int) error {
	var res workloadResult
	var err error
	switch name {
	case "exec":
		res, err = execStorm(d, loops)
	case "connect":
		res, err = connectStorm(d, loops)
	default:
		err = fmt.Errorf("unknown workload %q", name)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// execStorm forks and execs /bin/true, one loop per core, as fast as it
// can, for d.
func execStorm(d time.Duration, loops int) (workloadResult, error) {
	const exe = "/bin/true"
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
				pid, err := syscall.ForkExec(exe, []string{"true"}, &syscall.ProcAttr{})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("exec storm: %w", err)
	}
	return workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds(), Exe: exe}, nil
}

// connectStorm makes loopback TCP connections and closes them with RST
// (no TIME_WAIT, so ports never run out), one loop per core, for d. A
// goroutine accepts and closes the server side.
func connectStorm(d time.Duration, loops int) (workloadResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return workloadResult{}, err
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: netip.MustParseAddr("127.0.0.1").As4()}
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
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if err := unix.Connect(fd, sa); err != nil {
					unix.Close(fd)
					firstErr.CompareAndSwap(nil, err)
					return
				}
				unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
				unix.Close(fd)
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return workloadResult{}, fmt.Errorf("connect storm: %w", err)
	}
	return workloadResult{Ops: ops.Load(), Seconds: time.Since(start).Seconds(), Port: ap.Port()}, nil
}
