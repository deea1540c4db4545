package signature

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
)

// requireHostDpkg fails under CI (a Debian machine) and skips elsewhere
// when the host has no dpkg database.
func requireHostDpkg(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the host has no dpkg database: %v", err)
		}
		t.Skipf("skipping: the host has no dpkg database: %v", err)
	}
}

func TestHostTrueIsPackageVerified(t *testing.T) {
	requireHostDpkg(t)
	c, err := New(Options{TrustedKeyDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	t.Logf("host index: %d paths, %d packages, built in %v, %d problems", st.IndexPaths, st.IndexPackages, st.IndexBuild, st.IndexProblems)
	// Logged, not asserted: under -race or a loaded CI machine it is
	// several times slower. BenchmarkIndexBuildHost is the measure.

	exe, err := filepath.EvalSymlinks("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	o, ok := c.Owner(exe)
	if !ok || o.Package != "coreutils" || o.Manager != "dpkg" || !o.NeedsMD5() {
		t.Fatalf("Owner(%s) = %+v, %v; want coreutils, md5", exe, o, ok)
	}
	in := inputFor(t, exe, exe)
	if in.MD5 != o.Digest {
		t.Fatalf("md5 of %s is %s, database says %s", exe, in.MD5, o.Digest)
	}
	got := c.Verdict(in)
	expect(t, got, PackageVerified, Informational, "coreutils")
	b, _ := json.Marshal(got)
	if string(b) != `{"verdict":"package_verified","severity":"INFORMATIONAL","package":"coreutils"}` {
		t.Fatalf("json %s", b)
	}

	// Second call is a cache hit.
	c.Verdict(in)
	if s := c.Stats(); s.CacheHits != 1 || s.Verdicts[PackageVerified] != 2 {
		t.Fatalf("stats %+v", s)
	}

	// Without the md5 the hasher would have skipped, nothing is guessed.
	in2 := in
	in2.MD5, in2.HashStatus = "", "md5 not requested"
	in2.ID.CtimeNs++ // another version, so the cache does not answer
	got = c.Verdict(Input{Path: exe, ID: in2.ID, SHA256: in.SHA256, HashStatus: in2.HashStatus})
	expect(t, got, Unknown, Low, "coreutils")
	expectReason(t, got, "md5 not requested")
}

func TestHostCopyOfTrueIsUnowned(t *testing.T) {
	requireHostDpkg(t)
	dir := t.TempDir()
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "true")
	writeFile(t, p, string(b), 0o755)
	c, err := New(Options{TrustedKeyDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Owner(p); ok {
		t.Fatal("a copy in a temp dir has an owner")
	}
	got := c.Verdict(inputFor(t, p, p))
	expect(t, got, Unowned, Low, "")
}

func TestDpkgVerifiedAndModified(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "foo", files: map[string]string{"/usr/bin/foo": "foo v1\n", "/usr/bin/bar": "bar\n"}})
	// Tamper with one file after "installation".
	writeFile(t, r.path("usr/bin/bar"), "evil\n", 0o755)
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/usr/bin/foo"), PackageVerified, Informational, "foo")
	got := r.verdict(c, "/usr/bin/bar")
	expect(t, got, PackageModified, High, "foo")
	expectReason(t, got, "md5 digest differs from foo 1.0-1")
	// An unlisted file next to them.
	writeFile(t, r.path("usr/bin/baz"), "baz\n", 0o755)
	expect(t, r.verdict(c, "/usr/bin/baz"), Unowned, Low, "")
}

func TestDpkgMultiArch(t *testing.T) {
	r := newFakeRoot(t)
	r.install(
		fakePkg{name: "libfoo", arch: "amd64", multiArch: "same", files: map[string]string{"/usr/lib/x86_64-linux-gnu/foo-helper": "amd64 helper\n"}},
		fakePkg{name: "libfoo", arch: "i386", multiArch: "same", files: map[string]string{"/usr/lib/i386-linux-gnu/foo-helper": "i386 helper\n"}},
	)
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/usr/lib/x86_64-linux-gnu/foo-helper"), PackageVerified, Informational, "libfoo:amd64")
	expect(t, r.verdict(c, "/usr/lib/i386-linux-gnu/foo-helper"), PackageVerified, Informational, "libfoo:i386")
}

// A diverted path holds the diverting package's file; the other package's
// file lives at the divert-to path.
func TestDpkgDiversions(t *testing.T) {
	r := newFakeRoot(t)
	orig := fakePkg{name: "orig", files: map[string]string{"/usr/bin/tool": "original tool\n", "/usr/bin/other": "other\n"}, noInstall: true}
	wrap := fakePkg{name: "wrap", files: map[string]string{"/usr/bin/tool": "wrapper\n"}}
	r.install(orig, wrap)
	// dpkg put orig's /usr/bin/tool at the divert-to path.
	writeFile(t, r.path("usr/bin/tool.real"), "original tool\n", 0o755)
	writeFile(t, r.path("usr/bin/other"), "other\n", 0o755)
	// A local diversion: every package's copy moves, the admin's file stays.
	writeFile(t, r.path("usr/bin/other.distrib"), "other\n", 0o755)
	writeFile(t, r.path("var/lib/dpkg/diversions"),
		"/usr/bin/tool\n/usr/bin/tool.real\nwrap\n/usr/bin/other\n/usr/bin/other.distrib\n:\n", 0o644)
	c := r.checker(Options{})

	expect(t, r.verdict(c, "/usr/bin/tool"), PackageVerified, Informational, "wrap")
	got := r.verdict(c, "/usr/bin/tool.real")
	expect(t, got, PackageVerified, Informational, "orig")
	o, ok := c.Owner("/usr/bin/tool.real")
	if !ok || o.Package != "orig" || o.Listed != "/usr/bin/tool" || o.Digest != md5hex([]byte("original tool\n")) {
		t.Fatalf("Owner(tool.real) = %+v, %v", o, ok)
	}
	expect(t, r.verdict(c, "/usr/bin/other.distrib"), PackageVerified, Informational, "orig")
	expect(t, r.verdict(c, "/usr/bin/other"), Unowned, Low, "")

	// The wrapper's content at the divert-to path is not orig's file.
	writeFile(t, r.path("usr/bin/tool.real"), "wrapper\n", 0o755)
	got = r.verdict(c, "/usr/bin/tool.real")
	expect(t, got, PackageModified, High, "orig")
	expectReason(t, got, "listed as /usr/bin/tool")
}

// The kernel reports /usr/bin/foo on a merged-/usr system while dpkg may
// list /bin/foo, and the other way round.
func TestDpkgMergedUsr(t *testing.T) {
	r := newFakeRoot(t)
	r.mergeUsr()
	r.install(fakePkg{name: "old", files: map[string]string{"/bin/oldtool": "old style\n"}},
		fakePkg{name: "new", files: map[string]string{"/usr/sbin/newtool": "new style\n"}})
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/usr/bin/oldtool"), PackageVerified, Informational, "old")
	expect(t, r.verdict(c, "/bin/oldtool"), PackageVerified, Informational, "old")
	expect(t, r.verdict(c, "/sbin/newtool"), PackageVerified, Informational, "new")
	if o, ok := c.Owner("/usr/bin/oldtool"); !ok || o.Listed != "/bin/oldtool" {
		t.Fatalf("Owner = %+v, %v", o, ok)
	}

	// Without the symlinks the two spellings are different files.
	r2 := newFakeRoot(t)
	r2.install(fakePkg{name: "old", files: map[string]string{"/bin/oldtool": "old style\n"}})
	writeFile(t, r2.path("usr/bin/oldtool"), "old style\n", 0o755)
	c2 := r2.checker(Options{})
	expect(t, r2.verdict(c2, "/usr/bin/oldtool"), Unowned, Low, "")
	expect(t, r2.verdict(c2, "/bin/oldtool"), PackageVerified, Informational, "old")
}

func TestDpkgStates(t *testing.T) {
	r := newFakeRoot(t)
	r.install(
		fakePkg{name: "removed", status: "deinstall ok config-files", files: map[string]string{"/usr/bin/removed": "r\n"}},
		fakePkg{name: "mid", status: "install ok unpacked", files: map[string]string{"/usr/bin/mid": "new\n"}},
		fakePkg{name: "trig", status: "install ok triggers-pending", files: map[string]string{"/usr/bin/trig": "t\n"}},
	)
	writeFile(t, r.path("usr/bin/mid"), "old\n", 0o755)
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/usr/bin/removed"), Unowned, Low, "")
	got := r.verdict(c, "/usr/bin/mid")
	expect(t, got, Unknown, Low, "mid")
	expectReason(t, got, "being installed")
	expect(t, r.verdict(c, "/usr/bin/trig"), PackageVerified, Informational, "trig")
}

// dpkg journals status changes in updates/ before folding them into
// status; the journal wins.
func TestDpkgUpdatesJournal(t *testing.T) {
	r := newFakeRoot(t)
	a := fakePkg{name: "a", files: map[string]string{"/usr/bin/a": "a\n"}}
	b := fakePkg{name: "b", status: "install ok half-installed", files: map[string]string{"/usr/bin/b": "b\n"}}
	r.install(a, b)
	a.status = "purge ok not-installed"
	b.status = "install ok installed"
	writeFile(t, r.path("var/lib/dpkg/updates/0000"), a.stanza(), 0o644)
	writeFile(t, r.path("var/lib/dpkg/updates/0001"), b.stanza(), 0o644)
	writeFile(t, r.path("var/lib/dpkg/updates/tmp.i"), "garbage", 0o644)
	writeFile(t, r.path("usr/bin/b"), "b2\n", 0o755)
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/usr/bin/a"), Unowned, Low, "")
	// installed per the journal: a mismatch is a modification.
	expect(t, r.verdict(c, "/usr/bin/b"), PackageModified, High, "b")
}

func TestDpkgConffile(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "cron-thing", conffiles: map[string]string{"/etc/cron.daily/thing": "#!/bin/sh\n"}})
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/etc/cron.daily/thing"), PackageVerified, Informational, "cron-thing")
	writeFile(t, r.path("etc/cron.daily/thing"), "#!/bin/sh\necho edited\n", 0o755)
	got := r.verdict(c, "/etc/cron.daily/thing")
	expect(t, got, PackageModified, Medium, "cron-thing")
	expectReason(t, got, "conffile")
}

