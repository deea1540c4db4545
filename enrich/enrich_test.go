package enrich

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// fakeProc writes a /proc/<pid> entry under root.
func fakeProc(t *testing.T, root string, pid, ppid uint32, comm string, startNs uint64, exe, cwd string, args ...string) {
	t.Helper()
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Fields 3..22 of /proc/<pid>/stat; 22 is starttime in ticks.
	fields := []string{"S", strconv.FormatUint(uint64(ppid), 10)}
	for i := 5; i <= 21; i++ {
		fields = append(fields, "0")
	}
	fields = append(fields, strconv.FormatUint(startNs/1e7, 10), "0", "0")
	stat := strconv.FormatUint(uint64(pid), 10) + " (" + comm + ") " + strings.Join(fields, " ") + "\n"
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", stat)
	write("cmdline", strings.Join(args, "\x00")+"\x00")
	for name, target := range map[string]string{"exe": exe, "cwd": cwd} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func newEnricher(t *testing.T, root string) *Enricher {
	t.Helper()
	e, err := New(Options{Hostname: "lab1", BootID: "0123456789abcdef", ProcRoot: root, MaxProcesses: 8})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func connectEv(pid uint32, start uint64, dst string) *sensor.Connect {
	return &sensor.Connect{
		Header: sensor.Header{Kind: sensor.KindConnect, TID: pid, TGID: pid, BootNs: start + 5e9},
		Task:   sensor.Task{StartNs: start, PPID: 1, UID: 1000, AUID: 0xffffffff, Comm: "x"},
		// No inode: the connect does not contradict the table's entry
		// (reresolve_test.go covers one that does).
		Exe:    sensor.File{Dev: 1, Deleted: true},
		Result: -int32(unix.EINPROGRESS), Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP,
		Dst: netip.MustParseAddrPort(dst), Src: netip.MustParseAddrPort("10.0.0.5:51512"),
	}
}

func TestConnectUsesExecCapture(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	ex := &sensor.Exec{
		Header: sensor.Header{Kind: sensor.KindExec, TID: 100, TGID: 100, BootNs: 7e9},
		Task:   sensor.Task{StartNs: 6e9, PPID: 1, UID: 1000, AUID: 1000, Comm: "implant"},
		Exe:    sensor.File{Dev: 1, Ino: 2, Size: 3},
		Path:   "/tmp/implant", Cwd: "/tmp", Args: []string{"./implant", "-c"}, Filename: "./implant",
		ParentComm: "bash",
	}
	launch := one(t, e.handle(ex, nil))
	if launch == nil || launch.Kind != event.KindProcessLaunch {
		t.Fatalf("exec gave %+v", launch)
	}
	p := launch.Process
	if p.Exe.Path != "/tmp/implant" || p.Exe.InvokedAs != "./implant" || p.Cwd != "/tmp" || p.Source != SourceExec ||
		p.AUID == nil || *p.AUID != 1000 || p.Parent.Comm != "bash" {
		t.Errorf("launch process %+v", p)
	}
	conn := one(t, e.handle(connectEv(100, 6e9, "192.0.2.1:4444"), nil))
	if conn.Kind != event.KindNetworkConnection || conn.Process.Exe.Path != "/tmp/implant" ||
		!slices.Equal(conn.Process.Args, ex.Args) || !conn.Process.Exe.Deleted || conn.Process.AUID != nil {
		t.Errorf("connect process %+v", conn.Process)
	}
	n := conn.Network
	if n.DstIP != "192.0.2.1" || n.DstPort != 4444 || n.Protocol != "tcp" || n.Family != "ipv4" ||
		n.Result != "EINPROGRESS" || n.ResultCode != -115 || n.SrcIP != "10.0.0.5" || n.SrcPort != 51512 {
		t.Errorf("network %+v", n)
	}
	if conn.Host.Hostname != "lab1" || conn.Schema != event.Schema || !strings.HasPrefix(conn.ID, "01234567-") {
		t.Errorf("record %+v", conn)
	}
}

func TestForkInheritsAndExitForgets(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	e.handle(&sensor.Exec{Header: sensor.Header{TGID: 10}, Task: sensor.Task{StartNs: 1e9}, Path: "/tmp/p", Args: []string{"p"}}, nil)
	e.handle(&sensor.Fork{Header: sensor.Header{TGID: 11}, StartNs: 2e9, ParentStartNs: 1e9, PPID: 10}, nil)
	c := one(t, e.handle(connectEv(11, 2e9, "127.0.0.1:1"), nil))
	if c.Process.Exe.Path != "/tmp/p" || c.Process.Source != SourceFork || c.Process.Parent.Exe.Path != "" {
		// connectEv's task says ppid 1; the table entry says 10.
		t.Errorf("forked child: %+v", c.Process)
	}
	e.handle(&sensor.Exit{Header: sensor.Header{TGID: 11}, StartNs: 2e9}, nil)
	if _, ok := e.procs.Peek(11); ok {
		t.Error("exit did not remove the process")
	}
	// An exit for an older process with the same pid removes nothing.
	e.handle(&sensor.Exit{Header: sensor.Header{TGID: 10}, StartNs: 999}, nil)
	if _, ok := e.procs.Peek(10); !ok {
		t.Error("exit of a different start time removed the entry")
	}
}

func TestUnknownProcessFromProcfs(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 200, 1, "pre (existing) proc", 3e9+12345, "/opt/agent (deleted)", "/var/lib/agent", "/opt/agent", "--serve")
	e := newEnricher(t, root)
	c := one(t, e.handle(connectEv(200, 3e9+12345, "[2001:db8::1]:443"), nil))
	p := c.Process
	if p.Source != SourceProcfs || p.Exe.Path != "/opt/agent" || p.Cwd != "/var/lib/agent" ||
		!slices.Equal(p.Args, []string{"/opt/agent", "--serve"}) {
		t.Errorf("procfs process %+v", p)
	}
	if s := e.Stats(); s.ProcfsLookups != 1 || s.ProcfsFailures != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestReusedPidNotTrusted(t *testing.T) {
	root := t.TempDir()
	// /proc/300 belongs to a process that started 5 s after the one that connected.
	fakeProc(t, root, 300, 1, "newcomer", 9e9, "/usr/bin/newcomer", "/", "newcomer")
	e := newEnricher(t, root)
	c := one(t, e.handle(connectEv(300, 4e9, "192.0.2.1:80"), nil))
	if c.Process.Source != SourceKernel || c.Process.Exe.Path != "" || c.Process.Args != nil {
		t.Errorf("reused pid lent its details: %+v", c.Process)
	}
	e.handle(connectEv(300, 4e9, "192.0.2.1:81"), nil)
	if s := e.Stats(); s.ProcfsLookups != 1 || s.ProcfsFailures != 1 {
		t.Errorf("second connect retried /proc: %+v", s)
	}
}

func TestTableIsBounded(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	for pid := uint32(1); pid <= 20; pid++ {
		e.handle(&sensor.Exec{Header: sensor.Header{TGID: pid}, Task: sensor.Task{StartNs: 1}}, nil)
	}
	if s := e.Stats(); s.Processes != 8 || s.Evicted != 12 {
		t.Errorf("stats %+v, want 8 entries and 12 evictions", s)
	}
}

// one returns the record of the single item.
func one(t *testing.T, items []Item) *event.Record {
	t.Helper()
	if len(items) != 1 {
		t.Fatalf("got %d records, want 1", len(items))
	}
	return items[0].Rec
}

func TestInterruptedConnectFoldsIntoRestart(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	intr := connectEv(400, 1e9, "192.0.2.1:4444")
	intr.Result, intr.FD = -512, 5
	if out := e.handle(intr, nil); len(out) != 0 {
		t.Fatalf("interrupted connect emitted at once: %+v", out[0].Rec.Network)
	}
	final := connectEv(400, 1e9, "192.0.2.1:4444")
	final.Result, final.FD = 0, 5
	out := e.handle(final, nil)
	if len(out) != 1 || out[0].Rec.Network.Result != "success" {
		t.Fatalf("restart: %d records", len(out))
	}
	if out := e.flush(time.Time{}, nil); len(out) != 0 {
		t.Fatalf("folded record still held: %d", len(out))
	}
}

func TestInterruptedConnectThatReturnedEINTR(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	intr := connectEv(401, 1e9, "192.0.2.1:4444")
	intr.Result, intr.FD = -512, 5
	e.handle(intr, nil)
	// The thread's next connect is another socket: the first came back EINTR.
	next := connectEv(401, 1e9, "198.51.100.7:443")
	next.Result, next.FD = 0, 6
	out := e.handle(next, nil)
	if len(out) != 2 || out[0].Rec.Network.Result != "interrupted" || out[0].Rec.Network.DstPort != 4444 || out[1].Rec.Network.DstPort != 443 {
		t.Fatalf("got %d records: %+v", len(out), out)
	}

	// Nothing follows: it goes out after the hold, not before.
	lone := connectEv(402, 1e9, "192.0.2.1:4444")
	lone.Result = -512
	e.handle(lone, nil)
	if out := e.flush(time.Now(), nil); len(out) != 0 {
		t.Fatal("flushed before the hold elapsed")
	}
	if out := e.flush(time.Now().Add(InterruptedHold), nil); len(out) != 1 || out[0].Rec.Network.Result != "interrupted" {
		t.Fatalf("after the hold: %d records", len(out))
	}
}

// TestFoldedConnectSummary: a summary of repeats carries its count and
// times, and does not stand in for a thread's restarted call.
func TestFoldedConnectSummary(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	intr := connectEv(403, 1e9, "192.0.2.1:4444")
	intr.Result, intr.FD = -512, 5
	e.handle(intr, nil)
	sum := connectEv(403, 1e9, "192.0.2.1:4444")
	sum.Result, sum.FD = 0, 5
	sum.Folded, sum.FoldFirstNs, sum.FoldLastNs, sum.BootNs = 1999, 2e9, 3e9, 3e9
	n := one(t, e.handle(sum, nil)).Network
	if n.Count != 1999 || n.Result != "success" {
		t.Errorf("summary network %+v, want count 1999, success", n)
	}
	if d := n.LastSeen.Sub(n.FirstSeen); d != time.Second || n.FirstSeen.IsZero() {
		t.Errorf("first %v last %v: want a second apart", n.FirstSeen, n.LastSeen)
	}
	// The interrupted call is still held for its own restart.
	if out := e.flush(time.Time{}, nil); len(out) != 1 || out[0].Rec.Network.Result != "interrupted" || out[0].Rec.Network.Count != 0 {
		t.Fatalf("held after a summary: %d records", len(out))
	}
	// An ordinary record has no count.
	plain := connectEv(404, 1e9, "192.0.2.1:4444")
	if n := one(t, e.handle(plain, nil)).Network; n.Count != 0 || !n.FirstSeen.IsZero() {
		t.Errorf("plain record: count %d first %v", n.Count, n.FirstSeen)
	}
}

func TestResultName(t *testing.T) {
	for ret, want := range map[int32]string{0: "success", -115: "EINPROGRESS", -111: "ECONNREFUSED", -101: "ENETUNREACH", -512: "interrupted", -516: "interrupted", -9999: "errno_9999"} {
		if got := ResultName(ret); got != want {
			t.Errorf("ResultName(%d) = %q, want %q", ret, got, want)
		}
	}
}

func TestSubmittedConnectIsNotSuccess(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	for _, tc := range []struct {
		mod         func(c *sensor.Connect)
		result, via string
		code        int32
	}{
		{func(c *sensor.Connect) { c.Result = 0 }, "success", "connect", 0},
		{func(c *sensor.Connect) { c.Result, c.Submitted, c.IOUring = 0, true, true }, "submitted", "io_uring_connect", 0},
		{func(c *sensor.Connect) { c.Result, c.Submitted, c.Compat, c.Via = 0, true, true, sensor.ViaSocketcall }, "submitted", "socketcall32", 0},
		{func(c *sensor.Connect) { c.Result, c.Submitted, c.Compat, c.Via = 0, true, true, sensor.ViaSendmsg }, "submitted", "sendmsg32", 0},
		{func(c *sensor.Connect) { c.Result, c.Submitted, c.Via = 0, true, sensor.ViaFastOpen }, "submitted", "fastopen", 0},
		{func(c *sensor.Connect) { c.Result, c.Submitted, c.KernelThread = 0, true, true }, "submitted", "kernel_connect", 0},
	} {
		c := connectEv(100, 6e9, "192.0.2.1:4444")
		c.FD = sensor.NoFD
		tc.mod(c)
		n := one(t, e.handle(c, nil)).Network
		if n.Result != tc.result || n.Via != tc.via || n.ResultCode != tc.code {
			t.Errorf("result %q via %q code %d; want %q %q %d", n.Result, n.Via, n.ResultCode, tc.result, tc.via, tc.code)
		}
	}
}

// TestFoldSummaryAfterExit: the sensor sends the summary of a process's
// folded connects after their fold interval, often after the process's
// exit record. The summary must still name the process's executable and
// command line, not fall back to the kernel's bare identity; a process
// that never connected is not kept, and a reused pid is another process.
func TestFoldSummaryAfterExit(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	for _, pid := range []uint32{300, 301} {
		e.handle(&sensor.Exec{Header: sensor.Header{TGID: pid}, Task: sensor.Task{StartNs: 1e9},
			Exe: sensor.File{Dev: 1, Ino: 77}, Path: "/usr/bin/node", Args: []string{"node", "beacon.js"}}, nil)
	}
	one(t, e.handle(connectEv(300, 1e9, "192.0.2.1:4444"), nil))
	for _, pid := range []uint32{300, 301} {
		e.handle(&sensor.Exit{Header: sensor.Header{TGID: pid}, StartNs: 1e9}, nil)
	}
	sum := connectEv(300, 1e9, "192.0.2.1:4444")
	sum.Folded, sum.FoldFirstNs, sum.FoldLastNs = 8512, 2e9, 3e9
	p := one(t, e.handle(sum, nil)).Process
	if p.Exe.Path != "/usr/bin/node" || !slices.Equal(p.Args, []string{"node", "beacon.js"}) || p.Source != SourceExec {
		t.Errorf("summary after exit: exe %q args %q source %s, want the exec's", p.Exe.Path, p.Args, p.Source)
	}
	if _, ok := e.exited.Peek(301); ok {
		t.Error("a process that never connected is kept after its exit")
	}
	// The pid reused by another process: not the exited one.
	reused := connectEv(300, 5e9, "192.0.2.1:4444")
	if p := one(t, e.handle(reused, nil)).Process; p.Exe.Path == "/usr/bin/node" {
		t.Errorf("a reused pid took the exited process's identity: %+v", p)
	}
}

// TestCodeOriginFromMaps: a connection seen by the socket address hooks
// (a UDP send, a 32-bit connect) carries the call's instruction pointer;
// its mapping in /proc/<pid>/maps says where the code lives. Memory no
// file backs is anonymous_memory; a file's text says nothing; a process
// that is gone, or another with its pid, is unknown. Once per process and
// address.
func TestCodeOriginFromMaps(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 500, 1, "sleep", 1e9, "/usr/bin/sleep", "/")
	maps := "55d0c0a02000-55d0c0a06000 r-xp 00002000 fe:00 247849 /usr/bin/sleep\n" +
		"7f1c2c000000-7f1c2c021000 rwxp 00000000 00:00 0 \n"
	if err := os.WriteFile(filepath.Join(root, "500", "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, root)
	udp := func(pid uint32, start, ip uint64) *event.Process {
		ev := connectEv(pid, start, "192.0.2.1:53")
		ev.Submitted, ev.Via, ev.UserIP = true, sensor.ViaSendmsg, ip
		return one(t, e.handle(ev, nil)).Process
	}
	for _, tc := range []struct {
		pid   uint32
		start uint64
		ip    uint64
		want  string
	}{
		{500, 1e9, 0x7f1c2c000100, "anonymous_memory"},
		{500, 1e9, 0x7f1c2c000100, "anonymous_memory"}, // cached
		{500, 1e9, 0x55d0c0a02100, ""},
		{500, 1e9, 0x1000, "unknown"},         // unmapped since
		{500, 7e9, 0x7f1c2c000200, "unknown"}, // another process with the pid
		{501, 1e9, 0x7f1c2c000100, "unknown"}, // gone
		{500, 1e9, 0, ""},                     // no address: nothing looked up
	} {
		if got := udp(tc.pid, tc.start, tc.ip).CodeOrigin; got != tc.want {
			t.Errorf("pid %d start %d ip %#x: code_origin %q, want %q", tc.pid, tc.start, tc.ip, got, tc.want)
		}
	}
	if n := e.Stats().CodeLookups; n != 5 {
		t.Errorf("%d maps lookups, want 5 (one per process and address)", n)
	}
}
