package sensor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// The escape implant (testdata/escape.c) makes connections the connect
// syscall hook cannot see. It is compiled here with gcc, 64-bit with
// liburing and 32-bit static; where no compiler is (the kernel matrix
// guests), ARGUS_IMPLANTS names a directory holding escape64 and escape32
// built beforehand.
var implants struct {
	once     sync.Once
	dir, err string
}

// implant returns a fresh copy of the named build ("escape64" or
// "escape32"), so its inode identifies its records.
func implant(t *testing.T, name string) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		// The implant's 32-bit build is x86's compat mode; the kernel
		// matrix builds it for the x86-64 guests only.
		t.Skipf("skipping: the escape implants are built for x86-64 only, not %s (docs/kernels.md)", runtime.GOARCH)
	}
	implants.once.Do(func() {
		if d := os.Getenv("ARGUS_IMPLANTS"); d != "" {
			implants.dir = d
			return
		}
		d, err := os.MkdirTemp("", "argus-implants-")
		if err != nil {
			implants.err = err.Error()
			return
		}
		implants.dir = d
		src, _ := filepath.Abs("testdata/escape.c")
		for _, b := range [][]string{
			{"-O2", "-static", "-DHAVE_LIBURING", "-o", filepath.Join(d, "escape64"), src, "-luring"},
			{"-O2", "-m32", "-static", "-o", filepath.Join(d, "escape32"), src},
		} {
			if out, err := exec.Command("gcc", b...).CombinedOutput(); err != nil {
				implants.err = fmt.Sprintf("gcc %s: %v: %s (needs gcc, gcc-multilib and liburing-dev)", strings.Join(b, " "), err, out)
				return
			}
		}
	})
	if implants.err != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(implants.err)
		}
		t.Skip(implants.err)
	}
	b, err := os.ReadFile(filepath.Join(implants.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runImplant runs bin with args and returns the connect records it made,
// up to its exit record: the ring is ordered, so every record of the
// process is read before that.
func runImplant(t *testing.T, h *hub, bin string, args ...string) (pid int, recs []*Connect) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	var started atomic.Int64
	w := h.subscribe(func(ev Event) bool {
		switch v := ev.(type) {
		case *Connect:
			return v.Exe.Ino == st.Ino && v.Exe.Dev == st.Dev
		case *Exit:
			return int64(v.TGID) == started.Load()
		}
		return false
	})
	defer w.stop()
	cmd := exec.Command(bin, args...)
	// It waits for a line on stdin, so its exit cannot come before the
	// watch knows its pid.
	cmd.Env = append(os.Environ(), "ESCAPE_WAIT_STDIN=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid = cmd.Process.Pid
	started.Store(int64(pid))
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	in.Close()
	var output strings.Builder
	io.Copy(&output, bufio.NewReader(out))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, output.String())
	}
	for {
		switch v := w.next(t, "exit of "+filepath.Base(bin)).(type) {
		case *Connect:
			recs = append(recs, v)
		case *Exit:
			return pid, recs
		}
	}
}

func describe(c *Connect) string {
	return fmt.Sprintf("tid %d tgid %d comm %q dst %s result %d submitted %v via %s compat %v io_uring %v owner_from_mm %v kthread %v",
		c.TID, c.TGID, c.Task.Comm, c.Dst, c.Result, c.Submitted, c.Via, c.Compat, c.IOUring, c.OwnerFromMM, c.KernelThread)
}

// wantOne asserts exactly one record, made by pid, to dst.
func wantOne(t *testing.T, pid int, recs []*Connect, dst netip.AddrPort) *Connect {
	t.Helper()
	for _, c := range recs {
		t.Logf("record: %s", describe(c))
	}
	if len(recs) != 1 {
		t.Fatalf("%d connect records, want exactly 1", len(recs))
	}
	c := recs[0]
	if int(c.TGID) != pid {
		t.Errorf("tgid %d, want the implant's pid %d", c.TGID, pid)
	}
	if c.KernelThread {
		t.Error("attributed to a kernel thread")
	}
	if c.Dst != dst {
		t.Errorf("dst %s, want %s", c.Dst, dst)
	}
	return c
}

// requireSockaddr starts the shared sensor and skips (fails under CI)
// where the socket address hooks are not attached.
func requireSockaddr(t *testing.T) (*Sensor, *hub) {
	t.Helper()
	s, h := startSensor(t)
	for _, hk := range s.Hooks() {
		if strings.HasPrefix(hk.Name, "sockaddr_") && !hk.Attached {
			if os.Getenv("CI") == "true" {
				t.Fatalf("hook %s not attached: %v", hk.Name, hk.Err)
			}
			t.Skipf("hook %s not attached: %v", hk.Name, hk.Err)
		}
	}
	return s, h
}

