package signature

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bdbFixture is a real rpm Berkeley DB database (see makeRPMBDB), 512-byte
// pages so that its one header spans a chain of four overflow pages. It is
// the fuzz seed and the base of the damage tests.
const bdbFixture = "testdata/rpm-bdb/Packages"

// makeRPMBDB turns the sqlite database rpm made under root into the
// Berkeley DB one RHEL 8 would have: the same header blobs under their
// header numbers, key 0 holding the next free number, written by Berkeley
// DB's own db5.3_load as a hash database with pageSize pages. The sqlite
// files are removed. It returns the new database's path.
func makeRPMBDB(t *testing.T, root string, pageSize int) string {
	t.Helper()
	requireTool(t, "db5.3_load")
	dir := filepath.Join(root, "var/lib/rpm")
	db, err := sql.Open("sqlite", filepath.Join(dir, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT hnum, blob FROM Packages")
	if err != nil {
		t.Fatal(err)
	}
	esc := func(b []byte) string {
		var s strings.Builder
		s.WriteByte(' ')
		for _, c := range b {
			if c >= 0x20 && c < 0x7f && c != '\\' {
				s.WriteByte(c)
			} else {
				fmt.Fprintf(&s, "\\%02x", c)
			}
		}
		s.WriteByte('\n')
		return s.String()
	}
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	var load strings.Builder
	fmt.Fprintf(&load, "VERSION=3\nformat=print\ntype=hash\ndb_pagesize=%d\nHEADER=END\n", pageSize)
	next := uint32(1)
	for rows.Next() {
		var (
			hnum uint32
			blob []byte
		)
		if err := rows.Scan(&hnum, &blob); err != nil {
			t.Fatal(err)
		}
		load.WriteString(esc(u32(hnum)) + esc(blob))
		next = max(next, hnum+1)
	}
	rows.Close()
	db.Close()
	load.WriteString(esc(u32(0)) + esc(u32(next)) + "DATA=END\n")
	for _, f := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal", "rpmdb.sqlite-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	txt := filepath.Join(t.TempDir(), "load.txt")
	writeFile(t, txt, load.String(), 0o644)
	out := filepath.Join(dir, "Packages")
	run(t, "db5.3_load", "-f", txt, out)
	return out
}

// TestRPMBerkeleyDB: a RHEL 8 style Berkeley DB rpm database, made from a
// real rpm install and read back by rpm's own bdb_ro backend to prove the
// file is what rpm reads, judges its file package_verified and a changed
// file package_modified, like the sqlite database does.
func TestRPMBerkeleyDB(t *testing.T) {
	for _, pageSize := range []int{512, 4096} {
		t.Run(fmt.Sprint(pageSize), func(t *testing.T) {
			root := installTestRPM(t, "/var/lib/rpm")
			dbfile := makeRPMBDB(t, root, pageSize)
			if got := run(t, "rpm", "--dbpath", filepath.Dir(dbfile), "--define", "_db_backend bdb_ro", "-qa"); !strings.Contains(got, "argus-hello-1.0-1.noarch") {
				t.Fatalf("rpm's bdb_ro does not read the database: %s", got)
			}
			if dbs := findRPMDBs(root); len(dbs) != 1 || dbs[0].backend != "bdb" {
				t.Fatalf("found %v", dbs)
			}
			c, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.IndexPackages != 1 {
				t.Fatalf("stats %+v", st)
			}
			o, ok := c.Owner("/usr/bin/argus-hello")
			if !ok || o.Manager != "rpm" || o.Package != "argus-hello" || o.DigestAlgo != "sha256" || o.Version != "1.0-1.noarch" {
				t.Fatalf("Owner = %+v, %v", o, ok)
			}
			p := filepath.Join(root, "usr/bin/argus-hello")
			expect(t, c.Verdict(inputFor(t, "/usr/bin/argus-hello", p)), PackageVerified, Informational, "argus-hello")
			if co, ok := c.Owner("/etc/argus-hello.conf"); !ok || !co.Conffile {
				t.Fatalf("conffile Owner = %+v, %v", co, ok)
			}
			writeFile(t, filepath.Join(root, "usr/bin/dropped"), "x\n", 0o755)
			expect(t, c.Verdict(inputFor(t, "/usr/bin/dropped", filepath.Join(root, "usr/bin/dropped"))), Unowned, Low, "")
			writeFile(t, p, "#!/bin/sh\necho pwned\n", 0o755)
			got := c.Verdict(inputFor(t, "/usr/bin/argus-hello", p))
			expect(t, got, PackageModified, High, "argus-hello")
		})
	}
}

// TestRPMBerkeleyDBFixture keeps the committed fixture honest: it is a
// database this reader reads whole, whatever machine the test runs on.
func TestRPMBerkeleyDBFixture(t *testing.T) {
	pkgs, bad, err := readRPMBDB(bdbFixture)
	if err != nil || len(bad) != 0 || len(pkgs) != 1 || pkgs[0].name != "argus-hello" {
		t.Fatalf("pkgs %v bad %v err %v", pkgs, bad, err)
	}
}

// TestRPMBerkeleyDBDamaged: an image author controls its database. Each
// damage below (the first two hang or crash the go-rpmdb version the
// module proxy serves) ends the read with an error naming the problem,
// promptly, and the files the database might own are unknown, not
// unowned.
func TestRPMBerkeleyDBDamaged(t *testing.T) {
	good, err := os.ReadFile(bdbFixture)
	if err != nil {
		t.Fatal(err)
	}
	const ps = 512
	type page struct {
		next  uint32
		count uint16
		typ   byte
	}
	pg := func(b []byte, n int) page {
		h := b[n*ps:]
		return page{binary.LittleEndian.Uint32(h[16:]), binary.LittleEndian.Uint16(h[20:]), h[25]}
	}
	// Find the hash page holding the header's entry and the overflow
	// chain's pages, rather than trusting offsets.
	hashPage, chain := -1, []int{}
	for n := 1; n < len(good)/ps; n++ {
		switch pg(good, n).typ {
		case bdbTypeHash:
			inp := binary.LittleEndian.Uint16(good[n*ps+bdbPageHeaderSize+2:])
			if good[n*ps+int(inp)] == bdbItemOffPage {
				hashPage = n
			}
		case bdbTypeOverflow:
			chain = append(chain, n)
		}
	}
	if hashPage < 0 || len(chain) < 2 {
		t.Fatalf("fixture: hash page %d, overflow pages %v", hashPage, chain)
	}
	for _, c := range []struct {
		name, want string
		damage     func(b []byte)
	}{
		{"chain reaches a hash page", "of type 13", func(b []byte) { b[chain[1]*ps+25] = bdbTypeHash }},
		{"entry offset at the page's end", "entry 1 at", func(b []byte) {
			binary.LittleEndian.PutUint16(b[hashPage*ps+bdbPageHeaderSize+2:], ps-4)
			b[hashPage*ps+ps-4] = bdbItemOffPage
		}},
		{"chain loops on itself", "overflow page", func(b []byte) {
			binary.LittleEndian.PutUint32(b[chain[1]*ps+16:], uint32(chain[0]))
		}},
		{"value length beyond the limit", "over the", func(b []byte) {
			inp := binary.LittleEndian.Uint16(b[hashPage*ps+bdbPageHeaderSize+2:])
			binary.LittleEndian.PutUint32(b[hashPage*ps+int(inp)+8:], 1<<31)
		}},
		{"last page beyond the file", "beyond the file", func(b []byte) {
			binary.LittleEndian.PutUint32(b[32:], 1<<20)
		}},
		{"entry count beyond the page", "do not fit", func(b []byte) {
			binary.LittleEndian.PutUint16(b[hashPage*ps+20:], 0xffff)
		}},
		{"not a hash database", "magic", func(b []byte) { b[12] ^= 0xff }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(good)
			c.damage(b)
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "var/lib/rpm/Packages"), string(b), 0o644)
			writeFile(t, filepath.Join(root, "usr/bin/argus-hello"), "#!/bin/sh\necho hello\n", 0o755)
			start := time.Now()
			pkgs, bad, err := readRPMBDB(filepath.Join(root, "var/lib/rpm/Packages"))
			if len(pkgs) != 0 {
				t.Errorf("%d packages read from a damaged database", len(pkgs))
			}
			msg := strings.Join(bad, "; ")
			if err != nil {
				msg = err.Error()
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to say %q", msg, c.want)
			}
			c2, err := New(Options{Root: root, TrustedKeyDir: filepath.Join(root, "keys"), Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			got := c2.Verdict(inputFor(t, "/usr/bin/argus-hello", filepath.Join(root, "usr/bin/argus-hello")))
			expect(t, got, Unknown, Low, "")
			t.Logf("%s in %v: %s", c.name, time.Since(start).Round(time.Microsecond), msg)
		})
	}
}
