package enrich

import (
	"testing"

	"github.com/argus-sensor/argus-sensor/sensor"
)

// A child whose exec record was lost still holds its parent's identity
// from the fork; its connect, whose executable the kernel names, must not
// carry the parent's path.
func TestConnectReresolvesLostExec(t *testing.T) {
	root := t.TempDir()
	e := newEnricher(t, root)
	e.handle(&sensor.Exec{Header: sensor.Header{TGID: 10}, Task: sensor.Task{StartNs: 1e9},
		Exe: sensor.File{Dev: 1, Ino: 50}, Path: "/usr/bin/bash", Args: []string{"bash"}}, nil)
	e.handle(&sensor.Fork{Header: sensor.Header{TGID: 11}, StartNs: 2e9, ParentStartNs: 1e9, PPID: 10}, nil)
	// The child exec'd /tmp/implant; that record was lost. /proc knows.
	fakeProc(t, root, 11, 10, "implant", 2e9, "/tmp/implant", "/tmp", "/tmp/implant")

	ev := connectEv(11, 2e9, "192.0.2.1:4444")
	ev.Exe = sensor.File{Dev: 1, Ino: 60}
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
