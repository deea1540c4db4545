package signature

import (
	"bytes"
	"os"
	"path"
	"strings"
	"testing"
)

// Seed corpora live in testdata/fuzz/<Fuzz name>/: real values taken from
// evmctl, Debian's rpm and this host's dpkg database, plus the f.Add
// seeds below.

func FuzzParseIMA(f *testing.F) {
	f.Add([]byte{3, 2, 4, 0x3b, 0x96, 0xf8, 0xbf, 0, 2, 0xaa, 0xbb})
	f.Add([]byte{4, 4, 0, 1, 2})
	f.Add([]byte{6, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseIMA(b)
		if err != nil || !v.signed {
			return
		}
		if len(v.sig) == 0 || len(v.sig)+imaSigHeaderLen != len(b) {
			t.Fatalf("signature of %d bytes from %d-byte value", len(v.sig), len(b))
		}
		v.hash()
	})
}

func FuzzDecodeRPMPackage(f *testing.F) {
	var b rpmHeaderBuilder
	b.strs(rpmTagName, rpmTypeString, "tool")
	b.strs(rpmTagVersion, rpmTypeString, "1")
	b.strs(rpmTagBaseNames, rpmTypeStringArray, "tool")
	b.strs(rpmTagDirNames, rpmTypeStringArray, "/usr/bin/")
	b.int32s(rpmTagDirIndexes, 0)
	b.strs(rpmTagFileDigests, rpmTypeStringArray, "ab")
	f.Add(b.bytes())
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, err := decodeRPMPackage(blob)
		if err != nil {
			return
		}
		ix := newIndex([]alias{{"/bin", "/usr/bin"}})
		addRPMPackage(ix, p)
	})
}

// FuzzRPMPackageRoundTrip writes a header with one file from fuzzed
// fields and checks decodeRPMPackage gives them back. Header strings are
// NUL-terminated, so a NUL is outside the format.
func FuzzRPMPackageRoundTrip(f *testing.F) {
	f.Add("tool", "2.0", "/usr/bin/", "tool", "AB01", uint32(0), uint32(8))
	f.Add("x", "", "/etc", "x.conf", "", uint32(rpmFileConfig), uint32(1))
	f.Fuzz(func(t *testing.T, name, version, dir, base, digest string, flags, algo uint32) {
		for _, s := range []string{name, version, dir, base, digest} {
			if strings.ContainsRune(s, 0) {
				return
			}
		}
		want, ok := pgpHashAlgo(uint64(algo))
		var b rpmHeaderBuilder
		b.strs(rpmTagName, rpmTypeString, name)
		b.strs(rpmTagVersion, rpmTypeString, version)
		b.strs(rpmTagBaseNames, rpmTypeStringArray, base)
		b.strs(rpmTagDirNames, rpmTypeStringArray, dir)
		b.int32s(rpmTagDirIndexes, 0)
		b.strs(rpmTagFileDigests, rpmTypeStringArray, digest)
		b.int32s(rpmTagFileFlags, flags)
		b.int32s(rpmTagFileDigestAlgo, algo)
		p, err := decodeRPMPackage(b.bytes())
		if name == "" || !ok {
			if err == nil {
				t.Fatalf("accepted name %q, digest algorithm %d", name, algo)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		file := rpmFile{path: path.Join(dir, base), digest: strings.ToLower(digest), flags: uint64(flags)}
		if p.name != name || p.version != version || p.algo != want || len(p.files) != 1 || p.files[0] != file {
			t.Fatalf("decoded %+v, want %s %s %v %+v", p, name, version, want, file)
		}
	})
}

func FuzzDpkgStatus(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nConffiles:\n /etc/a 0123456789abcdef0123456789abcdef obsolete\n\n"))
	f.Add([]byte("Package: a\nStatus: install\n \n:\n\n\n x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st := &dpkgStatus{records: map[string]*dpkgRecord{}}
		if err := st.parse(bytes.NewReader(b), "fuzz"); err != nil {
			return
		}
		for k, r := range st.records {
			if r.name == "" || k != r.key() {
				t.Fatalf("record %q: %+v", k, r)
			}
			if r.malformed == "" && len(strings.Fields(r.state)) != 1 {
				t.Fatalf("state %q", r.state)
			}
		}
	})
}

func FuzzMD5Sums(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef  usr/bin/x\nbad\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, _ := parseMD5Sums(b)
		for p, s := range sums {
			if !strings.HasPrefix(p, "/") || !isHex(s, 32) {
				t.Fatalf("%q -> %q", p, s)
			}
		}
	})
}

func FuzzDiversions(f *testing.F) {
	f.Add([]byte("/bin/sh\n/bin/sh.distrib\ndash\n/usr/bin/x\n/usr/bin/x.real\n:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		divs, _, err := parseDiversions(bytes.NewReader(b), []alias{{"/bin", "/usr/bin"}})
		if err != nil {
			return
		}
		for from, d := range divs {
			if !strings.HasPrefix(from, "/") || !strings.HasPrefix(d.to, "/") {
				t.Fatalf("%q -> %+v", from, d)
			}
		}
	})
}

func FuzzCanonical(f *testing.F) {
	f.Add("/bin/true")
	f.Add("/lib64/../bin//x")
	f.Fuzz(func(t *testing.T, p string) {
		aliases := []alias{{"/bin", "/usr/bin"}, {"/lib64", "/usr/lib64"}, {"/usr/lib64", "/usr/lib"}}
		c := canonical(p, aliases)
		if p != "" && canonical(c, aliases) != c {
			t.Fatalf("canonical(%q) = %q is not a fixed point", p, c)
		}
	})
}

// FuzzParseAPKInstalled: no input panics, every file parsed has an
// absolute path, and a digest is hex of its algorithm's size.
func FuzzParseAPKInstalled(f *testing.F) {
	f.Add("C:Q1x0=\nP:musl\nV:1\nF:lib\nR:ld.so\na:0:0:755\nZ:Q1OR21cpf2INrOZXtXeMnWdqhkld4=\n\nP:b\nR:x\nZ:Q2\n")
	f.Add("F:../..\nR:..\nZ:Q1!!\n")
	f.Fuzz(func(t *testing.T, s string) {
		pkgs, _, _ := parseAPKInstalled(strings.NewReader(s))
		for _, p := range pkgs {
			for _, fl := range p.files {
				if !strings.HasPrefix(fl.path, "/") {
					t.Fatalf("relative path %q", fl.path)
				}
				if fl.digest != "" && len(fl.digest) != 2*fl.algo.Size() {
					t.Fatalf("digest %q for %v", fl.digest, fl.algo)
				}
			}
		}
	})
}

// FuzzRPMBDB: a Berkeley DB rpm database is an image author's input.
// Whatever the bytes, the reader returns without panicking, and the
// values it hands out add up to no more than the file.
func FuzzRPMBDB(f *testing.F) {
	if b, err := os.ReadFile(bdbFixture); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := openBDB(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		total := 0
		db.values(func(v []byte) {
			total += len(v)
			decodeRPMPackage(v)
		})
		if total > len(b) {
			t.Fatalf("%d bytes of values from a %d byte file", total, len(b))
		}
	})
}
