package enrich

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/sensor"
)

func libEnricher(t *testing.T) *Enricher {
	t.Helper()
	paths, err := classify.NewPaths(classify.DefaultPathRules())
	if err != nil {
		t.Fatal(err)
	}
	preload := filepath.Join(t.TempDir(), "ld.so.preload")
	e, err := New(Options{Hostname: "lab1", ProcRoot: t.TempDir(), Paths: paths, PreloadFile: preload})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLoaderEnvClasses: each loader variable gets the classes of the
// paths it names; LD_PRELOAD's paths are remembered for the libraries; a
// cut value's last path is not judged (it is not the path the loader saw).
func TestLoaderEnvClasses(t *testing.T) {
	e := libEnricher(t)
	vars, preload := e.loaderEnv([]sensor.EnvVar{
		{Name: "LD_PRELOAD", Value: "/usr/lib/libok.so /tmp/a.so:/dev/shm/b.so"},
		{Name: "LD_LIBRARY_PATH", Value: "/opt/lib:/home/u/.cache/lib"},
		{Name: "LD_AUDIT", Value: "/usr/lib/x.so:/tmp/cu", Truncated: true},
	})
	if !slices.Equal(vars[0].PathClasses, []string{"tmp", "shm"}) || !slices.Equal(vars[1].PathClasses, []string{"hidden_dir"}) ||
		vars[2].PathClasses != nil || !vars[2].Truncated {
		t.Errorf("classes %v / %v / %v", vars[0].PathClasses, vars[1].PathClasses, vars[2].PathClasses)
	}
	if !slices.Equal(preload, []string{"/usr/lib/libok.so", "/tmp/a.so", "/dev/shm/b.so"}) {
		t.Errorf("preload paths %q", preload)
	}
}

// TestLibraryPreloadAttribution: a library LD_PRELOAD named is marked so;
// one /etc/ld.so.preload names is marked so, and the file is reread when
// it changes.
func TestLibraryPreloadAttribution(t *testing.T) {
	e := libEnricher(t)
	e.add(&Proc{PID: 40, StartNs: 7, ExePath: "/usr/bin/curl", preload: []string{"/tmp/a.so"}})
	lib := func(path string) *event.Library {
		it := e.libraryItem(&sensor.Library{Header: sensor.Header{Kind: sensor.KindLibrary, TGID: 40, TID: 40},
			Task: sensor.Task{StartNs: 7}, Path: path, File: sensor.File{Ino: 9}})
		return it.Rec.Library
	}
	if l := lib("/tmp/a.so"); l.Preload != "LD_PRELOAD" || !slices.Equal(l.PathClasses, []string{"tmp"}) || l.Via != "mmap" {
		t.Errorf("LD_PRELOAD library %+v", l)
	}
	if l := lib("/opt/evil.so"); l.Preload != "" {
		t.Errorf("library named by nothing marked %q", l.Preload)
	}
	if err := os.WriteFile(e.opts.PreloadFile, []byte("/opt/evil.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l := lib("/opt/evil.so"); l.Preload != "ld.so.preload" {
		t.Errorf("ld.so.preload library marked %q", l.Preload)
	}
	if err := os.WriteFile(e.opts.PreloadFile, []byte("/opt/other.so /opt/third.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l := lib("/opt/third.so"); l.Preload != "ld.so.preload" {
		t.Errorf("after the file changed, marked %q", l.Preload)
	}
}

// TestConnectionLibrariesRank: with more untrusted libraries than a record
// carries, the likeliest implants go on it: a program's own modules (an
// unpackaged Python's) do not crowd out a library dlopen()ed from /dev/shm.
func TestConnectionLibrariesRank(t *testing.T) {
	e := libEnricher(t)
	p := &Proc{PID: 41, ExePath: "/root/.pyenv/versions/3.11.7/bin/python3.11"}
	mk := func(path string, classes ...string) *library {
		return &library{done: true, rec: event.Library{Path: path, PathClasses: classes,
			Trust: &event.Trust{Verdict: "unowned", Severity: "LOW"}}}
	}
	for i := range 12 {
		p.libs = addLibrary(p.libs, mk("/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/m"+string(rune('a'+i))+".so", "hidden_dir"))
	}
	p.libs = addLibrary(p.libs, &library{done: true, rec: event.Library{Path: "/usr/lib/libc.so.6",
		Trust: &event.Trust{Verdict: "package_verified", Severity: "INFORMATIONAL"}}})
	p.libs = addLibrary(p.libs, mk("/dev/shm/x/native.so", "shm"))
	got, pending := e.connectionLibraries(p)
	if pending || len(got) != event.MaxLibraries || got[0].Path != "/dev/shm/x/native.so" {
		t.Fatalf("libraries %d, first %q (pending %v): want %d, the /dev/shm one first", len(got), got[0].Path, pending, event.MaxLibraries)
	}
	for _, l := range got {
		if l.Path == "/usr/lib/libc.so.6" {
			t.Error("a trusted library is on the record")
		}
	}
}

// TestAddLibraryBound: past the bound, judged-trusted libraries make room.
func TestAddLibraryBound(t *testing.T) {
	var libs []*library
	for range maxProcLibraries {
		libs = addLibrary(libs, &library{done: true, rec: event.Library{Trust: &event.Trust{Severity: "INFORMATIONAL"}}})
	}
	last := &library{rec: event.Library{Path: "/tmp/late.so"}}
	libs = addLibrary(libs, last)
	if len(libs) != 1 || libs[0] != last {
		t.Fatalf("%d libraries after the bound: want the trusted ones dropped for the new one", len(libs))
	}
}

// TestContainerPreloadList: a container's loader reads the container's
// /etc/ld.so.preload, not the host's: a library it names is marked so in
// that container only, the file is reread when it changes, and a symbolic
// link in the container that points at an absolute path is resolved in
// the container's root, never to the host's file of that name.
func TestContainerPreloadList(t *testing.T) {
	e := libEnricher(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctrList := filepath.Join(root, "etc", "ld.so.preload")
	if err := os.WriteFile(ctrList, []byte("/usr/local/lib/ctr.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.opts.PreloadFile, []byte("/opt/host.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctr := &container.Info{Container: &event.Container{ID: "c1", Runtime: "podman"}, Root: root}
	e.add(&Proc{PID: 50, StartNs: 7, ExePath: "/usr/bin/dpkg", ctr: ctr, ctrKnown: true})
	e.add(&Proc{PID: 51, StartNs: 7, ExePath: "/usr/bin/curl"})
	lib := func(pid uint32, path string) string {
		it := e.libraryItem(&sensor.Library{Header: sensor.Header{Kind: sensor.KindLibrary, TGID: pid, TID: pid},
			Task: sensor.Task{StartNs: 7}, Path: path, File: sensor.File{Ino: 9}})
		return it.Rec.Library.Preload
	}
	for _, c := range []struct {
		pid        uint32
		path, want string
	}{
		{50, "/usr/local/lib/ctr.so", "ld.so.preload"},
		{50, "/opt/host.so", ""}, // the host's list is not the container's
		{51, "/usr/local/lib/ctr.so", ""},
		{51, "/opt/host.so", "ld.so.preload"},
	} {
		if got := lib(c.pid, c.path); got != c.want {
			t.Errorf("pid %d library %s: preload %q, want %q", c.pid, c.path, got, c.want)
		}
	}
	if err := os.WriteFile(ctrList, []byte("/usr/lib/x:/usr/local/lib/second.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := lib(50, "/usr/local/lib/second.so"); got != "ld.so.preload" {
		t.Errorf("after the container's list changed: preload %q", got)
	}
	// A link to the host's list, by its absolute path: inside the
	// container's root that path does not exist.
	if err := os.Remove(ctrList); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e.opts.PreloadFile, ctrList); err != nil {
		t.Fatal(err)
	}
	if got := lib(50, "/opt/host.so"); got != "" {
		t.Errorf("a link in the container reached the host's list: preload %q", got)
	}
}
