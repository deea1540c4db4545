package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// realDir returns a fresh temp dir with symlinks resolved, as the kernel's
// dentry walk reports it.
func realDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func statOf(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// assertIdentity checks the kernel's file identity against stat(2).
func assertIdentity(t *testing.T, f File, st *syscall.Stat_t) {
	t.Helper()
	if f.Dev != st.Dev || f.Ino != st.Ino || f.Size != st.Size || f.Nlink != uint32(st.Nlink) || f.Mode != st.Mode {
		t.Errorf("identity dev=%d ino=%d size=%d nlink=%d mode=%o, stat says dev=%d ino=%d size=%d nlink=%d mode=%o",
			f.Dev, f.Ino, f.Size, f.Nlink, f.Mode, st.Dev, st.Ino, st.Size, st.Nlink, st.Mode)
	}
	if f.MtimeNs != st.Mtim.Nano() || f.CtimeNs != st.Ctim.Nano() {
		t.Errorf("mtime=%d ctime=%d, stat says mtime=%d ctime=%d", f.MtimeNs, f.CtimeNs, st.Mtim.Nano(), st.Ctim.Nano())
	}
}

func TestExecRelativePathFromTempDir(t *testing.T) {
	s, h := startSensor(t)
	dir := realDir(t)
	tool := filepath.Join(dir, "tool")
	testutil.WriteExitELF(t, tool, 0)
	w := h.subscribe(execPath(tool))
	defer w.stop()

	cmd := exec.Command("./tool", "alpha", "beta gamma", "")
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	// The process has exited and been reaped: nothing below can come from
	// /proc, only from what the kernel captured at exec.
	e := w.next(t, "exec").(*Exec)
	if e.TGID != uint32(cmd.Process.Pid) {
		t.Errorf("pid %d, want %d", e.TGID, cmd.Process.Pid)
	}
	if e.Cwd != dir {
		t.Errorf("cwd %q, want %q", e.Cwd, dir)
	}
	if want := []string{"./tool", "alpha", "beta gamma", ""}; !slices.Equal(e.Args, want) || e.Argc != 4 {
		t.Errorf("args %q (argc %d), want %q", e.Args, e.Argc, want)
	}
	if e.Filename != "./tool" {
		t.Errorf("filename %q, want ./tool", e.Filename)
	}
	if e.PathTruncated || e.CwdTruncated || e.ArgsTruncated || e.Exe.Deleted || e.Exe.Memfd {
		t.Errorf("unexpected flags: %+v", e)
	}
	if e.Task.PPID != uint32(os.Getpid()) || e.Task.UID != uint32(os.Getuid()) || e.Task.StartNs == 0 {
		t.Errorf("task %+v: want ppid %d uid %d and a start time", e.Task, os.Getpid(), os.Getuid())
	}
	assertIdentity(t, e.Exe, statOf(t, tool))
	if st, _ := s.Stats(); st.Read[KindExec] == 0 {
		t.Error("stats count no exec reads")
	}
}

func TestExecThroughSymlink(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(dir, "real", "tool")
	testutil.WriteExitELF(t, tool, 0)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real/tool", link); err != nil {
		t.Fatal(err)
	}
	w := h.subscribe(execPath(tool))
	defer w.stop()
	if err := exec.Command(link).Run(); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, "exec").(*Exec)
	if e.Filename != link {
		t.Errorf("filename %q, want the symlink %q", e.Filename, link)
	}
	assertIdentity(t, e.Exe, statOf(t, tool))
}

func TestExecAcrossMounts(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	mnt := filepath.Join(dir, "tmpfs")
	bind := filepath.Join(dir, "bind")
	for _, d := range []string{mnt, bind} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := os.Mkdir(filepath.Join(mnt, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteExitELF(t, filepath.Join(mnt, "sub", "tool"), 0)
	if err := unix.Mount(filepath.Join(mnt, "sub"), bind, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(bind, unix.MNT_DETACH) })

	for _, path := range []string{filepath.Join(mnt, "sub", "tool"), filepath.Join(bind, "tool")} {
		w := h.subscribe(execPath(path))
		cmd := exec.Command(path)
		cmd.Dir = bind
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		e := w.next(t, "exec of "+path).(*Exec)
		w.stop()
		if e.Cwd != bind {
			t.Errorf("cwd %q, want %q", e.Cwd, bind)
		}
		if e.Exe.FSMagic != unix.TMPFS_MAGIC {
			t.Errorf("fs magic %#x, want tmpfs", e.Exe.FSMagic)
		}
	}
}

func TestExecMemfd(t *testing.T) {
	if testutil.ExitELF(0) == nil {
		t.Skipf("the memfd payload is the tiny ELF, which has no %s version", runtime.GOARCH)
	}
	_, h := startSensor(t)
	w := h.subscribe(execArg("memfd-payload"))
	defer w.stop()
	bin, _ := os.Executable()
	if err := helperCmd(bin, "memfd-exec").Run(); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, "memfd exec").(*Exec)
	if !e.Exe.Memfd || !e.Exe.InternalMount || !e.Disconnected {
		t.Errorf("memfd exec flags: memfd=%v internal=%v disconnected=%v", e.Exe.Memfd, e.Exe.InternalMount, e.Disconnected)
	}
	if e.Path != "/memfd:argus-test" {
		t.Errorf("path %q, want /memfd:argus-test", e.Path)
	}
	if !strings.HasPrefix(e.Filename, "/proc/self/fd/") {
		t.Errorf("filename %q, want /proc/self/fd/N", e.Filename)
	}
}

