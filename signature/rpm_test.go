package signature

import (
	"crypto"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const rpmSpec = `Name: argus-hello
Version: 1.0
Release: 1
Summary: argus-sensor signature test package
License: MIT
BuildArch: noarch
%description
One script and one conffile, for the signature package's tests.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc
printf '#!/bin/sh\necho hello\n' > %{buildroot}/usr/bin/argus-hello
chmod 755 %{buildroot}/usr/bin/argus-hello
printf 'greeting=hello\n' > %{buildroot}/etc/argus-hello.conf
%files
/usr/bin/argus-hello
%config /etc/argus-hello.conf
`

// installTestRPM builds a one-file rpm with Debian's rpmbuild and installs
// it with rpm into a fresh root, whose database rpm creates as sqlite
// (forced, in case a future default differs). It returns the root.
func installTestRPM(t *testing.T, dbpath string) string {
	t.Helper()
	requireTool(t, "rpm", "rpmbuild")
	work := t.TempDir()
	spec := filepath.Join(work, "hello.spec")
	writeFile(t, spec, rpmSpec, 0o644)
	run(t, "rpmbuild", "-bb", "--quiet",
		"--define", "_topdir "+filepath.Join(work, "top"),
		"--define", "_build_id_links none",
		"--define", "__os_install_post %{nil}",
		spec)
	pkg := filepath.Join(work, "top/RPMS/noarch/argus-hello-1.0-1.noarch.rpm")
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--dbpath", dbpath,
		"--define", "_db_backend sqlite",
		"-i", "--nodeps", "--noscripts", "--ignorearch", "--ignoreos", pkg)
	return root
}

func TestRPMSqliteVerifiedAndModified(t *testing.T) {
	for _, dbpath := range []string{"/var/lib/rpm", "/usr/lib/sysimage/rpm"} {
		t.Run(strings.ReplaceAll(dbpath, "/", "_"), func(t *testing.T) {
			root := installTestRPM(t, dbpath)
			if _, err := os.Stat(filepath.Join(root, dbpath, "rpmdb.sqlite")); err != nil {
				t.Fatalf("rpm did not create a sqlite database: %v", err)
			}
			c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			o, ok := c.Owner("/usr/bin/argus-hello")
			if !ok || o.Manager != "rpm" || o.Package != "argus-hello" || o.DigestAlgo != "sha256" || o.Version != "1.0-1.noarch" {
				t.Fatalf("Owner = %+v, %v", o, ok)
			}
			if o.NeedsMD5() {
				t.Fatal("an rpm sha256 owner asks for md5")
			}
			p := filepath.Join(root, "usr/bin/argus-hello")
			expect(t, c.Verdict(inputFor(t, "/usr/bin/argus-hello", p)), PackageVerified, Informational, "argus-hello")
			if co, ok := c.Owner("/etc/argus-hello.conf"); !ok || !co.Conffile {
				t.Fatalf("conffile Owner = %+v, %v", co, ok)
			}

			// Modified in place: a new ID, so no cached answer.
			writeFile(t, p, "#!/bin/sh\necho pwned\n", 0o755)
			got := c.Verdict(inputFor(t, "/usr/bin/argus-hello", p))
			expect(t, got, PackageModified, High, "argus-hello")
			expectReason(t, got, "sha256 digest differs from argus-hello")

			// Reading must not have written to the database directory.
			ents, _ := os.ReadDir(filepath.Join(root, dbpath))
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), "-journal") {
					t.Fatalf("reader left %s behind", e.Name())
				}
			}
		})
	}
}

// Fedora links /var/lib/rpm to the sysimage directory: one database, read
// once.
func TestRPMSymlinkedDBReadOnce(t *testing.T) {
	root := installTestRPM(t, "/usr/lib/sysimage/rpm")
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../usr/lib/sysimage/rpm", filepath.Join(root, "var/lib/rpm")); err != nil {
		t.Fatal(err)
	}
	if dbs := findRPMDBs(root); len(dbs) != 1 {
		t.Fatalf("found %v", dbs)
	}
	c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.IndexPackages != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// An ndb database (SUSE) is not read: files it may own are unknown, never
