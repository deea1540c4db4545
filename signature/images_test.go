package signature

import (
	"crypto/sha1"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// apkZ is an apk-tools 2 file checksum: "Q1" and base64 of the sha1.
func apkZ(content string) string {
	s := sha1.Sum([]byte(content))
	return "Q1" + base64.StdEncoding.EncodeToString(s[:])
}

// alpineRoot writes a root filesystem with an apk database in the shape
// apk-tools 2 writes it (/lib/apk/db/installed of an Alpine 3 minirootfs:
// C, P, V, A, S, I, T, U, L, o, m, t, c, D, p lines, F directories, R
// files with a, Z and M lines), whose Z checksums are those of the files
// written.
func alpineRoot(t *testing.T) string {
	root := t.TempDir()
	files := map[string]string{
		"bin/busybox":             "\x7fELF busybox 1.36.1\n",
		"lib/ld-musl-x86_64.so.1": "\x7fELF musl\n",
		"sbin/apk":                "\x7fELF apk-tools\n",
		"etc/motd":                "Welcome to Alpine!\n",
	}
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), c, 0o755)
	}
	db := `C:Q1x0eKAdTJ9/h9DP6fqhrcBhnEhoY=
P:musl
V:1.2.4-r2
A:x86_64
S:407278
I:662528
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1695736800
c:bc3df3f2c8a1b6a5d5c3e7a2e2b0d1e8f6a7c9d0
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:` + apkZ(files["lib/ld-musl-x86_64.so.1"]) + `
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1PLemyLMDLgqm1o31xz28Xqjgp1U=
P:busybox
V:1.36.1-r5
A:x86_64
S:509019
I:958464
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1699524600
c:4f4b6e0b5b6a3d3e5a6c7b8d9e0f1a2b3c4d5e6f
D:so:libc.musl-x86_64.so.1
p:/bin/sh cmd:busybox=1.36.1-r5 cmd:sh=1.36.1-r5
r:busybox-initscripts
F:bin
R:busybox
a:0:0:755
Z:` + apkZ(files["bin/busybox"]) + `
R:sh
a:0:0:777
Z:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=
F:etc
R:motd
Z:` + apkZ("the shipped motd\n") + `
F:tmp
M:0:0:1777

C:Q1z17XBdg6ccwBS8AgMS6qbSceHew=
P:apk-tools
V:2.14.0-r5
A:x86_64
S:120973
I:307200
T:Alpine Package Keeper - package manager for alpine
U:https://gitlab.alpinelinux.org/alpine/apk-tools
L:GPL-2.0-only
o:apk-tools
m:Natanael Copa <ncopa@alpinelinux.org>
t:1699524600
c:d627ad2cf81fefe7873f6cb3c5b03222b4a2eb64
D:musl>=1.2 so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3 so:libz.so.1
p:so:libapk.so.2.14.0=2.14.0 cmd:apk=2.14.0-r5
F:sbin
R:apk
a:0:0:755
Z:` + apkZ(files["sbin/apk"]) + `
F:var
F:var/lib
F:var/lib/apk

`
	writeFile(t, filepath.Join(root, apkInstalled), db, 0o644)
	return root
}

