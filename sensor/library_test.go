package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// libraryAt matches library records of path.
func libraryAt(path string) func(Event) bool {
	return func(ev Event) bool {
		l, ok := ev.(*Library)
		return ok && l.Path == path
	}
}

// writeLib writes a small ELF file to map. Each test maps a marker file
// last: its record tells that everything before it has been read.
func writeLib(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	testutil.WriteExitELF(t, p, 0)
	return p
}

// TestLibraryMapOncePerProcess: a file mapped executable is reported with
// its kernel-walked path and identity, once per process however often it
// is mapped, and again for the next process.
func TestLibraryMapOncePerProcess(t *testing.T) {
	s, h := startSensor(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := realDir(t)
	lib := writeLib(t, dir, "libimplant.so")
	marker := writeLib(t, dir, "marker.so")
	w := h.subscribe(func(ev Event) bool { return libraryAt(lib)(ev) || libraryAt(marker)(ev) })
	defer w.stop()

	cmd := helperCmd(self, "map-exec", lib, "mmap", "3")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := helperCmd(self, "map-exec", marker, "mmap").Run(); err != nil {
		t.Fatal(err)
	}
	l := w.next(t, "library record").(*Library)
	if l.Path != lib || l.TGID != uint32(cmd.Process.Pid) || l.Mprotect || l.PathTruncated || l.Disconnected {
		t.Fatalf("record %+v: want %s mapped by pid %d via mmap", l, lib, cmd.Process.Pid)
	}
	assertIdentity(t, l.File, statOf(t, lib))
	if l.Task.StartNs == 0 || l.Task.PPID != uint32(os.Getpid()) {
		t.Errorf("task %+v", l.Task)
	}
	// The next library record is the marker's: the two further mappings
	// of lib by the same process made none.
	if next := w.next(t, "marker record").(*Library); next.Path != marker {
		t.Fatalf("after the first record of %s came %s: want one record per process", lib, next.Path)
	}
	if st, _ := s.Stats(); st.LibrariesRepeated < 2 || st.Read[KindLibrary] == 0 {
		t.Errorf("stats: %d repeated mappings, %d library reads; want at least 2 and 1", st.LibrariesRepeated, st.Read[KindLibrary])
	}
}

// TestLibraryMprotectToExec is the evasion of mapping a file readable and
// making it executable afterwards.
func TestLibraryMprotectToExec(t *testing.T) {
	s, h := startSensor(t)
	if s.libMprotect == nil {
		t.Skipf("skipping: the mprotect hook is not loaded: %v", s.mprotectErr)
	}
	self, _ := os.Executable()
	lib := writeLib(t, realDir(t), "late-exec.so")
	w := h.subscribe(libraryAt(lib))
	defer w.stop()
	cmd := helperCmd(self, "map-exec", lib, "mprotect")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	l := w.next(t, "library record").(*Library)
	if !l.Mprotect || l.TGID != uint32(cmd.Process.Pid) {
		t.Fatalf("record %+v: want the mprotect flag and pid %d", l, cmd.Process.Pid)
	}
}

// TestLibraryTrustedNotReported: a file userspace vouched for is not
// reported, until it changes (its ctime moves) and is reported again.
func TestLibraryTrustedNotReported(t *testing.T) {
	s, h := startSensor(t)
	self, _ := os.Executable()
	dir := realDir(t)
	lib := writeLib(t, dir, "libtrusted.so")
	marker := writeLib(t, dir, "marker.so")
	st := statOf(t, lib)
	if err := s.TrustLibrary(File{Dev: st.Dev, Ino: st.Ino, CtimeNs: st.Ctim.Nano()}); err != nil {
		t.Fatal(err)
	}
	w := h.subscribe(func(ev Event) bool { return libraryAt(lib)(ev) || libraryAt(marker)(ev) })
	defer w.stop()
	before, _ := s.Stats()
	if err := helperCmd(self, "map-exec", lib, "mmap").Run(); err != nil {
		t.Fatal(err)
	}
	if err := helperCmd(self, "map-exec", marker, "mmap").Run(); err != nil {
		t.Fatal(err)
	}
	if l := w.next(t, "marker record").(*Library); l.Path != marker {
		t.Fatalf("the trusted %s was reported", l.Path)
	}
	if after, _ := s.Stats(); after.LibrariesTrusted <= before.LibrariesTrusted {
		t.Errorf("trusted mappings counted %d, then %d: want more", before.LibrariesTrusted, after.LibrariesTrusted)
	}

	// A write changes the ctime: the exemption ends.
	time.Sleep(10 * time.Millisecond) // a coarse ctime clock must tick
	if err := os.WriteFile(lib, []byte("\x7fELF changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := helperCmd(self, "map-exec", lib, "mmap")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if l := w.next(t, "changed library record").(*Library); l.Path != lib || l.TGID != uint32(cmd.Process.Pid) {
		t.Fatalf("record %+v: want the changed %s from pid %d", l, lib, cmd.Process.Pid)
	}
}

// TestExecLoaderEnv: the loader variables of the new image's environment
// are captured at exec, and nothing else of it: not a secret, not a name
// that only starts or ends like a loader variable. A value past the bound
// is cut and flagged.
func TestExecLoaderEnv(t *testing.T) {
	_, h := startSensor(t)
	dir := realDir(t)
	tool := filepath.Join(dir, "envtool")
	testutil.WriteExitELF(t, tool, 0)
	long := "/opt/" + strings.Repeat("l", 600)
	w := h.subscribe(execPath(tool))
	defer w.stop()
	cmd := exec.Command(tool)
	cmd.Env = []string{"SECRET_TOKEN=hunter2", "XLD_PRELOAD=/no", "LD_PRELOADX=/no", "LD_PRELOAD=/tmp/T1574006.so",
		"LD_LIBRARY_PATH=" + long, "LD_AUDIT="}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, "exec").(*Exec)
	if e.LoaderEnvTruncated || len(e.LoaderEnv) != 3 {
		t.Fatalf("loader env %+v (truncated %v): want LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT", e.LoaderEnv, e.LoaderEnvTruncated)
	}
	if v := e.LoaderEnv[0]; v != (EnvVar{Name: "LD_PRELOAD", Value: "/tmp/T1574006.so"}) {
		t.Errorf("first %+v", v)
	}
	// 512 bytes with the name, '=' and NUL.
	if v := e.LoaderEnv[1]; v.Name != "LD_LIBRARY_PATH" || !v.Truncated || v.Value != long[:512-len("LD_LIBRARY_PATH=")-1] {
		t.Errorf("second %q (truncated %v): want the first bytes of the long value, truncated", v.Value, v.Truncated)
	}
	if v := e.LoaderEnv[2]; v != (EnvVar{Name: "LD_AUDIT"}) {
		t.Errorf("third %+v", v)
	}
}

// TestExecLoaderEnvBeyondScan is the evasion of hiding LD_PRELOAD behind
// an environment larger than the kernel scans: the launch says the scan
// did not reach the end.
func TestExecLoaderEnvBeyondScan(t *testing.T) {
	_, h := startSensor(t)
	tool := filepath.Join(realDir(t), "envtool")
	testutil.WriteExitELF(t, tool, 0)
	w := h.subscribe(execPath(tool))
	defer w.stop()
	cmd := exec.Command(tool)
	for i := range 400 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("PAD%d=x", i))
	}
	cmd.Env = append(cmd.Env, "LD_PRELOAD=/dev/shm/hidden.so")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if e := w.next(t, "exec").(*Exec); !e.LoaderEnvTruncated {
		t.Fatalf("loader env %+v not flagged truncated", e.LoaderEnv)
	}
}