func TestDpkgCorruptStatus(t *testing.T) {
	r := newFakeRoot(t)
	good := fakePkg{name: "good", files: map[string]string{"/usr/bin/good": "good\n"}}
	bad := fakePkg{name: "bad", files: map[string]string{"/usr/bin/bad": "bad\n"}}
	r.install(good, bad)
	status := good.stanza() + "\n" + strings.Replace(bad.stanza(), "Status: install ok installed", "Status: installed", 1) +
		"\nthis line is not a field\nStatus: install ok installed\n"
	writeFile(t, r.path("var/lib/dpkg/status"), status, 0o644)
	c := r.checker(Options{})
	if c.Stats().IndexProblems != 2 {
		t.Fatalf("problems: %+v", c.ix.Load().problems)
	}
	expect(t, r.verdict(c, "/usr/bin/good"), PackageVerified, Informational, "good")
	got := r.verdict(c, "/usr/bin/bad")
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "dpkg status record for bad is malformed")
	// A stanza that names no package could have owned anything.
	writeFile(t, r.path("usr/local/bin/x"), "x\n", 0o755)
	got = r.verdict(c, "/usr/local/bin/x")
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "malformed stanzas naming no package")
}

func TestDpkgCorruptMD5Sums(t *testing.T) {
	r := newFakeRoot(t)
	sums := "zzzz  usr/bin/one\n" + md5hex([]byte("two\n")) + "  usr/bin/two\nnot a line\n"
	r.install(fakePkg{name: "p", files: map[string]string{"/usr/bin/one": "one\n", "/usr/bin/two": "two\n"}, sums: &sums})
	c := r.checker(Options{})
	expect(t, r.verdict(c, "/usr/bin/two"), PackageVerified, Informational, "p")
	got := r.verdict(c, "/usr/bin/one")
	expect(t, got, Unknown, Low, "p")
	expectReason(t, got, "p.md5sums has 2 malformed lines")
}