func TestParseAPKInstalled(t *testing.T) {
	root := alpineRoot(t)
	b, err := os.ReadFile(filepath.Join(root, apkInstalled))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, bad, err := parseAPKInstalled(strings.NewReader(string(b)))
	if err != nil || bad != 0 {
		t.Fatalf("parse: %v, %d bad lines", err, bad)
	}
	if len(pkgs) != 3 || pkgs[1].name != "busybox" || pkgs[1].version != "1.36.1-r5" {
		t.Fatalf("packages: %+v", pkgs)
	}
	want := []string{"/bin/busybox", "/bin/sh", "/etc/motd"}
	var got []string
	for _, f := range pkgs[1].files {
		got = append(got, f.path)
		if f.digest == "" || f.algo.Size() != 20 {
			t.Errorf("%s: digest %q algo %v", f.path, f.digest, f.algo)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("busybox files %v, want %v", got, want)
	}
}

// A container's executables are judged by the container's own apk
// database, read through its root, and not by the host's.
func TestVerdictInAlpineImage(t *testing.T) {
	root := alpineRoot(t)
	host := newFakeRoot(t) // a host whose dpkg knows none of these
	c := host.checker(Options{})
	in := func(p string) Input {
		i := inputFor(t, p, filepath.Join(root, p))
		i.XattrPath = ""
		return i
	}
	expect(t, c.VerdictIn("alpine-img", root, in("/bin/busybox")), PackageVerified, Informational, "busybox")
	expect(t, c.VerdictIn("alpine-img", root, in("/sbin/apk")), PackageVerified, Informational, "apk-tools")
	// Not what the package shipped.
	got := c.VerdictIn("alpine-img", root, in("/etc/motd"))
	expect(t, got, PackageModified, High, "busybox")
	expectReason(t, got, "sha1 digest differs from busybox 1.36.1-r5")
	// Dropped into the container.
	writeFile(t, filepath.Join(root, "usr/local/bin/implant"), "\x7fELF implant\n", 0o755)
	expect(t, c.VerdictIn("alpine-img", root, in("/usr/local/bin/implant")), Unowned, Low, "")
	// The host's verdict for the same path is the host's.
	if o, ok := c.Owner("/bin/busybox"); ok {
		t.Errorf("host owner of /bin/busybox: %+v", o)
	}
	if o, ok := c.OwnerIn("alpine-img", root, "/bin/busybox"); !ok || o.Manager != "apk" || o.DigestAlgo != "sha1" {
		t.Errorf("OwnerIn busybox: %+v, %v", o, ok)
	}
	if s := c.Stats(); s.ImageIndexes != 1 || s.ImageIndexBuilds != 1 {
		t.Errorf("image indexes %d, builds %d; want 1, 1", s.ImageIndexes, s.ImageIndexBuilds)
	}
}

// dpkg in a container, and the bound on indexes: one per image, the
// least recently used dropped beyond MaxImages, and an image without any
// database (its process gone) not kept.
func TestVerdictInDpkgImagesBounded(t *testing.T) {
	img := newFakeRoot(t)
	img.install(fakePkg{name: "coreutils", files: map[string]string{"/usr/bin/true": "true v9\n"}})
	host := newFakeRoot(t)
	c := host.checker(Options{MaxImages: 2})
	in := inputFor(t, "/usr/bin/true", img.path("usr/bin/true"))
	in.XattrPath = ""
	for _, name := range []string{"a", "b", "c", "a"} {
		expect(t, c.VerdictIn(name, img.root, in), PackageVerified, Informational, "coreutils")
	}
	if s := c.Stats(); s.ImageIndexes != 2 || s.ImageIndexBuilds != 4 {
		t.Errorf("image indexes %d, builds %d; want 2 held, 4 built (a rebuilt after c pushed it out)", s.ImageIndexes, s.ImageIndexBuilds)
	}
	gone := filepath.Join(t.TempDir(), "gone")
	got := c.VerdictIn("d", gone, Input{Path: "/usr/bin/true", SHA256: in.SHA256})
	expect(t, got, Unknown, Low, "")
	if s := c.Stats(); s.ImageIndexBuilds != 4 {
		t.Errorf("an image without a database was kept: %d builds", s.ImageIndexBuilds)
	}
}

// TestIndexSizeEstimate: the size the image bound counts is the heap an
// index takes, within a third, measured on this host's dpkg database
// (about 100,000 paths here).
func TestIndexSizeEstimate(t *testing.T) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		t.Skip("skipping: no dpkg database on this host")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := newIndex(findAliases("/"))
	if _, err := addDpkg(ix, "/"); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew, est := int64(after.HeapAlloc)-int64(before.HeapAlloc), ix.approxBytes()
	t.Logf("%d paths, %d packages: heap grew %d bytes, estimate %d", len(ix.files), ix.packages, grew, est)
	if len(ix.files) < 1000 {
		t.Skipf("skipping: %d paths is too few to measure", len(ix.files))
	}
	if est < grew*2/3 || est > grew*4/3 {
		t.Errorf("estimate %d bytes for a heap of %d", est, grew)
	}
	runtime.KeepAlive(ix)
}

// The byte bound: indexes beyond MaxImageBytes together are dropped,
// least recently used first, but the one just built is kept even alone
// over the bound.
func TestImageIndexesBoundedByBytes(t *testing.T) {
	img := newFakeRoot(t)
	img.install(fakePkg{name: "coreutils", files: map[string]string{"/usr/bin/true": "true v9\n"}})
	host := newFakeRoot(t)
	probe := host.checker(Options{})
	in := inputFor(t, "/usr/bin/true", img.path("usr/bin/true"))
	in.XattrPath = ""
	probe.VerdictIn("probe", img.root, in)
	one := probe.Stats().ImageIndexBytes
	if one <= 0 {
		t.Fatalf("one image index counted %d bytes", one)
	}
	c := host.checker(Options{MaxImages: 16, MaxImageBytes: 2*one + one/2})
	for _, name := range []string{"a", "b", "c"} {
		expect(t, c.VerdictIn(name, img.root, in), PackageVerified, Informational, "coreutils")
	}
	if s := c.Stats(); s.ImageIndexes != 2 || s.ImageIndexBytes != 2*one {
		t.Errorf("held %d indexes of %d bytes, want 2 of %d (room for two and a half)", s.ImageIndexes, s.ImageIndexBytes, 2*one)
	}
	c.VerdictIn("a", img.root, in) // a was pushed out: rebuilt
	if s := c.Stats(); s.ImageIndexBuilds != 4 {
		t.Errorf("%d builds, want 4 (a rebuilt)", s.ImageIndexBuilds)
	}
	tiny := host.checker(Options{MaxImageBytes: 1})
	tiny.VerdictIn("a", img.root, in)
	tiny.VerdictIn("b", img.root, in)
	if s := tiny.Stats(); s.ImageIndexes != 1 || s.ImageIndexBytes != one {
		t.Errorf("over the bound alone: %d held of %d bytes, want the newest one", s.ImageIndexes, s.ImageIndexBytes)
	}
}
