package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// buildLibrary compiles testdata/preload.c into a shared object at path,
// with salt making its digest its own, and returns that digest.
func buildLibrary(t *testing.T, gcc, path, salt string) string {
	t.Helper()
	if b, err := exec.Command(gcc, "-shared", "-fPIC", "-o", path, `-DSALT="`+salt+`"`, "testdata/preload.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, b)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func isLibrary(path string) func(*event.Record) bool {
	return func(r *event.Record) bool { return r.Kind == event.KindLibraryLoad && r.Library.Path == path }
}

// TestT1574006Preload is Atomic Red Team's T1574.006 "Shared Library
// Injection via LD_PRELOAD" against a package-verified program: a library
// built from C into a temporary directory, preloaded into /usr/bin/curl,
// which connects to an external address. The launch shows the preload,
// the library_load the unowned library, and one T1587 detection names the
// library's sha256 (curl's own is trusted).
func TestT1574006Preload(t *testing.T) {
	testutil.RequireRoot(t)
	gcc := needTool(t, "gcc", "gcc")
	curl := needTool(t, "curl", "curl")
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	lib := filepath.Join(dir, "T1574006.so")
	libSHA := buildLibrary(t, gcc, lib, "T1574006-"+filepath.Base(dir))

	out, stop := startAgentWith(t, dir, oneFile)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	// env sets LD_PRELOAD for curl alone.
	c := n.Command("env", "LD_PRELOAD="+lib, curl, "-s", "-m", "3", "http://"+external+"/")
	c.Run() // the server closes at once: curl's exit status says so
	launch := out.await(t, "curl's launch", func(r *event.Record) bool {
		return r.Kind == event.KindProcessLaunch && r.Process.Exe.Path == curl && len(r.Process.LoaderEnv) > 0
	})
	if got := launch.Process.LoaderEnv; len(got) != 1 || got[0].Name != "LD_PRELOAD" || got[0].Value != lib ||
		!slices.Equal(got[0].PathClasses, []string{"tmp"}) {
		t.Errorf("launch loader_env %+v: want LD_PRELOAD=%s with class tmp", got, lib)
	}
	if tr := launch.Process.Exe.Trust; tr == nil || tr.Verdict != "package_verified" {
		t.Errorf("curl trust %+v, want package_verified", tr)
	}
	load := out.await(t, "the library's load", isLibrary(lib))
	if l := load.Library; l.SHA256 != libSHA || l.Trust == nil || l.Trust.Verdict != "unowned" ||
		!slices.Equal(l.PathClasses, []string{"tmp"}) || l.Preload != "LD_PRELOAD" || l.Via != "mmap" ||
		load.Process.PID != launch.Process.PID || load.Process.Exe.Path != curl {
		t.Errorf("library_load %+v trust %+v process %d %s: want %s unowned, tmp, preloaded, by curl pid %d",
			l, l.Trust, load.Process.PID, load.Process.Exe.Path, libSHA, launch.Process.PID)
	}
	conn := out.await(t, "curl's connection", func(r *event.Record) bool {
		return connTo(external)(r) && r.Process.PID == launch.Process.PID
	})
	if !slices.ContainsFunc(conn.Process.Libraries, func(l event.Library) bool { return l.SHA256 == libSHA }) {
		t.Errorf("connection's process.libraries %+v: want the library", conn.Process.Libraries)
	}
	det := out.await(t, "detection", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == libSHA
	})
	if d := det.Detection; d.Technique != "T1587" || len(d.Events) != 2 || d.Events[0].Kind != event.KindLibraryLoad ||
		!strings.Contains(d.Summary, "loaded by "+curl) {
		t.Errorf("detection %+v", d)
	}
	stop()
	stopped = true
	if got := out.detections(t, libSHA); got != 1 {
		t.Errorf("%d detections naming the library, want exactly 1", got)
	}
	if got := out.detections(t, launch.Process.Exe.SHA256); got != 0 {
		t.Errorf("%d detections naming curl, want none", got)
	}
	t.Logf("%d records match the argus.v1 schema", schematest.File(t, out.path))
}

// TestLibraryDlopenShm: a Python process loads a library from /dev/shm
// with ctypes (dlopen) and then connects out: detected, on the library.
func TestLibraryDlopenShm(t *testing.T) {
	testutil.RequireRoot(t)
	gcc := needTool(t, "gcc", "gcc")
	python := needTool(t, "python3", "python3")
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	shm, err := os.MkdirTemp("/dev/shm", "argus-dlopen-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	lib := filepath.Join(shm, "native.so")
	libSHA := buildLibrary(t, gcc, lib, "dlopen-"+filepath.Base(shm))

	out, stop := startAgentWith(t, dir, oneFile)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	code := "import ctypes, socket\nctypes.CDLL(" + `"` + lib + `"` + ")\n" +
		"socket.create_connection((\"" + testutil.ServerV4 + "\", 4444), 3).close()\n"
	if b, err := n.Command(python, "-c", code).CombinedOutput(); err != nil {
		t.Fatalf("python: %v %s", err, b)
	}
	load := out.await(t, "the library's load", isLibrary(lib))
	if l := load.Library; l.SHA256 != libSHA || !slices.Contains(l.PathClasses, "shm") || l.Preload != "" {
		t.Errorf("library_load %+v: want %s, class shm, not preloaded", l, libSHA)
	}
	out.await(t, "detection", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == libSHA
	})
	stop()
	stopped = true
	if got := out.detections(t, libSHA); got != 1 {
		t.Errorf("%d detections naming the library, want exactly 1", got)
	}
}