func TestMissingDatabase(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/bin/x"), "x\n", 0o755)
	c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Verdict(inputFor(t, "/usr/bin/x", filepath.Join(root, "usr/bin/x")))
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "no package database under")

	// A status file we cannot read is a reason too. Root reads through
	// permissions, so make it a directory instead.
	r := newFakeRoot(t)
	if err := os.MkdirAll(r.path("var/lib/dpkg/status"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, r.path("usr/bin/x"), "x\n", 0o755)
	c = r.checker(Options{})
	got = r.verdict(c, "/usr/bin/x")
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "read dpkg status")
}

func TestMemfdAndDeletedNeverInformational(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "foo", files: map[string]string{"/usr/bin/foo": "foo\n", "/usr/bin/gone": "gone v1\n"}})
	c := r.checker(Options{})

	// A real memfd, reached the way the pipeline would: /proc/self/fd.
	fd, err := unix.MemfdCreate("payload", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte("foo\n")); err != nil {
		t.Fatal(err)
	}
	mp := "/proc/self/fd/" + itoa(fd)
	in := inputFor(t, "/memfd:payload (deleted)", mp)
	got := c.Verdict(in)
	expect(t, got, Unowned, Medium, "")
	expectReason(t, got, "memfd")
	got = c.Verdict(Input{Path: "/memfd:payload (deleted)", Memfd: true, SHA256: in.SHA256})
	expect(t, got, Unowned, Medium, "")

	// Deleted, but its content is the package's: a program still running
	// after an upgrade. Still not INFORMATIONAL.
	f, err := os.Open(r.path("usr/bin/foo"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in = inputFor(t, "/usr/bin/foo", r.path("usr/bin/foo"))
	in.XattrPath = "/proc/self/fd/" + itoa(int(f.Fd()))
	if err := os.Remove(r.path("usr/bin/foo")); err != nil {
		t.Fatal(err)
	}
	in.Path = "/usr/bin/foo (deleted)"
	got = c.Verdict(in)
	expect(t, got, PackageVerified, Medium, "foo")
	expectReason(t, got, "deleted after exec")

	// Deleted and different from the database: the previous version of
	// an upgraded package, or tampering. Undecidable, so unknown.
	writeFile(t, r.path("usr/bin/gone"), "gone v0\n", 0o755)
	in = inputFor(t, "/usr/bin/gone", r.path("usr/bin/gone"))
	in.XattrPath = ""
	in.Deleted = true
	got = c.Verdict(in)
	expect(t, got, Unknown, Medium, "foo")
	expectReason(t, got, "replaced by an upgrade, or tampered")

	// A deleted unowned file.
	writeFile(t, r.path("tmp/x"), "x\n", 0o755)
	in = inputFor(t, "/tmp/x", r.path("tmp/x"))
	in.Deleted = true
	expect(t, c.Verdict(in), Unowned, Medium, "")
}

func itoa(n int) string { return strconv.Itoa(n) }

// A process in another mount namespace runs its own /usr/bin/foo; the
// host's record for /usr/bin/foo must not judge it.
func TestOtherFileAtOwnedPath(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "foo", files: map[string]string{"/usr/bin/foo": "host foo\n"}})
	c := r.checker(Options{})
	other := filepath.Join(t.TempDir(), "foo")
	writeFile(t, other, "container foo\n", 0o755)
	in := inputFor(t, "/usr/bin/foo", other)
	got := c.Verdict(in)
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "not the executed file")
}

