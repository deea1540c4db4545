package signature

import (
	"crypto"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// pkgInfo is one installed package, shared by all of its files' records.
type pkgInfo struct {
	manager string // "dpkg" or "rpm"
	name    string
	version string
	// state is dpkg's package status (installed, unpacked, ...); rpm
	// databases hold installed packages only.
	state string
	// doubt is set when the package's database record was malformed, so
	// no verdict is built on it.
	doubt string
}

// transitional reports whether the package manager is part way through
// installing or configuring the package, when its files and its database
// digests may briefly disagree.
func (p *pkgInfo) transitional() bool {
	switch p.state {
	case "half-installed", "unpacked", "half-configured":
		return true
	}
	return false
}

// fileRec is what one package's database says about one path.
type fileRec struct {
	pkg      *pkgInfo
	algo     crypto.Hash
	digest   string // lowercase hex; "" when the database records none
	conffile bool
	// listed is the path as the database lists it, when diversions or
	// merged /usr put the file somewhere else.
	listed string
	// note says why digest is empty.
	note string
}

// index maps canonical paths to their owners. It is immutable once built;
// a refresh builds a new one.
type index struct {
	files map[string]fileRec
	// extra holds the further owners of a path that more than one
	// package claims (merged-/usr aliases listed by two packages,
	// multilib rpm files); rare, so kept out of files.
	extra   map[string][]fileRec
	aliases []alias
	// missReason, when set, is why a path missing from the index might
	// still be package-owned (no database, an unreadable one, records
	// that could not be parsed): such a path is unknown, not unowned.
	missReason string
	packages   int
	problems   []string
	built      time.Duration
	fp         fingerprint
}

func newIndex(aliases []alias) *index {
	return &index{files: make(map[string]fileRec, 1<<16), extra: map[string][]fileRec{}, aliases: aliases}
}

func (ix *index) add(p string, r fileRec) {
	if old, ok := ix.files[p]; ok {
		if old.pkg == r.pkg {
			// One package listing a path twice (both merged-/usr
			// spellings): keep the record that has a digest.
			if old.digest == "" && r.digest != "" {
				ix.files[p] = r
			}
			return
		}
		// dpkg first: its md5 is only computed when Owner names it, and
		// sha256 is always computed, so the primary owner should be the
		// one whose algorithm the caller would otherwise skip.
		if old.pkg.manager != "dpkg" && r.pkg.manager == "dpkg" {
			ix.files[p] = r
			r = old
		}
		ix.extra[p] = append(ix.extra[p], r)
		return
	}
	ix.files[p] = r
}

func (ix *index) owners(canon string) []fileRec {
	r, ok := ix.files[canon]
	if !ok {
		return nil
	}
	return append([]fileRec{r}, ix.extra[canon]...)
}

func (ix *index) problem(s string) {
	ix.problems = append(ix.problems, s)
}

// alias is a top-level directory that is a symlink to another (merged
// /usr: /bin -> usr/bin).
type alias struct{ from, to string }

// aliasDirs are the directories that merged-/usr layouts turn into
// symlinks, in either direction.
var aliasDirs = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/libo32",
	"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/libo32"}

// findAliases reads which alias directories under root are symlinks, and
// where they point inside root.
func findAliases(root string) []alias {
	var out []alias
	for _, d := range aliasDirs {
		fi, err := os.Lstat(filepath.Join(root, d))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(root, d))
		if err != nil {
			continue
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(d), target)
		}
		target = path.Clean(target)
		if target == d || target == "/" {
			continue
		}
		out = append(out, alias{from: d, to: target})
	}
	return out
}

// canonical names p the way the index does: clean, with alias directories
// replaced by their targets, so /bin/true and /usr/bin/true meet whichever
// one the kernel reports and whichever one the database lists.
func canonical(p string, aliases []alias) string {
	if p == "" {
		return p
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = path.Clean(p)
	// Two rounds resolve a chain (/lib64 -> usr/lib64 -> lib); more
	// would mean a loop.
	for range 2 {
		changed := false
		for _, a := range aliases {
			if p == a.from || (strings.HasPrefix(p, a.from) && p[len(a.from)] == '/') {
				p = a.to + p[len(a.from):]
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return p
}
