package signature

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// apkInstalled is Alpine's database of installed packages.
const apkInstalled = "lib/apk/db/installed"

// apkFile is one file of an apk package as the database lists it.
type apkFile struct {
	path   string
	algo   crypto.Hash
	digest string // hex; "" when none is recorded
}

// apkPackage is one package of the apk database.
type apkPackage struct {
	name, version string
	files         []apkFile
}

// maxAPKLine bounds one line of the database (a long description).
const maxAPKLine = 1 << 20

// parseAPKInstalled reads apk-tools' "installed" database: stanzas
// separated by blank lines, one "X:value" field a line. P is the
// package's name, V its version; F names a directory (relative to /), and
// the R lines after it its files, each optionally followed by a Z line
// with the file's checksum: "Q1" and base64 of its sha1 (apk-tools 2), or
// "Q2" and base64 of its sha256. bad counts lines that could not be used.
func parseAPKInstalled(r io.Reader) (pkgs []*apkPackage, bad int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxAPKLine)
	var (
		cur *apkPackage
		dir string
	)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			cur, dir = nil, ""
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			bad++
			continue
		}
		if cur == nil {
			cur = &apkPackage{}
			pkgs = append(pkgs, cur)
		}
		v := string(line[2:])
		switch line[0] {
		case 'P':
			cur.name = v
		case 'V':
			cur.version = v
		case 'F':
			dir = v
		case 'R':
			if v == "" || strings.Contains(v, "/") {
				bad++
				continue
			}
			cur.files = append(cur.files, apkFile{path: "/" + strings.TrimPrefix(filepath.Join(dir, v), "/")})
		case 'Z':
			if len(cur.files) == 0 {
				bad++
				continue
			}
			f := &cur.files[len(cur.files)-1]
			algo, digest, ok := apkChecksum(v)
			if !ok {
				bad++
				continue
			}
			f.algo, f.digest = algo, digest
		}
	}
	if err := sc.Err(); err != nil {
		return pkgs, bad, fmt.Errorf("read apk database: %w", err)
	}
	return pkgs, bad, nil
}

// apkChecksum decodes a Z field.
func apkChecksum(v string) (crypto.Hash, string, bool) {
	var algo crypto.Hash
	switch {
	case strings.HasPrefix(v, "Q1"):
		algo = crypto.SHA1
	case strings.HasPrefix(v, "Q2"):
		algo = crypto.SHA256
	default:
		return 0, "", false
	}
	raw, err := base64.StdEncoding.DecodeString(v[2:])
	if err != nil || len(raw) != algo.Size() {
		return 0, "", false
	}
	return algo, hex.EncodeToString(raw), true
}

// addAPK indexes the apk database under root, if there is one.
func addAPK(ix *index, root string) (bool, error) {
	name := filepath.Join(root, apkInstalled)
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("read %s: %w", name, err)
	}
	pkgs, bad, err := parseAPKInstalled(bytes.NewReader(b))
	if bad > 0 {
		ix.problem(fmt.Sprintf("%s: %d lines could not be used", name, bad))
	}
	for _, p := range pkgs {
		if p.name == "" {
			continue
		}
		ix.packages++
		pkg := &pkgInfo{manager: "apk", name: p.name, version: p.version, state: "installed"}
		for _, f := range p.files {
			e := entry{pkg: pkg, algo: f.algo, digest: f.digest}
			if f.digest == "" {
				e.note = noteAPKNoDigest
			}
			at := canonical(f.path, ix.aliases)
			if at != f.path {
				e.listed = f.path
			}
			ix.add(at, e)
		}
	}
	return true, err
}