// unowned. (Berkeley DB: rpmbdb_test.go.)
func TestRPMUnsupportedBackend(t *testing.T) {
	for name, backend := range map[string]string{"Packages.db": "ndb"} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "var/lib/rpm", name), "\x00\x00\x00\x00", 0o644)
		writeFile(t, filepath.Join(root, "usr/bin/x"), "x\n", 0o755)
		c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		got := c.Verdict(inputFor(t, "/usr/bin/x", filepath.Join(root, "usr/bin/x")))
		expect(t, got, Unknown, Low, "")
		expectReason(t, got, "uses the "+backend+" backend, which is not supported")
	}
}

func TestRPMCorruptDatabase(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"), "this is not a database", 0o644)
	writeFile(t, filepath.Join(root, "usr/bin/x"), "x\n", 0o755)
	c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Verdict(inputFor(t, "/usr/bin/x", filepath.Join(root, "usr/bin/x")))
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "rpmdb")
}

// A real database with one header blob replaced by garbage: that package
// is lost, so misses are unknown, but the database is still read.
func TestRPMCorruptHeader(t *testing.T) {
	root := installTestRPM(t, "/var/lib/rpm")
	dbfile := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
	db, err := sql.Open("sqlite", dbfile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO Packages (blob) VALUES (x'0000000100000000deadbeef')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	writeFile(t, filepath.Join(root, "usr/bin/x"), "x\n", 0o755)
	c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c.Verdict(inputFor(t, "/usr/bin/argus-hello", filepath.Join(root, "usr/bin/argus-hello"))), PackageVerified, Informational, "argus-hello")
	got := c.Verdict(inputFor(t, "/usr/bin/x", filepath.Join(root, "usr/bin/x")))
	expect(t, got, Unknown, Low, "")
	expectReason(t, got, "malformed")
}

// rpmHeaderBuilder writes header blobs for parser tests.
type rpmHeaderBuilder struct {
	index, data []byte
	n           int
}

func (b *rpmHeaderBuilder) add(tag, typ uint32, count int, payload []byte) {
	if typ == rpmTypeInt32 {
		for len(b.data)%4 != 0 {
			b.data = append(b.data, 0)
		}
	}
	e := make([]byte, 16)
	binary.BigEndian.PutUint32(e[0:], tag)
	binary.BigEndian.PutUint32(e[4:], typ)
	binary.BigEndian.PutUint32(e[8:], uint32(len(b.data)))
	binary.BigEndian.PutUint32(e[12:], uint32(count))
	b.index = append(b.index, e...)
	b.data = append(b.data, payload...)
	b.n++
}

func (b *rpmHeaderBuilder) strs(tag, typ uint32, s ...string) {
	var p []byte
	for _, x := range s {
		p = append(append(p, x...), 0)
	}
	b.add(tag, typ, len(s), p)
}

func (b *rpmHeaderBuilder) int32s(tag uint32, v ...uint32) {
	p := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(p[i*4:], x)
	}
	b.add(tag, rpmTypeInt32, len(v), p)
}

func (b *rpmHeaderBuilder) bytes() []byte {
	out := make([]byte, 8)
	binary.BigEndian.PutUint32(out[0:], uint32(b.n))
	binary.BigEndian.PutUint32(out[4:], uint32(len(b.data)))
	return append(append(out, b.index...), b.data...)
}

