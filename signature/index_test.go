package signature

import (
	"crypto"
	"strings"
	"testing"
)

// The compact index must hand back exactly what the readers filed.
func TestIndexExpandsWhatWasFiled(t *testing.T) {
	ix := newIndex(nil)
	dpkg := &pkgInfo{manager: "dpkg", name: "coreutils", version: "9.1", note: "coreutils.md5sums does not exist"}
	rpm := &pkgInfo{manager: "rpm", name: "coreutils", version: "9.1-1.x86_64"}
	md5 := "0123456789ABCDEF0123456789abcdef"
	sha := strings.Repeat("ab", 32)

	ix.add("/usr/bin/true", entry{pkg: dpkg, algo: crypto.MD5, digest: md5, listed: "/bin/true"})
	ix.add("/usr/bin/true", entry{pkg: rpm, algo: crypto.SHA256, digest: sha, conffile: true})
	ix.add("/usr/bin/ls", entry{pkg: dpkg, algo: crypto.MD5, note: notePackage})
	ix.add("/etc/ghost", entry{pkg: rpm, algo: crypto.SHA256, note: noteGhost})
	ix.add("/usr/bin/bad", entry{pkg: rpm, algo: crypto.SHA256, digest: "xyz"})
	ix.add("/usr/bin/short", entry{pkg: rpm, algo: crypto.SHA256, digest: md5})

	got := ix.owners("/usr/bin/true")
	if len(got) != 2 {
		t.Fatalf("owners of /usr/bin/true: %d, want 2", len(got))
	}
	if r := got[0]; r.pkg != dpkg || r.algo != crypto.MD5 || r.digest != strings.ToLower(md5) || r.listed != "/bin/true" || r.conffile || r.note != "" {
		t.Errorf("dpkg record %+v", r)
	}
	if r := got[1]; r.pkg != rpm || r.algo != crypto.SHA256 || r.digest != sha || r.listed != "" || !r.conffile {
		t.Errorf("rpm record %+v", r)
	}
	for path, want := range map[string]string{
		"/usr/bin/ls":    "coreutils.md5sums does not exist",
		"/etc/ghost":     "ghost file (rpm records no content for it)",
		"/usr/bin/bad":   "the database's digest for it is malformed",
		"/usr/bin/short": "the database's digest for it is malformed",
	} {
		rs := ix.owners(path)
		if len(rs) != 1 || rs[0].digest != "" || rs[0].note != want {
			t.Errorf("%s: %+v, want no digest and note %q", path, rs, want)
		}
	}
	if rs := ix.owners("/usr/bin/cat"); rs != nil {
		t.Errorf("unindexed path has owners %+v", rs)
	}
}

// A malformed database digest decides nothing: the file is not reported
// modified on the strength of a record that cannot be compared.
func TestMalformedDigestIsUnknownNotModified(t *testing.T) {
	ix := newIndex(nil)
	pkg := &pkgInfo{manager: "rpm", name: "tool", version: "1-1.x86_64", state: "installed"}
	ix.add("/usr/bin/tool", entry{pkg: pkg, algo: crypto.SHA256, digest: "not-hex"})
	got, _ := byPackage(ix.owners("/usr/bin/tool"), &digestSource{in: Input{SHA256: strings.Repeat("00", 32)}})
	if got.Verdict != Unknown || !strings.Contains(got.Reason, "malformed") {
		t.Errorf("verdict %+v, want unknown naming the malformed digest", got)
	}
}
