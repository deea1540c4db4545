package sensor

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// procTask is what /proc says about a live process: the values the
// kernel-side task fields must match. Each is read through a different
// kernel path than the BPF programs use (start_boottime, cred, loginuid,
// the socket's netns), so a CO-RE relocation that lands on the wrong
// member on some kernel shows up here, not as a plausible-looking number.
type procTask struct {
	startTicks uint64 // /proc/PID/stat field 22, in USER_HZ (100) ticks
	comm       string
	auid       uint32
	netns      uint64
	cgroupID   uint64 // 0 when no cgroup2 hierarchy is mounted
}

func readProcTask(t *testing.T, pid int) procTask {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// comm may hold spaces and parentheses: fields restart after the last ')'.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	var p procTask
	if p.startTicks, err = strconv.ParseUint(fields[22-3], 10, 64); err != nil {
		t.Fatalf("starttime in %s/stat: %v", dir, err)
	}
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	p.comm = strings.TrimSuffix(string(comm), "\n")
	p.auid = 0xffffffff // kernels without CONFIG_AUDIT have no loginuid
	if b, err := os.ReadFile(dir + "/loginuid"); err == nil {
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		if err != nil {
			t.Fatalf("%s/loginuid %q: %v", dir, b, err)
		}
		p.auid = uint32(n)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir+"/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	p.netns = st.Ino
	p.cgroupID = cgroupID(t, dir)
	return p
}

// cgroupID returns the inode of the process's cgroup v2 directory, which is
// the id bpf_get_current_cgroup_id reports, or 0 when no cgroup2 hierarchy
// is mounted to look it up in.
func cgroupID(t *testing.T, dir string) uint64 {
	t.Helper()
	b, err := os.ReadFile(dir + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var rel string
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel = p
		}
	}
	mnt := cgroup2Mount(t)
	if mnt == "" || rel == "" {
		return 0
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(mnt, rel), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func cgroup2Mount(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && f[3] == "/" && strings.HasPrefix(post, "cgroup2 ") {
			return f[4]
		}
	}
	return ""
}

// helperCgroup makes a fresh cgroup v2 directory for the helper to start in
// (clone3 CLONE_INTO_CGROUP), so the id under test is not the root
// cgroup's 1, and returns it open. It reports false where there is no
// cgroup2 hierarchy to make one in.
func helperCgroup(t *testing.T) (int, bool) {
	t.Helper()
	mnt := cgroup2Mount(t)
	if mnt == "" {
		return -1, false
	}
	dir := filepath.Join(mnt, "argus-sensor-test-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Logf("helper stays in this test's cgroup: %v", err)
		return -1, false
	}
	t.Cleanup(func() { os.Remove(dir) })
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, true
}

func bootNs(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano())
}

// Credentials the helper runs with, and the owner of its executable: all
// distinct, so a field read from the wrong member cannot pass by accident.
const (
	helperUID = 65534
	helperGID = 65533
	exeOwner  = 65532
)

// TestTaskFieldsMatchProc checks every task field of an exec and a connect
// record (start time, parent, credentials, login uid, comm, cgroup, netns,
// timestamp, file owner) against /proc for a live helper process that runs
// under its own uid and gid.
func TestTaskFieldsMatchProc(t *testing.T) {
	_, h := startSensor(t)
	// A copy of the test binary that the helper's uid may execute.
	dir := realDir(t)
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, _ := testBinary(t)
	bin := filepath.Join(dir, "task-helper")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(bin, exeOwner, exeOwner); err != nil {
		t.Fatal(err)
	}
	myComm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}

	dst := listen(t, "tcp", "127.0.0.1")
	execs := h.subscribe(execPath(bin))
	defer execs.stop()
	conns := h.subscribe(connectTo(dst.Port()))
	defer conns.stop()
	cmd := helperCmd(bin, "wait-connect", "tcp", dst.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: helperUID, Gid: helperGID}}
	if fd, ok := helperCgroup(t); ok {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	before := bootNs(t)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Start returns once the exec is past the point of no return, which
	// is before the kernel sets the new comm: read /proc only after the
	// exec record, built at the end of exec. The helper then blocks on
	// stdin until told to connect, so /proc describes it as it is when
	// both records are made.
	e := execs.next(t, "exec of the helper").(*Exec)
	want := readProcTask(t, cmd.Process.Pid)
	io.WriteString(stdin, "go\n")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	after := bootNs(t)
	c := nextAttempt(t, conns, "connect of the helper")
	if want.cgroupID == 0 {
		t.Log("no cgroup2 hierarchy mounted: cgroup id not compared")
	}
	t.Logf("/proc: start %d ticks, comm %q, auid %d, netns %d, cgroup %d", want.startTicks, want.comm, want.auid, want.netns, want.cgroupID)

	for _, r := range []struct {
		what string
		hdr  Header
		task Task
		exe  File
	}{{"exec", e.Header, e.Task, e.Exe}, {"connect", c.Header, c.Task, c.Exe}} {
		task := r.task
		if task.StartNs/1e7 != want.startTicks {
			t.Errorf("%s: start %d ns is %d ticks, /proc says %d", r.what, task.StartNs, task.StartNs/1e7, want.startTicks)
		}
		if task.PPID != uint32(os.Getpid()) || r.hdr.TGID != uint32(cmd.Process.Pid) {
			t.Errorf("%s: pid %d ppid %d, want %d %d", r.what, r.hdr.TGID, task.PPID, cmd.Process.Pid, os.Getpid())
		}
		if task.UID != helperUID || task.EUID != helperUID || task.GID != helperGID || task.EGID != helperGID {
			t.Errorf("%s: uid %d euid %d gid %d egid %d, want uid %d gid %d", r.what,
				task.UID, task.EUID, task.GID, task.EGID, helperUID, helperGID)
		}
		if task.AUID != want.auid {
			t.Errorf("%s: auid %d, /proc says %d", r.what, task.AUID, want.auid)
		}
		if task.Comm != want.comm {
			t.Errorf("%s: comm %q, /proc says %q", r.what, task.Comm, want.comm)
		}
		if want.cgroupID != 0 && task.CgroupID != want.cgroupID {
			t.Errorf("%s: cgroup id %d, the cgroup2 directory's inode is %d", r.what, task.CgroupID, want.cgroupID)
		}
		if r.hdr.BootNs < before || r.hdr.BootNs > after {
			t.Errorf("%s: timestamp %d outside the helper's lifetime [%d, %d] (CLOCK_BOOTTIME)", r.what, r.hdr.BootNs, before, after)
		}
		if r.exe.UID != exeOwner {
			t.Errorf("%s: exe owner %d, want %d", r.what, r.exe.UID, exeOwner)
		}
	}
	if e.ParentComm != strings.TrimSuffix(string(myComm), "\n") {
		t.Errorf("parent comm %q, want %q", e.ParentComm, myComm)
	}
	if uint64(c.NetNS) != want.netns {
		t.Errorf("netns %d, /proc says %d", c.NetNS, want.netns)
	}
}