func TestRefreshAfterUpgrade(t *testing.T) {
	r := newFakeRoot(t)
	v1 := fakePkg{name: "foo", version: "1", files: map[string]string{"/usr/bin/foo": "foo v1\n"}}
	r.install(v1)
	c := r.checker(Options{RefreshInterval: time.Hour})
	expect(t, r.verdict(c, "/usr/bin/foo"), PackageVerified, Informational, "foo")
	writeFile(t, r.path("usr/bin/new"), "new\n", 0o755)
	expect(t, r.verdict(c, "/usr/bin/new"), Unowned, Low, "")

	// An upgrade replaces the file and the database. Even with the
	// periodic check an hour away, the mismatch forces a look at the
	// database before anything is called modified.
	v2 := fakePkg{name: "foo", version: "2", files: map[string]string{"/usr/bin/foo": "foo v2\n", "/usr/bin/new": "new\n"}, noInstall: true}
	writeFile(t, r.path("usr/bin/foo"), "foo v2\n", 0o755)
	r.install(v2)
	bumpMtime(t, r.path("var/lib/dpkg/status"))
	got := r.verdict(c, "/usr/bin/foo")
	expect(t, got, PackageVerified, Informational, "foo")
	if c.Stats().Refreshes != 1 {
		t.Fatalf("refreshes %d", c.Stats().Refreshes)
	}
	// The refresh dropped cached verdicts: /usr/bin/new, untouched and
	// so the very version cached as unowned, is now owned.
	expect(t, r.verdict(c, "/usr/bin/new"), PackageVerified, Informational, "foo")

	// The periodic check: a new package appears. The lookup that notices
	// starts the rebuild in the background and answers from the old index;
	// once the rebuild is done the package is seen.
	c.interval = time.Hour
	c.nextCheck.Store(0)
	r.install(v2, fakePkg{name: "bar", files: map[string]string{"/usr/bin/bar": "bar\n"}})
	bumpMtime(t, r.path("var/lib/dpkg/status"))
	release := make(chan struct{})
	entered := make(chan struct{})
	testHookRebuild = func() {
		close(entered)
		<-release
	}
	defer func() { testHookRebuild = nil }()
	if _, ok := c.Owner("/usr/bin/bar"); ok {
		t.Fatal("the lookup waited for the rebuild")
	}
	<-entered // the rebuild is running, and stuck: lookups carry on
	if _, ok := c.Owner("/usr/bin/foo"); !ok {
		t.Fatal("lookup during the rebuild lost the old index")
	}
	close(release)
	c.background.Wait()
	if _, ok := c.Owner("/usr/bin/bar"); !ok {
		t.Fatal("new package not seen after refresh")
	}
}