// TestLibraryPackageOnly: a program loading only its packages' libraries
// gives no detection, its libraries are judged package_verified, and once
// judged the kernel stops reporting them: a third run has no library_load
// records at all.
func TestLibraryPackageOnly(t *testing.T) {
	testutil.RequireRoot(t)
	curl := needTool(t, "curl", "curl")
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out, stop := startAgentWith(t, dir, oneFile)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	var pids []uint32
	for range 3 {
		c := n.Command(curl, "-s", "-m", "3", "http://"+external+"/")
		c.Run()
		// The connection goes out after every record before it, so the
		// libraries its run loaded first have been judged by then.
		conn := out.await(t, "curl's connection", func(r *event.Record) bool {
			return connTo(external)(r) && r.Process.Exe.Path == curl && !slices.Contains(pids, r.Process.PID)
		})
		pids = append(pids, conn.Process.PID)
		if len(conn.Process.Libraries) != 0 {
			t.Errorf("connection carries libraries %+v: want none", conn.Process.Libraries)
		}
	}
	stop()
	stopped = true
	loads, trustedSkipped := 0, uint64(0)
	for _, r := range out.records(t) {
		switch {
		case r.Kind == event.KindSensorHealth && r.Health.State == "stopped":
			trustedSkipped = r.Health.LibrariesTrusted
		case r.Kind == event.KindDetection:
			t.Errorf("detection: %s", r.Detection.Summary)
		case r.Kind == event.KindLibraryLoad && slices.Contains(pids, r.Process.PID):
			loads++
			if tr := r.Library.Trust; tr == nil || tr.Severity != "INFORMATIONAL" {
				t.Errorf("curl's library %s trust %+v: want a package's", r.Library.Path, tr)
			}
			if r.Process.PID == pids[2] {
				t.Errorf("third run: library %s reported after it was judged trusted", r.Library.Path)
			}
		}
	}
	if trustedSkipped == 0 {
		t.Error("the final sensor_health counts no mapping left out as trusted")
	}
	t.Logf("%d library_load records over three runs of curl; %d trusted mappings left out in the kernel", loads, trustedSkipped)
}

// TestLibraryMemfdEvasion is the fileless variant: the library is written
// to a memfd and loaded from /proc/self/fd, so it has no path to hash.
// It is still detected, joined on its file identity.
func TestLibraryMemfdEvasion(t *testing.T) {
	testutil.RequireRoot(t)
	gcc := needTool(t, "gcc", "gcc")
	python := needTool(t, "python3", "python3")
	n := testutil.NewNetPair(t)
	external := testutil.ServerV4 + ":4444"
	n.Listen(t, external)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	src := filepath.Join(dir, "payload.so")
	buildLibrary(t, gcc, src, "memfd-"+filepath.Base(dir))

	out, stop := startAgentWith(t, dir, oneFile)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	code := "import ctypes, os, socket\nfd = os.memfd_create('argus-lib')\n" +
		"os.write(fd, open('" + src + "', 'rb').read())\n" +
		"ctypes.CDLL('/proc/self/fd/%d' % fd)\n" +
		"socket.create_connection(('" + testutil.ServerV4 + "', 4444), 3).close()\n"
	if b, err := n.Command(python, "-c", code).CombinedOutput(); err != nil {
		t.Fatalf("python: %v %s", err, b)
	}
	load := out.await(t, "the memfd library's load", func(r *event.Record) bool {
		return r.Kind == event.KindLibraryLoad && r.Library.Memfd
	})
	if l := load.Library; !slices.Contains(l.PathClasses, "memfd") || l.HashStatus != "gone" || l.SHA256 != "" {
		t.Errorf("library_load %+v: want class memfd, hash_status gone", l)
	}
	det := out.await(t, "detection on the file identity", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.JoinKey == "file_identity" &&
			r.Detection.Events[0].Kind == event.KindLibraryLoad
	})
	if d := det.Detection; d.Technique != "T1587" || d.Events[0].Library.Inode != load.Library.Inode {
		t.Errorf("detection %+v", d)
	}
	stop()
	stopped = true
}

// oneFile keeps the agent's output in one file however busy the host is:
// the counts at the end read that file, which must not rotate.
func oneFile(c *Config) { c.Outputs[0].File.MaxBytes = 4 << 30 }
