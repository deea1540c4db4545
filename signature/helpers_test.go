package signature

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// requireTool skips t when a command is missing; under CI=true, where
// .ci/run installs it, a missing tool fails instead.
func requireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (its package: .ci/tools)", n)
			}
			t.Skipf("skipping: %s is not installed (its package: .ci/tools)", n)
		}
	}
}

// requireRoot gates tests that write security.ima xattrs.
func requireRoot(t testing.TB) { t.Helper(); testutil.RequireRoot(t) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func md5hex(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// inputFor hashes the file at abs and fills an Input for the executable
// the kernel would report as path.
func inputFor(t testing.TB, path, abs string) Input {
	t.Helper()
	f, err := os.Open(abs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := fileid.Fstat(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Path: path, XattrPath: abs, ID: id, SHA256: sha256hex(b), MD5: md5hex(b)}
}

func writeFile(t testing.TB, name string, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	// Renamed into place, as dpkg and rpm do: a reader never sees a
	// half-written file, and the result is a new inode.
	tmp := name + ".argus-tmp"
	if err := os.WriteFile(tmp, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// fakePkg is one package in a fake dpkg root.
type fakePkg struct {
	name, arch, multiArch, version, status string
	// files maps listed path -> content written under root at the
	// installed location (written only when install is true).
	files map[string]string
	// sums overrides md5sums lines; nil means correct sums of files.
	sums      *string
	conffiles map[string]string
	noInstall bool
}

type fakeRoot struct {
	t    testing.TB
	root string
}

func newFakeRoot(t testing.TB) *fakeRoot {
	r := &fakeRoot{t: t, root: t.TempDir()}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(r.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *fakeRoot) path(p string) string { return filepath.Join(r.root, p) }

// mergeUsr makes /bin, /sbin and /lib symlinks into /usr, as Debian's
// usrmerge does.
func (r *fakeRoot) mergeUsr() {
	for _, d := range []string{"bin", "sbin", "lib"} {
		if err := os.MkdirAll(r.path("usr/"+d), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Symlink("usr/"+d, r.path(d)); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (p fakePkg) key() string {
	if p.multiArch == "same" {
		return p.name + ":" + p.arch
	}
	return p.name
}

func (p fakePkg) stanza() string {
	var b strings.Builder
	b.WriteString("Package: " + p.name + "\n")
	st := p.status
	if st == "" {
		st = "install ok installed"
	}
	b.WriteString("Status: " + st + "\n")
	b.WriteString("Priority: optional\n")
	arch := p.arch
	if arch == "" {
		arch = "amd64"
	}
	b.WriteString("Architecture: " + arch + "\n")
	if p.multiArch != "" {
		b.WriteString("Multi-Arch: " + p.multiArch + "\n")
	}
	v := p.version
	if v == "" {
		v = "1.0-1"
	}
	b.WriteString("Version: " + v + "\n")
	if len(p.conffiles) > 0 {
		b.WriteString("Conffiles:\n")
		for path, content := range p.conffiles {
			b.WriteString(" " + path + " " + md5hex([]byte(content)) + "\n")
		}
	}
	b.WriteString("Description: a test package\n with a continuation line\n .\n and another\n")
	return b.String()
}

// install writes the packages' status stanzas, info files and contents.
func (r *fakeRoot) install(pkgs ...fakePkg) {
	var status strings.Builder
	for i, p := range pkgs {
		if i > 0 {
			status.WriteString("\n")
		}
		status.WriteString(p.stanza())
		r.writeInfo(p)
	}
	writeFile(r.t, r.path("var/lib/dpkg/status"), status.String(), 0o644)
}

func (r *fakeRoot) writeInfo(p fakePkg) {
	var list, sums strings.Builder
	for path, content := range p.files {
		list.WriteString(path + "\n")
		sums.WriteString(md5hex([]byte(content)) + "  " + strings.TrimPrefix(path, "/") + "\n")
		if !p.noInstall {
			writeFile(r.t, r.path(path), content, 0o755)
		}
	}
	for path, content := range p.conffiles {
		list.WriteString(path + "\n")
		if !p.noInstall {
			writeFile(r.t, r.path(path), content, 0o755)
		}
	}
	if p.sums != nil {
		sums.Reset()
		sums.WriteString(*p.sums)
	}
	writeFile(r.t, r.path("var/lib/dpkg/info/"+p.key()+".list"), "/.\n/usr\n/usr/bin\n"+list.String(), 0o644)
	writeFile(r.t, r.path("var/lib/dpkg/info/"+p.key()+".md5sums"), sums.String(), 0o644)
}

func (r *fakeRoot) checker(opts Options) *Checker {
	r.t.Helper()
	opts.Root = r.root
	if opts.TrustedKeyDir == "" {
		opts.TrustedKeyDir = filepath.Join(r.root, "no-keys")
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(r.t)
	}
	c, err := New(opts)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// verdict hashes the file at path under the fake root and asks c.
func (r *fakeRoot) verdict(c *Checker, path string) Trust {
	r.t.Helper()
	in := inputFor(r.t, path, r.path(path))
	in.XattrPath = ""
	return c.Verdict(in)
}

func expect(t testing.TB, got Trust, v Verdict, sev Severity, pkg string) {
	t.Helper()
	if got.Verdict != v || got.Severity != sev || (pkg != "" && got.Package != pkg) {
		t.Fatalf("got %+v, want verdict %s severity %s package %q", got, v, sev, pkg)
	}
}

func expectReason(t testing.TB, got Trust, sub string) {
	t.Helper()
	if !strings.Contains(got.Reason, sub) {
		t.Fatalf("reason %q does not contain %q (verdict %+v)", got.Reason, sub, got)
	}
}

// bumpMtime makes sure a rewritten database file looks changed even on
// filesystems with coarse timestamps.
func bumpMtime(t testing.TB, p string) {
	t.Helper()
	future := time.Now().Add(time.Duration(time.Now().UnixNano()%1000+1) * time.Second)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
}

var _ = unix.Getxattr