var loopbacks = []string{"127.0.0.1", "::1"}

func TestCompatConnect(t *testing.T) {
	_, h := requireSockaddr(t)
	bin := implant(t, "escape32")
	for _, mode := range []string{"connect", "socketcall"} {
		for _, host := range loopbacks {
			t.Run(mode+"-"+host, func(t *testing.T) {
				dst := listen(t, "tcp", host)
				pid, recs := runImplant(t, h, bin, mode, dst.Addr().String(), fmt.Sprint(dst.Port()))
				c := wantOne(t, pid, recs, dst)
				want := ViaConnect
				if mode == "socketcall" {
					want = ViaSocketcall
				}
				if !c.Compat || !c.Submitted || c.Via != want || c.IOUring {
					t.Errorf("want a submitted compat %s record: %s", want, describe(c))
				}
				if c.FD != NoFD || c.Result != 0 {
					t.Errorf("fd %d result %d: a submitted record knows neither", c.FD, c.Result)
				}
			})
		}
	}
}

// TestNativeConnectOneRecord: a 64-bit connect(2) passes the socket
// address hook too, and still gives one record, the syscall hook's, with
// its result.
func TestNativeConnectOneRecord(t *testing.T) {
	_, h := requireSockaddr(t)
	bin := implant(t, "escape64")
	for _, host := range loopbacks {
		t.Run(host, func(t *testing.T) {
			dst := listen(t, "tcp", host)
			pid, recs := runImplant(t, h, bin, "connect", dst.Addr().String(), fmt.Sprint(dst.Port()))
			c := wantOne(t, pid, recs, dst)
			if c.Submitted || c.Result != 0 || c.Via != ViaConnect || c.Compat || c.FD == NoFD {
				t.Errorf("want the syscall hook's record with result 0: %s", describe(c))
			}
		})
	}
}

// TestIOUringConnect proves who the hook sees for each way io_uring
// issues a connect, and that the record names the ring's owner. Since
// Linux 5.12 io-wq workers and the SQPOLL thread are threads of the
// owning process (tid differs, tgid is the owner); before, they were
// kernel threads borrowing its mm, attributed through mm->owner.
func TestIOUringConnect(t *testing.T) {
	_, h := requireSockaddr(t)
	bin := implant(t, "escape64")
	for _, mode := range []string{"inline", "async", "sqpoll"} {
		for _, host := range loopbacks {
			t.Run(mode+"-"+host, func(t *testing.T) {
				dst := listen(t, "tcp", host)
				pid, recs := runImplant(t, h, bin, "uring", mode, dst.Addr().String(), fmt.Sprint(dst.Port()))
				c := wantOne(t, pid, recs, dst)
				if !c.IOUring || !c.Submitted || c.Via != ViaConnect {
					t.Errorf("want a submitted io_uring connect: %s", describe(c))
				}
				if c.Result != 0 || c.FD != NoFD {
					t.Errorf("result %d fd %d: io_uring completes later; the record must not claim a result", c.Result, c.FD)
				}
				switch {
				case c.OwnerFromMM:
					t.Logf("%s: a kernel thread borrowing the owner's mm made it; attributed to mm->owner %d", mode, c.TGID)
				case int(c.TID) != pid:
					t.Logf("%s: io_uring thread %d (%s) of the owning process made it", mode, c.TID, c.Task.Comm)
				default:
					t.Logf("%s: the submitting thread itself made it", mode)
				}
				if mode == "inline" && int(c.TID) != pid {
					t.Errorf("inline submission: tid %d, want the submitter %d", c.TID, pid)
				}
			})
		}
	}
}

