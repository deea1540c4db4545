package signature

import (
	"crypto"
	"encoding/hex"
	"hash/maphash"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unsafe"
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
	// note says why none of the package's records holds a digest (its
	// md5sums file is missing or unreadable); "" when they do.
	note string
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

// record is what one package's database says about one path, as the
// checker reads it. The index stores it compacted (fileRec); owners
// expands the few records of one looked-up path.
type record struct {
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

// fileRec is a record as the index stores it: 16 bytes, with the digest
// kept raw in the index's shared digest arena, the note as a code, and
// the rare listed path in a side map. A Debian system indexes about
// 100,000 paths, and strings in every record made the index the
// sensor's largest allocation.
type fileRec struct {
	pkg      *pkgInfo
	sum      uint32 // offset of the raw digest in index.sums, plus one; 0 when none
	algo     uint8  // crypto.Hash
	note     noteCode
	conffile bool
	listed   bool // index.listed holds the path as the database lists it
}

// noteCode says why a record holds no digest.
type noteCode uint8

const (
	noteNone        noteCode = iota
	notePackage              // the package's own note (pkgInfo.note): md5sums missing or unreadable
	noteGhost                // an rpm ghost file
	noteNoDigest             // rpm records no digest
	noteBadDigest            // the database's digest is not hex of the algorithm's length
	noteIndexFull            // the digest arena reached 4 GiB (never on a real system)
	noteAPKNoDigest          // apk records no checksum
)

func (n noteCode) text(pkg *pkgInfo) string {
	switch n {
	case notePackage:
		return pkg.note
	case noteGhost:
		return "ghost file (rpm records no content for it)"
	case noteNoDigest:
		return "rpm records no digest for it"
	case noteBadDigest:
		return "the database's digest for it is malformed"
	case noteAPKNoDigest:
		return "apk records no checksum for it"
	case noteIndexFull:
		return "the package index is too large to hold its digest"
	}
	return ""
}

// listedKey names one package's record of one path.
type listedKey struct {
	path pathKey
	pkg  *pkgInfo
}

// pathKey is a canonical path as the index keys it: a 64-bit keyed hash
// (hash/maphash, with a seed chosen per index). Keeping the 100,000 path
// strings cost 8 MiB; a hash costs 8 bytes a path. A lookup that
// collides with an indexed path by chance (about 1 in 10^14 on a Debian
// system) would be compared with that package's digest and, unless its
// content is that package file, reported modified: never trusted. The
// seed is secret, so a path cannot be crafted to collide.
type pathKey uint64

// index maps canonical paths to their owners. It is immutable once built;
// a refresh builds a new one.
type index struct {
	seed  maphash.Seed
	files map[pathKey]fileRec
	// extra holds the further owners of a path that more than one
	// package claims (merged-/usr aliases listed by two packages,
	// multilib rpm files); rare, so kept out of files.
	extra map[pathKey][]fileRec
	// sums holds every record's raw digest back to back.
	sums []byte
	// listed holds the path as the database lists it, for the records
	// whose canonical path differs (merged /usr, diversions).
	listed  map[listedKey]string
	aliases []alias
	// missReason, when set, is why a path missing from the index might
	// still be package-owned (no database, an unreadable one, records
	// that could not be parsed): such a path is unknown, not unowned.
	missReason string
	packages   int
	problems   []string
	built      time.Duration
	fp         fingerprint
	bytes      int64 // approxBytes, once built (container images)
}

func newIndex(aliases []alias) *index {
	return &index{seed: maphash.MakeSeed(), files: make(map[pathKey]fileRec, 1<<16), extra: map[pathKey][]fileRec{},
		listed: map[listedKey]string{}, aliases: aliases}
}

// approxBytes is the index's heap, approximately: each path's map slot
// (key, record, and the map's control byte and spare capacity), the
// digests, the listed paths, the extra owners and the packages.
func (ix *index) approxBytes() int64 {
	rec := int64(unsafe.Sizeof(fileRec{}))
	n := int64(len(ix.files))*(int64(unsafe.Sizeof(pathKey(0)))+rec)*9/7 + int64(len(ix.files)) + int64(len(ix.sums))
	for _, v := range ix.listed {
		n += int64(len(v)) + 64
	}
	for _, v := range ix.extra {
		n += int64(len(v))*rec + 64
	}
	return n + int64(ix.packages)*int64(unsafe.Sizeof(pkgInfo{})+32)
}

func (ix *index) key(canon string) pathKey { return pathKey(maphash.String(ix.seed, canon)) }

// entry is one database line as the readers hand it to the index.
type entry struct {
	pkg      *pkgInfo
	algo     crypto.Hash
	digest   string // hex; "" when the database records none
	note     noteCode
	conffile bool
	listed   string // the path as the database lists it, when not canonical
}

// add files e under the canonical path canon.
func (ix *index) add(canon string, e entry) {
	p := ix.key(canon)
	r := fileRec{pkg: e.pkg, algo: uint8(e.algo), note: e.note, conffile: e.conffile}
	if e.digest != "" {
		raw, err := hex.DecodeString(e.digest)
		switch {
		case err != nil || len(raw) != e.algo.Size():
			r.note = noteBadDigest
		case len(ix.sums)+len(raw) >= math.MaxUint32:
			r.note = noteIndexFull
		default:
			r.sum = uint32(len(ix.sums)) + 1
			ix.sums = append(ix.sums, raw...)
		}
	}
	if e.listed != "" {
		r.listed = true
		ix.listed[listedKey{p, e.pkg}] = e.listed
	}
	ix.addRec(p, r)
}

func (ix *index) addRec(p pathKey, r fileRec) {
	if old, ok := ix.files[p]; ok {
		if old.pkg == r.pkg {
			// One package listing a path twice (both merged-/usr
			// spellings): keep the record that has a digest.
			if old.sum == 0 && r.sum != 0 {
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

// owners expands the records of the canonical path canon, primary owner
// first.
func (ix *index) owners(canon string) []record {
	p := ix.key(canon)
	r, ok := ix.files[p]
	if !ok {
		return nil
	}
	more := ix.extra[p]
	out := make([]record, 0, 1+len(more))
	out = append(out, ix.expand(p, r))
	for _, m := range more {
		out = append(out, ix.expand(p, m))
	}
	return out
}

func (ix *index) expand(p pathKey, r fileRec) record {
	out := record{pkg: r.pkg, algo: crypto.Hash(r.algo), conffile: r.conffile, note: r.note.text(r.pkg)}
	if r.sum != 0 {
		at := int(r.sum - 1)
		out.digest = hex.EncodeToString(ix.sums[at : at+out.algo.Size()])
	}
	if r.listed {
		out.listed = ix.listed[listedKey{p, r.pkg}]
	}
	return out
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
