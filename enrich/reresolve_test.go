package enrich

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/sensor"
)

// A child whose exec record was lost still holds its parent's identity
// from the fork; its connect, whose executable the kernel names, must not
// carry the parent's path.
func TestConnectReresolvesLostExec(t *testing.T) {
	root := t.TempDir()
	e := newEnricher(t, root)
	e.handle(&sensor.Exec{Header: sensor.Header{TGID: 10}, Task: sensor.Task{StartNs: 1e9, ExecID: 3},
		Exe: sensor.File{Dev: 1, Ino: 50}, Path: "/usr/bin/bash", Args: []string{"bash"}}, nil)
	e.handle(&sensor.Fork{Header: sensor.Header{TGID: 11}, StartNs: 2e9, ParentStartNs: 1e9, PPID: 10, ExecID: 3}, nil)
	// The child exec'd /tmp/implant (its exec count went up); that record
	// was lost. /proc knows.
	fakeProc(t, root, 11, 10, "implant", 2e9, "/tmp/implant", "/tmp", "/tmp/implant")

	ev := connectEv(11, 2e9, "192.0.2.1:4444")
	ev.Exe = sensor.File{Dev: 1, Ino: 60}
	ev.Task.ExecID = 4
	c := one(t, e.handle(ev, nil))
	// The fake /proc's exe is a dangling link: /proc cannot vouch for the
	// inode, so the record stands on the kernel's word, without a path.
	if c.Process.Exe.Path == "/usr/bin/bash" || c.Process.Exe.Inode != 60 || c.Process.Source != SourceKernel {
		t.Fatalf("connect process %+v, want the kernel's identity, not the parent's", c.Process)
	}
	if s := e.Stats(); s.Reresolved != 1 {
		t.Errorf("stats %+v", s)
	}
	// The same identity again: the entry is current now, nothing reread.
	ev2 := connectEv(11, 2e9, "192.0.2.1:4444")
	ev2.Exe = sensor.File{Dev: 1, Ino: 60}
	ev2.Task.ExecID = 4
	if c := one(t, e.handle(ev2, nil)); c.Process.Exe.Inode != 60 {
		t.Errorf("second connect %+v", c.Process)
	}
	if s := e.Stats(); s.Reresolved != 1 {
		t.Errorf("stats %+v, want one reread", s)
	}
}

// A connect whose executable matches its entry changes nothing.
func TestConnectKeepsMatchingEntry(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	e.handle(&sensor.Exec{Header: sensor.Header{TGID: 10}, Task: sensor.Task{StartNs: 1e9},
		Exe: sensor.File{Dev: 1, Ino: 2}, Path: "/tmp/tool", Args: []string{"tool"}}, nil)
	c := one(t, e.handle(connectEv(10, 1e9, "192.0.2.1:4444"), nil))
	if c.Process.Exe.Path != "/tmp/tool" || c.Process.Source != SourceExec || e.Stats().Reresolved != 0 {
		t.Fatalf("process %+v stats %+v", c.Process, e.Stats())
	}
}

// A process that makes the kernel name another file as its executable
// without an exec (prctl PR_SET_MM_MAP with exe_fd), then connects: its
// exec count is the one its exec record had, so the connection stays the
// executed file's (path, inode, source) and carries the label, with the
// path /proc gives while it names that file. A forked child that does the
// same is judged by its fork record's count. The label is read from /proc
// once per process and label.
func TestConnectRelabelWithoutExec(t *testing.T) {
	root := t.TempDir()
	label, st := labelFile(t)
	e := newEnricher(t, root)
	e.handle(&sensor.Exec{Header: sensor.Header{TGID: 10}, Task: sensor.Task{StartNs: 1e9, ExecID: 7},
		Exe: sensor.File{Dev: 1, Ino: 50}, Path: "/tmp/implant", Args: []string{"implant"}}, nil)
	e.handle(&sensor.Fork{Header: sensor.Header{TGID: 11}, StartNs: 2e9, ParentStartNs: 1e9, PPID: 10, ExecID: 7}, nil)
	// /proc names the label now, as the kernel does.
	fakeProc(t, root, 10, 1, "implant", 1e9, label, "/tmp", "implant")
	fakeProc(t, root, 11, 10, "implant", 2e9, label, "/tmp", "implant")

	for i, pid := range []uint32{10, 11, 10} {
		ev := connectEv(pid, uint64(pid-9)*1e9, "192.0.2.1:4444")
		ev.Exe = sensor.File{Dev: 9, Ino: st.Ino}
		ev.Task.ExecID = 7
		p := one(t, e.handle(ev, nil)).Process
		if p.Exe.Path != "/tmp/implant" || p.Exe.Inode != 50 || p.Source == SourceKernel || p.Source == SourceProcfs {
			t.Errorf("connect %d of pid %d: exe %s inode %d source %s, want the executed /tmp/implant", i, pid, p.Exe.Path, p.Exe.Inode, p.Source)
		}
		if rl := p.ExeRelabeled; rl == nil || rl.Path != label || rl.Inode != st.Ino || rl.Device != 9 {
			t.Errorf("connect %d of pid %d: exe_relabeled %+v, want %s inode %d device 9", i, pid, rl, label, st.Ino)
		}
	}
	if s := e.Stats(); s.Relabeled != 2 || s.Reresolved != 0 {
		t.Errorf("stats: relabeled %d reresolved %d, want 2 (one per process) and 0", s.Relabeled, s.Reresolved)
	}
}

