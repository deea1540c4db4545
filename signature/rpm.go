package signature

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // pure Go: the sensor stays a static binary
)

// rpmDBDirs are where rpm keeps its database: the classic place and the
// one rpm >= 4.16 distributions moved to (Fedora links the first to the
// second).
var rpmDBDirs = []string{"var/lib/rpm", "usr/lib/sysimage/rpm"}

// rpmDBFiles lists each rpm database file the index depends on, with the
// backend it belongs to.
type rpmDBFile struct {
	path    string
	backend string // "sqlite", "bdb" or "ndb"
}

// findRPMDBs returns the distinct rpm databases under root, so that a
// /var/lib/rpm symlink to the sysimage directory is read once.
func findRPMDBs(root string) []rpmDBFile {
	var out []rpmDBFile
	seen := map[[2]uint64]bool{}
	for _, d := range rpmDBDirs {
		for _, c := range []rpmDBFile{
			{"rpmdb.sqlite", "sqlite"},
			{"Packages.db", "ndb"},
			{"Packages", "bdb"},
		} {
			p := filepath.Join(root, d, c.path)
			var st unix.Stat_t
			if unix.Stat(p, &st) != nil {
				continue
			}
			k := [2]uint64{st.Dev, st.Ino}
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, rpmDBFile{path: p, backend: c.backend})
		}
	}
	return out
}

// addRPM indexes every rpm database under root into ix. It returns whether
// any rpm database exists there.
func addRPM(ix *index, root string) (bool, error) {
	dbs := findRPMDBs(root)
	var errs []error
	for _, db := range dbs {
		var err error
		switch db.backend {
		case "sqlite":
			err = addRPMSqlite(ix, db.path)
		case "bdb":
			var (
				pkgs []*rpmPackage
				bad  []string
			)
			if pkgs, bad, err = readRPMBDB(db.path); err == nil {
				addRPMPackages(ix, pkgs, bad)
			}
		default:
			// ndb (SUSE) is not read: say so, so that files it may own
			// are unknown rather than unowned.
			ix.missReason = joinReason(ix.missReason, fmt.Sprintf("rpm database %s uses the %s backend, which is not supported", db.path, db.backend))
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return len(dbs) > 0, errors.Join(errs...)
}

func addRPMSqlite(ix *index, name string) error {
	pkgs, bad, err := readRPMSqlite(name, false)
	if err != nil && unix.Access(filepath.Dir(name), unix.W_OK) != nil {
		// A WAL database on a read-only filesystem (image-based
		// systems ship the rpmdb in a read-only /usr) cannot get its
		// shared-memory file: open it as immutable, which it is there.
		if p, b, err2 := readRPMSqlite(name, true); err2 == nil {
			pkgs, bad, err = p, b, nil
		}
	}
	if err != nil {
		return err
	}
	addRPMPackages(ix, pkgs, bad)
	return nil
}

// addRPMPackages adds the decoded packages to ix, and the headers that did
// not decode as problems.
func addRPMPackages(ix *index, pkgs []*rpmPackage, bad []string) {
	for _, p := range pkgs {
		addRPMPackage(ix, p)
	}
	for _, b := range bad {
		// We cannot name the package, so cannot say which paths it
		// owns: every miss becomes unknown.
		ix.problem(b)
		ix.missReason = joinReason(ix.missReason, b)
	}
}

// readRPMSqlite decodes every header in an sqlite rpmdb. Headers that do
// not decode are returned as problems, not errors.
func readRPMSqlite(name string, immutable bool) ([]*rpmPackage, []string, error) {
	// mode=ro: we never write the database, and a read-only handle
	// cannot create a journal in someone else's database directory.
	// busy_timeout rides out rpm's short write transactions.
	dsn := "file:" + (&url.URL{Path: name}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(5000)"
	if immutable {
		dsn += "&immutable=1"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open rpmdb %s: %w", name, err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT hnum, blob FROM Packages")
	if err != nil {
		return nil, nil, fmt.Errorf("query rpmdb %s: %w", name, err)
	}
	defer rows.Close()
	var (
		pkgs []*rpmPackage
		bad  []string
	)
	for rows.Next() {
		var (
			hnum int64
			blob []byte
		)
		if err := rows.Scan(&hnum, &blob); err != nil {
			return nil, nil, fmt.Errorf("read rpmdb %s: %w", name, err)
		}
		p, err := decodeRPMPackage(blob)
		if err != nil {
			bad = append(bad, fmt.Sprintf("rpm header %d in %s is malformed: %v", hnum, name, err))
			continue
		}
		pkgs = append(pkgs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read rpmdb %s: %w", name, err)
	}
	return pkgs, bad, nil
}

func addRPMPackage(ix *index, p *rpmPackage) {
	ix.packages++
	pkg := &pkgInfo{manager: "rpm", name: p.name, version: p.version, state: "installed"}
	for _, f := range p.files {
		if f.skip || f.notRegular {
			continue
		}
		e := entry{pkg: pkg, algo: p.algo, digest: f.digest, conffile: f.flags&rpmFileConfig != 0}
		if f.flags&rpmFileGhost != 0 {
			// A ghost is created at run time; rpm has no digest of it.
			e.digest, e.note = "", noteGhost
		} else if e.digest == "" {
			e.note = noteNoDigest
		}
		at := canonical(f.path, ix.aliases)
		if at != f.path {
			e.listed = f.path
		}
		ix.add(at, e)
	}
}
