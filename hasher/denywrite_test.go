package hasher

import (
	"testing"

	"golang.org/x/sys/unix"
)

// An implant touching its own binary moves mtime and ctime while it runs;
// exec's write denial proves the bytes are still those that ran, so the
// hash stands. Once the process is gone nothing vouches for them.
func TestTouchedWhileRunning(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	if !writeDeniedFS[int64(st.Type)] || !kernelDeniesWrite() {
		t.Skipf("skipping: the temporary directory's filesystem (%#x) or this kernel does not deny writes to running executables", st.Type)
	}
	touchLater()
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{now, now}, 0); err != nil {
		t.Fatal(err)
	}
	if got := statID(t, path); got.MtimeNs == id.MtimeNs || got.CtimeNs == id.CtimeNs {
		t.Fatalf("test setup: touch moved no time: %v vs %v", got, id)
	}
	req := execRequest(t, cmd, path, id)
	h := newTestHasher(t, Options{})
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourceProcExe)

	stop(t, cmd)
	h2 := newTestHasher(t, Options{})
	wantStatus(t, hashReq(t, h2, req), StatusChanged)
}

// A size change is never vouched for: the write denial came too late or
// not at all.
func TestTouchedAndGrownWhileRunning(t *testing.T) {
	path, _ := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	id.Size-- // as if the kernel had seen a shorter file at exec
	cmd := startSleep(t, path)
	h := newTestHasher(t, Options{})
	wantStatus(t, hashReq(t, h, execRequest(t, cmd, path, id)), StatusChanged)
}

func TestDeniesWrite(t *testing.T) {
	for rel, want := range map[string]bool{
		"6.18.44-fc-v1272": true, "6.12.0": true, "6.11.5-200.fc40.x86_64": false,
		"6.11": false, "6.1.0-18-amd64": true, "5.15.0": true,
	} {
		if got := deniesWrite(rel); got != want {
			t.Errorf("%s: %v, want %v", rel, got, want)
		}
	}
}

// The implant touches its binary while the hasher reads it: the process
// outlives the read, so the hash stands.
func TestTouchedWhileRead(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	if !writeDeniedFS[int64(st.Type)] || !kernelDeniesWrite() {
		t.Skipf("skipping: filesystem %#x or this kernel does not deny writes to running executables", st.Type)
	}
	touched := false
	h := newTestHasher(t, Options{afterRead: func(int64) {
		if touched {
			return
		}
		touched = true
		touchLater()
		now := unix.Timespec{Nsec: unix.UTIME_NOW}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{now, now}, 0); err != nil {
			t.Error(err)
		}
	}})
	wantHash(t, hashReq(t, h, execRequest(t, cmd, path, id)), sha256Hex(content), SourceProcExe)
	if !touched {
		t.Fatal("test setup: the read never reached the hook")
	}
}