// TestDatagramsOneRecordPerDestination: 1,000 datagrams from one socket
// to two destinations give two records, whatever the send call.
func TestDatagramsOneRecordPerDestination(t *testing.T) {
	s, h := requireSockaddr(t)
	for _, build := range []string{"escape64", "escape32"} {
		bin := implant(t, build)
		for _, call := range []string{"sendto", "sendmsg", "sendmmsg"} {
			for _, host := range loopbacks {
				t.Run(build+"-"+call+"-"+host, func(t *testing.T) {
					a, b := listen(t, "udp", host), listen(t, "udp", host)
					before, err := s.Stats()
					if err != nil {
						t.Fatal(err)
					}
					pid, recs := runImplant(t, h, bin, "udp", call, "1000",
						a.Addr().String(), fmt.Sprint(a.Port()), b.Addr().String(), fmt.Sprint(b.Port()))
					for _, c := range recs {
						t.Logf("record: %s", describe(c))
					}
					if len(recs) != 2 {
						t.Fatalf("%d records for 1000 datagrams to 2 destinations, want 2", len(recs))
					}
					seen := map[netip.AddrPort]bool{}
					for _, c := range recs {
						seen[c.Dst] = true
						if int(c.TGID) != pid || c.Via != ViaSendmsg || !c.Submitted || c.Protocol != unix.IPPROTO_UDP {
							t.Errorf("want a datagram record from %d: %s", pid, describe(c))
						}
						if c.Compat != (build == "escape32") {
							t.Errorf("compat %v for %s", c.Compat, build)
						}
					}
					if !seen[a] || !seen[b] {
						t.Errorf("destinations %v, want %s and %s", seen, a, b)
					}
					after, err := s.Stats()
					if err != nil {
						t.Fatal(err)
					}
					if n := after.DatagramsFolded - before.DatagramsFolded; n < 998 {
						t.Errorf("%d datagrams folded, want at least 998", n)
					}
				})
			}
		}
	}
}

func TestFastOpen(t *testing.T) {
	_, h := requireSockaddr(t)
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_fastopen"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skipf("TCP Fast Open is off for clients (net.ipv4.tcp_fastopen %q, %v)", b, err)
	}
	bin := implant(t, "escape64")
	for _, host := range loopbacks {
		t.Run("sendto-"+host, func(t *testing.T) {
			dst := listen(t, "tcp", host)
			pid, recs := runImplant(t, h, bin, "tfo-sendto", dst.Addr().String(), fmt.Sprint(dst.Port()))
			c := wantOne(t, pid, recs, dst)
			if c.Via != ViaFastOpen || !c.Submitted {
				t.Errorf("want a submitted fastopen record: %s", describe(c))
			}
		})
		t.Run("connect-"+host, func(t *testing.T) {
			dst := listen(t, "tcp", host)
			pid, recs := runImplant(t, h, bin, "tfo-connect", dst.Addr().String(), fmt.Sprint(dst.Port()))
			c := wantOne(t, pid, recs, dst)
			if c.Via != ViaConnect || c.Submitted || c.Result != 0 {
				t.Errorf("TCP_FASTOPEN_CONNECT goes through connect(2): want the syscall hook's record: %s", describe(c))
			}
		})
	}
}

// TestSockaddrHooksOptional: where the socket address hooks (and the DNS
// response hook, on the same cgroup root) cannot attach the sensor starts
// with the rest and says why.
func TestSockaddrHooksOptional(t *testing.T) {
	testutil.RequireRoot(t)
	for _, root := range []string{"-", filepath.Join(t.TempDir(), "not-a-cgroup")} {
		s, err := New(Options{CgroupRoot: root, RingBytes: 1 << 22})
		if err != nil {
			t.Fatalf("cgroup root %q: %v", root, err)
		}
		n := 0
		for _, hk := range s.Hooks() {
			// The DNS response hook attaches to the cgroup root too.
			if !strings.HasPrefix(hk.Name, "sockaddr_") && hk.Name != "dns" {
				if !hk.Attached && !kernelLacks(s, hk) {
					t.Errorf("root %q: required hook %s not attached: %v", root, hk.Name, hk.Err)
				}
				continue
			}
			n++
			if hk.Attached || hk.Err == nil || !hk.Optional {
				t.Errorf("root %q: hook %+v: want optional, not attached, with a reason", root, hk)
			}
		}
		if n != 5 {
			t.Errorf("root %q: %d socket address and DNS hooks reported, want 5", root, n)
		}
		if on, err := s.DNSCapture(); on || err == nil {
			t.Errorf("root %q: DNS capture %v, %v: want off with a reason", root, on, err)
		}
		s.Close()
	}
}