func TestExecDeletedBinary(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	tool := filepath.Join(dir, "doomed")
	testutil.WriteExitELF(t, tool, 0)
	st := statOf(t, tool)
	w := h.subscribe(execArg("unlinked-payload"))
	defer w.stop()
	bin, _ := os.Executable()
	if err := helperCmd(bin, "exec-unlinked", tool).Run(); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, "exec of an unlinked file").(*Exec)
	if !e.Exe.Deleted || e.Exe.Memfd || e.Exe.Nlink != 0 {
		t.Errorf("deleted=%v memfd=%v nlink=%d, want deleted, not memfd, nlink 0", e.Exe.Deleted, e.Exe.Memfd, e.Exe.Nlink)
	}
	if e.Exe.Ino != st.Ino || e.Path != tool {
		t.Errorf("ino %d path %q, want %d %q", e.Exe.Ino, e.Path, st.Ino, tool)
	}
}

func TestExecArgvTruncated(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	tool := filepath.Join(dir, "tool")
	testutil.WriteExitELF(t, tool, 0)
	args := []string{}
	for i := range 100 {
		args = append(args, fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 96)))
	}
	w := h.subscribe(execPath(tool))
	defer w.stop()
	if err := exec.Command(tool, args...).Run(); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, "exec").(*Exec)
	if !e.ArgsTruncated {
		t.Fatalf("%d bytes of argv not flagged truncated", 100*101)
	}
	if e.Argc != 101 {
		t.Errorf("argc %d, want 101 (the kernel's count survives truncation)", e.Argc)
	}
	full := append([]string{tool}, args...)
	if len(e.Args) < 2 || len(e.Args) >= len(full) {
		t.Fatalf("got %d args, want a strict prefix of %d", len(e.Args), len(full))
	}
	n := len(e.Args) - 1 // the last one may be cut mid-string
	if !slices.Equal(e.Args[:n], full[:n]) || !strings.HasPrefix(full[n], e.Args[n]) {
		t.Errorf("truncated argv is not a prefix of the real one")
	}
}

func TestExecPathTruncatedByDepth(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	deep := dir
	for range 70 {
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteExitELF(t, filepath.Join(deep, "tool"), 0)
	w := h.subscribe(func(ev Event) bool {
		e, ok := ev.(*Exec)
		return ok && strings.HasSuffix(e.Path, "/d/d/tool") && e.Filename == "./tool"
	})
	defer w.stop()
	cmd := exec.Command("./tool")
	cmd.Dir = deep
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, "deep exec").(*Exec)
	if !e.PathTruncated || !e.CwdTruncated {
		t.Errorf("path truncated=%v cwd truncated=%v, want both", e.PathTruncated, e.CwdTruncated)
	}
	if !strings.HasPrefix(e.Path, TruncatedPrefix) || strings.Contains(e.Path, dir) {
		t.Errorf("truncated path %q should start with %q and lack the top directories", e.Path, TruncatedPrefix)
	}
}

func TestExitAndForkRecords(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	tool := filepath.Join(dir, "exit7")
	testutil.WriteExitELF(t, tool, 7)
	exits := h.subscribe(func(ev Event) bool { _, ok := ev.(*Exit); return ok })
	defer exits.stop()
	forks := h.subscribe(func(ev Event) bool { f, ok := ev.(*Fork); return ok && f.PPID == uint32(os.Getpid()) })
	defer forks.stop()
	cmd := exec.Command(tool)
	_ = cmd.Run()
	pid := uint32(cmd.Process.Pid)
	deadline := time.After(testutil.Patience(t, 10*time.Second))
	var sawFork, sawExit bool
	for !sawFork || !sawExit {
		select {
		case ev := <-forks.ch:
			if f := ev.(*Fork); f.TGID == pid {
				sawFork = f.StartNs != 0 && f.ParentStartNs != 0
			}
		case ev := <-exits.ch:
			if x := ev.(*Exit); x.TGID == pid {
				sawExit = true
				// exit_code is the wait status: code 7 << 8.
				if x.ExitCode != 7<<8 {
					t.Errorf("exit code %#x, want %#x", x.ExitCode, 7<<8)
				}
			}
		case <-deadline:
			t.Fatalf("fork seen %v, exit seen %v for pid %d", sawFork, sawExit, pid)
		}
	}
}

// TestExecID: the kernel's exec count goes up by one at each exec and is
// copied at fork, so a fork record and the two execs of one process (sh,
// which execs true in its place) carry n, n+1 and n+2. userspace tells a
// relabelled executable (prctl, no exec) from a lost exec record by it.
func TestExecID(t *testing.T) {
	_, h := startSensor(t)
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	self := uint32(os.Getpid())
	w := h.subscribe(func(ev Event) bool {
		switch v := ev.(type) {
		case *Fork:
			return v.PPID == self
		case *Exec:
			return v.Task.PPID == self
		}
		return false
	})
	defer w.stop()
	cmd := exec.Command("/bin/sh", "-c", "exec "+truePath)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	var fork *Fork
	var execs []*Exec // in the order the process ran them: sh, then true
	deadline := time.After(testutil.Patience(t, 10*time.Second))
	for fork == nil || len(execs) < 2 {
		select {
		case ev := <-w.ch:
			switch v := ev.(type) {
			case *Fork:
				if v.TGID == pid {
					fork = v
				}
			case *Exec:
				if v.TGID == pid {
					execs = append(execs, v)
				}
			}
		case <-deadline:
			t.Fatalf("pid %d: fork seen %v, %d of 2 execs", pid, fork != nil, len(execs))
		}
	}
	if fork.ExecID == 0 || execs[0].Task.ExecID != fork.ExecID+1 || execs[1].Task.ExecID != fork.ExecID+2 {
		t.Errorf("exec counts: fork %d, sh %d, true %d; want n > 0, n+1, n+2", fork.ExecID, execs[0].Task.ExecID, execs[1].Task.ExecID)
	}
}