func TestDecodeRPMPackage(t *testing.T) {
	var b rpmHeaderBuilder
	b.strs(rpmTagName, rpmTypeString, "tool")
	b.strs(rpmTagVersion, rpmTypeString, "2.0")
	b.strs(rpmTagRelease, rpmTypeString, "3.el9")
	b.strs(rpmTagArch, rpmTypeString, "x86_64")
	b.strs(rpmTagBaseNames, rpmTypeStringArray, "tool", "tool.conf", "ghost.log", "old")
	b.strs(rpmTagDirNames, rpmTypeStringArray, "/usr/bin/", "/etc/")
	b.int32s(rpmTagDirIndexes, 0, 1, 1, 0)
	b.strs(rpmTagFileDigests, rpmTypeStringArray, "AA", "bb", "", "cc")
	b.int32s(rpmTagFileFlags, 0, rpmFileConfig, rpmFileGhost, 0)
	b.add(rpmTagFileStates, rpmTypeChar, 4, []byte{0, 0, 0, 1})
	b.int32s(rpmTagFileDigestAlgo, 10)
	p, err := decodeRPMPackage(b.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if p.name != "tool" || p.version != "2.0-3.el9.x86_64" || p.algo != crypto.SHA512 || len(p.files) != 4 {
		t.Fatalf("%+v", p)
	}
	want := []rpmFile{
		{path: "/usr/bin/tool", digest: "aa"},
		{path: "/etc/tool.conf", digest: "bb", flags: rpmFileConfig},
		{path: "/etc/ghost.log", flags: rpmFileGhost},
		{path: "/usr/bin/old", digest: "cc", skip: true},
	}
	for i, f := range want {
		if p.files[i] != f {
			t.Errorf("file %d: %+v, want %+v", i, p.files[i], f)
		}
	}

	// Out-of-range dir index, truncated blob, wrong type: errors, no panic.
	var bad rpmHeaderBuilder
	bad.strs(rpmTagName, rpmTypeString, "x")
	bad.strs(rpmTagBaseNames, rpmTypeStringArray, "a")
	bad.strs(rpmTagDirNames, rpmTypeStringArray, "/")
	bad.int32s(rpmTagDirIndexes, 7)
	if _, err := decodeRPMPackage(bad.bytes()); err == nil {
		t.Error("dir index out of range accepted")
	}
	blob := b.bytes()
	if _, err := decodeRPMPackage(blob[:len(blob)-3]); err == nil {
		t.Error("truncated header accepted")
	}
	// A file array present with a count of 0 is an absent one (a
	// container image's header crashed the sensor before: found by
	// FuzzRPMBDB).
	for _, tag := range []uint32{rpmTagFileDigests, rpmTagFileFlags, rpmTagFileStates, rpmTagFileModes} {
		var empty rpmHeaderBuilder
		empty.strs(rpmTagName, rpmTypeString, "x")
		empty.strs(rpmTagBaseNames, rpmTypeStringArray, "a")
		empty.strs(rpmTagDirNames, rpmTypeStringArray, "/")
		empty.int32s(rpmTagDirIndexes, 0)
		if tag == rpmTagFileDigests {
			empty.add(tag, rpmTypeStringArray, 0, nil)
		} else {
			empty.add(tag, rpmTypeInt32, 0, nil)
		}
		if p, err := decodeRPMPackage(empty.bytes()); err != nil || len(p.files) != 1 || p.files[0] != (rpmFile{path: "/a"}) {
			t.Errorf("tag %d with no values: %+v, %v", tag, p, err)
		}
	}
	var typ rpmHeaderBuilder
	typ.int32s(rpmTagName, 1)
	if _, err := decodeRPMPackage(typ.bytes()); err == nil {
		t.Error("integer name accepted")
	}
}

// Image-based systems ship the rpm database on a read-only /usr, where
// sqlite cannot take its usual shared-memory locks.
func TestRPMReadOnlyFilesystem(t *testing.T) {
	requireRoot(t)
	built := installTestRPM(t, "/usr/lib/sysimage/rpm")
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	run(t, "cp", "-a", built+"/.", root)
	// As shipped in an image: checkpointed, no -wal or -shm beside it.
	for _, f := range []string{"rpmdb.sqlite-wal", "rpmdb.sqlite-shm"} {
		os.Remove(filepath.Join(root, "usr/lib/sysimage/rpm", f))
	}
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "usr/lib/sysimage/rpm"))
	for _, e := range ents {
		t.Logf("db dir: %s", e.Name())
	}
	c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c.Verdict(inputFor(t, "/usr/bin/argus-hello", filepath.Join(root, "usr/bin/argus-hello"))), PackageVerified, Informational, "argus-hello")
}