// An entry read from /proc learns its exec count from the first connect
// that agrees with it on the executable; a later connect with another
// executable and the same count is a relabel, not a lost exec.
func TestConnectRelabelAfterProcfs(t *testing.T) {
	root := t.TempDir()
	exe := filepath.Join(t.TempDir(), "implant")
	if err := os.WriteFile(exe, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		t.Fatal(err)
	}
	fakeProc(t, root, 20, 1, "implant", 3e9, exe, "/tmp", "implant")
	e := newEnricher(t, root)
	ev := connectEv(20, 3e9, "192.0.2.1:4444")
	ev.Exe = sensor.File{Dev: 1, Ino: st.Ino}
	ev.Task.ExecID = 5
	if p := one(t, e.handle(ev, nil)).Process; p.Exe.Path != exe || p.ExeRelabeled != nil {
		t.Fatalf("first connect: exe %s relabeled %+v", p.Exe.Path, p.ExeRelabeled)
	}
	ev = connectEv(20, 3e9, "192.0.2.1:4444")
	ev.Exe = sensor.File{Dev: 1, Ino: st.Ino + 1}
	ev.Task.ExecID = 5
	p := one(t, e.handle(ev, nil)).Process
	if p.Exe.Path != exe || p.ExeRelabeled == nil || p.ExeRelabeled.Inode != st.Ino+1 || p.ExeRelabeled.Path != "" {
		t.Errorf("relabelled connect: exe %s relabeled %+v, want %s and the label's inode, no path (/proc names another file)", p.Exe.Path, p.ExeRelabeled, exe)
	}
}

// The implant's exec record was lost (it flooded the ring as it started),
// then it relabelled itself and connected: the table holds what it
// inherited at fork, or nothing, and /proc names the label. The kernel's
// mark on the connect (Relabeled, with the executed file's identity) must
// win: the record is about the executed file (identity only: its path is
// not known) and names the label, never the label as the executable.
func TestConnectRelabelLostExec(t *testing.T) {
	root := t.TempDir()
	label, st := labelFile(t)
	const implantIno = 70
	fakeProc(t, root, 31, 30, "implant", 2e9, label, "/tmp", "implant", "-c2")
	relabelled := func(pid uint32, start uint64) *sensor.Connect {
		ev := connectEv(pid, start, "192.0.2.1:4444")
		ev.Exe = sensor.File{Dev: 9, Ino: st.Ino}
		ev.Task.ExecID = 4
		ev.Relabeled, ev.ExecDev, ev.ExecIno = true, 1, implantIno
		return ev
	}
	for _, tc := range []struct {
		name string
		// forked: the table has the shell's identity for the pid, from
		// the fork record; otherwise nothing (the fork record was lost
		// too).
		forked bool
	}{{"after fork", true}, {"unknown pid", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnricher(t, root)
			const pid = 31
			if tc.forked {
				e.handle(&sensor.Exec{Header: sensor.Header{TGID: 30}, Task: sensor.Task{StartNs: 1e9, ExecID: 3},
					Exe: sensor.File{Dev: 1, Ino: 60}, Path: "/usr/bin/sh", Args: []string{"sh"}}, nil)
				e.handle(&sensor.Fork{Header: sensor.Header{TGID: pid}, StartNs: 2e9, ParentStartNs: 1e9, PPID: 30, ExecID: 3}, nil)
			}
			for i := range 2 {
				p := one(t, e.handle(relabelled(pid, 2e9), nil)).Process
				if p.Exe.Inode != implantIno || p.Exe.Device != 1 || p.Exe.Path != "" {
					t.Errorf("connect %d: exe %q device %d inode %d, want the executed file's identity (1, %d) and no path",
						i, p.Exe.Path, p.Exe.Device, p.Exe.Inode, implantIno)
				}
				if rl := p.ExeRelabeled; rl == nil || rl.Inode != st.Ino || rl.Path != label {
					t.Errorf("connect %d: exe_relabeled %+v, want %s inode %d", i, rl, label, st.Ino)
				}
				if !slices.Equal(p.Args, []string{"implant", "-c2"}) || p.Cwd != "/tmp" {
					t.Errorf("connect %d: args %q cwd %q, want /proc's", i, p.Args, p.Cwd)
				}
			}
			if s := e.Stats(); s.Relabeled != 1 || s.Reresolved != 1 {
				t.Errorf("stats: relabeled %d reresolved %d, want 1 and 1 (once per process)", s.Relabeled, s.Reresolved)
			}
		})
	}
	// Without the kernel's mark, the same records are read as a lost exec
	// and /proc's answer, the label, is taken: what the mark prevents.
	e := newEnricher(t, root)
	ev := relabelled(31, 2e9)
	ev.Relabeled = false
	if p := one(t, e.handle(ev, nil)).Process; p.Exe.Path != label {
		t.Errorf("unmarked: exe %q, want /proc's label %s (the test's premise)", p.Exe.Path, label)
	}
}

// labelFile writes the file a relabelling process names as its executable
// and returns its path and stat.
func labelFile(t *testing.T) (string, unix.Stat_t) {
	t.Helper()
	label := filepath.Join(t.TempDir(), "true")
	if err := os.WriteFile(label, []byte("trusted"), 0o755); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(label, &st); err != nil {
		t.Fatal(err)
	}
	return label, st
}
