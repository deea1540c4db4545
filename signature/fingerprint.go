package signature

import (
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// stamp is what a cheap stat says about one file: replacing it (dpkg and
// rpm rename new versions into place) changes the inode, appending
// changes size, rewriting changes mtime.
type stamp struct {
	path    string
	exists  bool
	ino     uint64
	size    int64
	mtimeNs int64
}

// fingerprint is the stamps of every file an index or keyring was built
// from; two equal fingerprints mean nothing needs rebuilding.
type fingerprint []stamp

func stampOf(p string) stamp {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return stamp{path: p}
	}
	return stamp{path: p, exists: true, ino: st.Ino, size: st.Size, mtimeNs: st.Mtim.Nano()}
}

func (f fingerprint) equal(o fingerprint) bool { return slices.Equal(f, o) }

// dbFingerprint covers the package databases under root. A directory's
// mtime changes when entries are added, removed or renamed in it: that
// catches dpkg's journal files in updates/ and new info/*.list files.
func dbFingerprint(root string) fingerprint {
	dpkg := filepath.Join(root, dpkgDir)
	fp := fingerprint{
		stampOf(filepath.Join(dpkg, "status")),
		stampOf(filepath.Join(dpkg, "updates")),
		stampOf(filepath.Join(dpkg, "diversions")),
		stampOf(filepath.Join(dpkg, "info")),
	}
	for _, d := range rpmDBDirs {
		for _, f := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal", "Packages", "Packages.db"} {
			fp = append(fp, stampOf(filepath.Join(root, d, f)))
		}
	}
	for _, d := range aliasDirs[:7] {
		// A merged-/usr conversion turns these into symlinks.
		var st unix.Stat_t
		s := stamp{path: filepath.Join(root, d)}
		if unix.Lstat(s.path, &st) == nil {
			s.exists, s.ino = true, st.Ino
		}
		fp = append(fp, s)
	}
	return fp
}

// dirFingerprint covers a directory and each file in it; editing a
// certificate in place changes no directory mtime.
func dirFingerprint(dir string) fingerprint {
	fp := fingerprint{stampOf(dir)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fp
	}
	for _, e := range ents {
		fp = append(fp, stampOf(filepath.Join(dir, e.Name())))
	}
	return fp
}