// TestDNSHookOff: turned off in the configuration, the DNS response hook
// is not loaded or listed, and DNSCapture says why.
func TestDNSHookOff(t *testing.T) {
	testutil.RequireRoot(t)
	s, err := New(Options{RingBytes: 1 << 22, DNS: DNSOptions{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, hk := range s.Hooks() {
		if hk.Name == "dns" {
			t.Errorf("hook listed: %+v", hk)
		}
	}
	if on, err := s.DNSCapture(); on || !errors.Is(err, ErrDNSOff) {
		t.Errorf("DNS capture %v, %v; want off, %v", on, err, ErrDNSOff)
	}
}

func TestFindCgroup2(t *testing.T) {
	for _, tc := range []struct {
		mountinfo, want string
		ok              bool
	}{
		{"24 30 0:21 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n35 24 0:30 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified", true},
		{"35 24 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup", true},
		// A bind mount of a subtree is not the root.
		{"40 24 0:30 /system.slice /mnt/sub rw - cgroup2 cgroup2 rw\n41 24 0:30 / /mnt/my\\040root rw - cgroup2 cgroup2 rw\n", "/mnt/my root", true},
		{"24 30 0:21 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", "", false},
		{"", "", false},
		{"garbage without fields\n - \n", "", false},
	} {
		got, ok := findCgroup2(tc.mountinfo)
		if got != tc.want || ok != tc.ok {
			t.Errorf("findCgroup2(%q) = %q, %v; want %q, %v", tc.mountinfo, got, ok, tc.want, tc.ok)
		}
	}
	if _, err := cgroupRoot("-"); err == nil {
		t.Error(`cgroupRoot("-"): no error`)
	}
	if _, err := os.Stat("/proc/self/mountinfo"); err == nil {
		if p, err := cgroupRoot(""); err != nil && !errors.Is(err, ErrNoCgroup2) {
			t.Errorf("cgroupRoot: %v", err)
		} else if err == nil {
			var st unix.Statfs_t
			if err := unix.Statfs(p, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
				t.Errorf("cgroupRoot %s is not a cgroup2 mount (%v)", p, err)
			}
		}
	}
}

// TestLegacySockaddrHooks runs the socket address hooks as kernels
// without bpf_task_pt_regs for them get them: a 64-bit connect(2) is told
// apart by the legacy syscall hooks' stash, and still gives one record;
// on x86-64 the operation is named from the registers at the top of the
// kernel stack.
func TestLegacySockaddrHooks(t *testing.T) {
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
	for _, hk := range s.Hooks() {
		if !hk.Attached && !kernelLacks(s, hk) {
			t.Fatalf("hook %s not attached: %v", hk.Name, hk.Err)
		}
	}
	h := newHub(s.Events())
	for _, host := range loopbacks {
		dst := listen(t, "tcp", host)
		pid, recs := runImplant(t, h, implant(t, "escape64"), "connect", dst.Addr().String(), fmt.Sprint(dst.Port()))
		if c := wantOne(t, pid, recs, dst); c.Submitted || c.Result != 0 {
			t.Errorf("64-bit connect: want the syscall hook's record: %s", describe(c))
		}
		pid, recs = runImplant(t, h, implant(t, "escape32"), "connect", dst.Addr().String(), fmt.Sprint(dst.Port()))
		if c := wantOne(t, pid, recs, dst); !c.Submitted || !c.Compat || (runtime.GOARCH == "amd64" && c.Via != ViaConnect) {
			t.Errorf("32-bit connect: want a submitted compat connect record: %s", describe(c))
		}
		pid, recs = runImplant(t, h, implant(t, "escape32"), "socketcall", dst.Addr().String(), fmt.Sprint(dst.Port()))
		if c := wantOne(t, pid, recs, dst); !c.Submitted || !c.Compat || (runtime.GOARCH == "amd64" && c.Via != ViaSocketcall) {
			t.Errorf("32-bit socketcall: want a submitted compat socketcall record: %s", describe(c))
		}
		pid, recs = runImplant(t, h, implant(t, "escape64"), "uring", "inline", dst.Addr().String(), fmt.Sprint(dst.Port()))
		if c := wantOne(t, pid, recs, dst); !c.Submitted || (runtime.GOARCH == "amd64" && !c.IOUring) {
			t.Errorf("inline io_uring connect: want a submitted io_uring record: %s", describe(c))
		}
		pid, recs = runImplant(t, h, implant(t, "escape64"), "uring", "async", dst.Addr().String(), fmt.Sprint(dst.Port()))
		if c := wantOne(t, pid, recs, dst); !c.Submitted {
			t.Errorf("io_uring connect: want a submitted record: %s", describe(c))
		}
	}
	assertNoLoss(t, s)
}

// kernelLacks reports whether hk is missing only because this kernel
// cannot run it: the mprotect library hook needs bpf_find_vma (5.17+).
func kernelLacks(s *Sensor, hk Hook) bool {
	return hk.Name == "library_mprotect" && s.libErr == nil && s.libMprotect == nil && s.mprotectErr != nil
}