func TestNoIDIsNotCached(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "foo", files: map[string]string{"/usr/bin/foo": "foo\n"}})
	c := r.checker(Options{})
	// Without an ID the checker stats the file itself.
	in := inputFor(t, "/usr/bin/foo", r.path("usr/bin/foo"))
	in.ID, in.XattrPath = fileid.ID{}, ""
	expect(t, c.Verdict(in), PackageVerified, Informational, "foo")
	expect(t, c.Verdict(in), PackageVerified, Informational, "foo")
	if s := c.Stats(); s.CacheHits != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnreadableXattrIsUnknown(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "foo", files: map[string]string{"/usr/bin/foo": "foo\n"}})
	writeFile(t, r.path("usr/local/bin/x"), "x\n", 0o755)
	c := r.checker(Options{})
	c.getxattr = func(string) ([]byte, error) { return nil, errors.New("read security.ima: input/output error") }
	got := r.verdict(c, "/usr/local/bin/x")
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "input/output error")
	// A package-verified file does not need its xattr.
	expect(t, r.verdict(c, "/usr/bin/foo"), PackageVerified, Informational, "foo")

	// For real: a symlink loop cannot be followed.
	c.getxattr = readIMA
	loop := r.path("loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	got = c.Verdict(Input{Path: "/usr/local/bin/x", XattrPath: loop, SHA256: "00"})
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "too many levels of symbolic links")
}

// Lookups from many goroutines while the database changes under them.
func TestConcurrentRefresh(t *testing.T) {
	r := newFakeRoot(t)
	r.install(fakePkg{name: "foo", files: map[string]string{"/usr/bin/foo": "foo\n"}})
	c := r.checker(Options{RefreshInterval: time.Millisecond})
	in := inputFor(t, "/usr/bin/foo", r.path("usr/bin/foo"))
	in.XattrPath = ""
	done := make(chan struct{})
	errs := make(chan Trust, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- Trust{}
					return
				default:
				}
				if got := c.Verdict(in); got.Verdict != PackageVerified {
					errs <- got
					return
				}
				c.Owner("/usr/bin/foo")
				c.Stats()
			}
		}()
	}
	for i := range 20 {
		r.install(fakePkg{name: "foo", version: strconv.Itoa(i), files: map[string]string{"/usr/bin/foo": "foo\n"}, noInstall: true})
		bumpMtime(t, r.path("var/lib/dpkg/status"))
		time.Sleep(2 * time.Millisecond)
	}
	close(done)
	for range 4 {
		if got := <-errs; got.Verdict != "" {
			t.Fatalf("verdict during refresh: %+v", got)
		}
	}
	if c.Stats().Refreshes == 0 {
		t.Fatal("no refresh happened")
	}
}