// TestExecLoaderEnvBulkEdges: the scan reads the environment's first
// ENV_BULK (2048) bytes at once and judges their first 128 strings there,
// then goes on string by string. A loader variable must be found wherever
// it falls against those bounds: past the bulk read, across its end, and
// after more strings than the bulk pass judges.
func TestExecLoaderEnvBulkEdges(t *testing.T) {
	_, h := startSensor(t)
	tool := filepath.Join(realDir(t), "envtool")
	testutil.WriteExitELF(t, tool, 0)
	const bulk = 2048
	const preload = "LD_PRELOAD=/dev/shm/edge.so"
	// pad returns strings of the given total size in the environment
	// area (each with its NUL).
	pad := func(size int) []string {
		var env []string
		for i := 0; size > 0; i++ {
			n := min(size, 100)
			if size-n > 0 && size-n < 8 {
				n = size - 8 // leave room for one more of at least 8 bytes
			}
			name := fmt.Sprintf("P%d=", i)
			env = append(env, name+strings.Repeat("x", n-len(name)-1))
			size -= n
		}
		return env
	}
	for _, tc := range []struct {
		name string
		env  []string
	}{
		// LD_PRELOAD starts 6 bytes before the bulk read ends.
		{"across-the-bulk-end", append(pad(bulk-6), preload)},
		// It starts right at the end of the bulk read.
		{"at-the-bulk-end", append(pad(bulk), preload)},
		// It starts a kilobyte past the bulk read.
		{"past-the-bulk", append(pad(bulk+1024), preload)},
		// 200 short strings, in a few hundred bytes: the bulk pass judges
		// the first 128, the steps the rest.
		{"past-the-strings-judged", append(func() (e []string) {
			for i := range 200 {
				e = append(e, fmt.Sprintf("S%d=", i))
			}
			return e
		}(), preload)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := h.subscribe(execPath(tool))
			defer w.stop()
			cmd := exec.Command(tool)
			cmd.Env = tc.env
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			e := w.next(t, "exec").(*Exec)
			if e.LoaderEnvTruncated || len(e.LoaderEnv) != 1 || e.LoaderEnv[0] != (EnvVar{Name: "LD_PRELOAD", Value: "/dev/shm/edge.so"}) {
				t.Errorf("loader env %+v (truncated %v), want LD_PRELOAD=/dev/shm/edge.so alone", e.LoaderEnv, e.LoaderEnvTruncated)
			}
		})
	}
}
