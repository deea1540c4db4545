package sensor

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestRelabelLostExec: an implant whose exec record is lost (here the
// Events queue is full when it starts; a flooded ring loses it the same
// way) relabels itself as true's file without an exec and then
// connects, over TCP (the connect tracepoint) and UDP (the socket address
// hooks), or has a child it forks afterwards connect. Userspace, with no exec record, would take the label for the
// executable; the kernel must mark the connect relabelled and name the
// executed file. A process that did not relabel carries no mark. With the
// modern hooks and with the legacy ones (Linux 5.8 to 5.14).
func TestRelabelLostExec(t *testing.T) {
	testutil.RequireRoot(t)
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "modern", true: "legacy"}[legacy], func(t *testing.T) {
			relabelLostExec(t, legacy)
		})
	}
}

func relabelLostExec(t *testing.T, legacy bool) {
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	truePath, as := program(t, "true")
	var asSt unix.Stat_t
	if err := unix.Stat(as, &asSt); err != nil {
		t.Fatal(err)
	}
	tcp, udp := listen(t, "tcp", "127.0.0.1"), listen(t, "udp", "127.0.0.1")

	const queue = 64
	s, err := New(Options{QueueLen: queue, LegacyConnect: legacy})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sensor run: %v", err)
		}
	}()

	for _, tc := range []struct {
		name string
		env  string
		port string
	}{
		{"relabel-tcp", "", strconv.Itoa(int(tcp.Port()))},
		{"relabel-udp", "RELABEL_UDP=1", strconv.Itoa(int(udp.Port()))},
		// A child forked after the relabel connects: it inherits the
		// note of the executed file.
		{"relabel-fork", "RELABEL_FORK=1", strconv.Itoa(int(tcp.Port()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, _ := testutil.BuildRelabel(t, dir, tc.name)
			var binSt unix.Stat_t
			if err := unix.Stat(bin, &binSt); err != nil {
				t.Fatal(err)
			}
			// Nobody reads Events: fill the queue, so the implant's exec
			// record finds it full.
			for range queue {
				if err := exec.Command(truePath).Run(); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := s.Stats()
			cmd := exec.Command(bin, as, "127.0.0.1", tc.port, "0")
			cmd.Env = append(os.Environ(), "RELABEL_WAIT=1", tc.env)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := uint32(cmd.Process.Pid)
			defer cmd.Process.Kill()
			// Its exec is done (it waits on stdin) and the reader has
			// taken every record from the ring: its exec record is gone.
			deadline := time.Now().Add(testutil.Patience(t, 10*time.Second))
			for {
				link, _ := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/exe")
				st, err := s.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if link == bin && st.RingPending == 0 && st.Dropped > before.Dropped {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("implant exe %q, ring %d bytes pending, %d dropped (%d before): its exec record did not go by", link, st.RingPending, st.Dropped, before.Dropped)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Empty the queue; from here on, every record is read.
			var conn *Connect
			take := func(ev Event) {
				switch v := ev.(type) {
				case *Exec:
					if v.TGID == pid {
						t.Fatalf("the implant's exec record was delivered: the test's premise failed")
					}
				case *Connect:
					if (v.TGID == pid || v.Task.PPID == pid) && conn == nil {
						conn = v
					}
				}
			}
			for len(s.Events()) > 0 {
				take(<-s.Events())
			}
			if _, err := stdin.Write([]byte("g")); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "relabelled") {
				t.Fatalf("implant: %v: %s", err, out.String())
			}
			timeout := time.After(testutil.Patience(t, 10*time.Second))
			for conn == nil {
				select {
				case ev := <-s.Events():
					take(ev)
				case <-timeout:
					t.Fatalf("no connect record of the implant (pid %d)", pid)
				}
			}
			if !conn.Relabeled || conn.ExecIno != binSt.Ino || conn.ExecDev != binSt.Dev || conn.Exe.Ino != asSt.Ino {
				t.Errorf("connect: relabeled %v, executed file (%d, %d), exe inode %d; want relabeled, the implant's (%d, %d), %s's %d",
					conn.Relabeled, conn.ExecDev, conn.ExecIno, conn.Exe.Ino, binSt.Dev, binSt.Ino, as, asSt.Ino)
			}
		})
	}

	// A process that did not relabel: no mark.
	cmd := helperCmd(os.Args[0], "connect", "tcp", tcp.String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	cmd.Wait()
	timeout := time.After(testutil.Patience(t, 10*time.Second))
	for {
		select {
		case ev := <-s.Events():
			if c, ok := ev.(*Connect); ok && c.TGID == pid {
				if c.Relabeled || c.ExecIno != 0 {
					t.Errorf("plain connect marked relabelled: executed file (%d, %d)", c.ExecDev, c.ExecIno)
				}
				return
			}
		case <-timeout:
			t.Fatalf("no connect record of the plain helper (pid %d)", pid)
		}
	}
}

// TestConnectCodeOrigin: a connect record says where the code that made
// the call lives. A program's own text: nothing. The relabel implant's
// routine, run from its anonymous copy: anonymous memory. A payload an
// injector wrote over sleep's text with ptrace: written file text, on
// sleep's record (the injector never connects).
func TestConnectCodeOrigin(t *testing.T) {
	s, h := startSensor(t)
	if ok, err := s.CodeOrigin(); !ok {
		t.Skipf("skipping: %v", err)
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	_, as := program(t, "true")
	sleep, sleepFile := program(t, "sleep")
	relabel, _ := testutil.BuildRelabel(t, dir, "anon-code")
	inject, _ := testutil.BuildInject(t, dir, "injector")
	addr := listen(t, "tcp", "127.0.0.1")
	port := strconv.Itoa(int(addr.Port()))
	w := h.subscribe(connectTo(addr.Port()))
	defer w.stop()

	// A datagram sent from the anonymous copy goes through the socket
	// address hooks, which cannot look at the mapping: the record gives the
	// call's address, and the implant, lingering, still has it mapped
	// anonymous.
	t.Run("datagram from anonymous copy", func(t *testing.T) {
		uport := listen(t, "udp", "127.0.0.1").Port()
		wu := h.subscribe(connectTo(uport))
		defer wu.stop()
		cmd := exec.Command(relabel, as, "127.0.0.1", strconv.Itoa(int(uport)), "3000")
		cmd.Env = append(os.Environ(), "RELABEL_NONE=1", "RELABEL_UDP=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		c := wu.next(t, "datagram of the anonymous copy").(*Connect)
		if c.TGID != uint32(cmd.Process.Pid) || c.Code != CodeFile || c.UserIP == 0 {
			t.Fatalf("record: pid %d code %q ip %#x; want the implant's (%d), no kernel verdict, an address", c.TGID, c.Code, c.UserIP, cmd.Process.Pid)
		}
		m, ok, err := procfs.MappingAt("/proc", c.TGID, c.UserIP)
		if err != nil || !ok || !m.Anonymous() {
			t.Errorf("ip %#x: mapping %+v found %v (%v), want anonymous memory", c.UserIP, m, ok, err)
		}
	})

	for _, tc := range []struct {
		name string
		cmd  *exec.Cmd
		comm string
		want Code
	}{
		{"own text", helperCmd(os.Args[0], "connect", "tcp", addr.String()), "", CodeFile},
		{"anonymous copy", exec.Command(relabel, as, "127.0.0.1", port, "0"), "anon-code", CodeAnonymous},
		{"injected into sleep", exec.Command(inject, sleep, "127.0.0.1", port), "sleep", CodeWritten},
		// A uprobe on sleep's entry point puts a breakpoint into its text,
		// as tracing tools do: a write into text then tells nothing.
		{"injected, uprobes present", exec.Command(inject, sleep, "127.0.0.1", port), "uprobes", CodeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.comm == "uprobes" {
				tc.comm = "sleep"
				defer uprobeEntry(t, sleepFile).Close()
			}
			if tc.comm == "anon-code" {
				tc.cmd.Env = append(os.Environ(), "RELABEL_NONE=1")
			}
			tc.cmd.Stderr = nil
			if out, err := tc.cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for {
				c := w.next(t, "connect of "+tc.name).(*Connect)
				if tc.comm != "" && c.Task.Comm != tc.comm {
					continue
				}
				if c.Code != tc.want {
					t.Errorf("%s (comm %s): code %q, want %q", tc.name, c.Task.Comm, c.Code, tc.want)
				}
				return
			}
		})
	}
}

// uprobeEntry attaches a do-nothing uprobe at bin's entry point (bin may
// have no symbols) and returns it.
func uprobeEntry(t *testing.T, bin string) link.Link {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var off uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Filesz {
			off = f.Entry - p.Vaddr + p.Off
		}
	}
	if off == 0 {
		t.Fatalf("%s: entry point %#x in no executable segment", bin, f.Entry)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
	if err != nil {
		t.Fatalf("uprobe program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	ex, err := link.OpenExecutable(bin)
	if err != nil {
		t.Fatal(err)
	}
	up, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off})
	if err != nil {
		t.Skipf("skipping: no uprobes here: %v", err)
	}
	return up
}

// program finds a program on PATH: the name to run it by and the file it
// is (/usr/bin/true here; busybox in the kernel matrix guests).
func program(t *testing.T, name string) (run, file string) {
	t.Helper()
	run, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("skipping: no %s: %v", name, err)
	}
	file, err = filepath.EvalSymlinks(run)
	if err != nil {
		t.Fatal(err)
	}
	return run, file
}
