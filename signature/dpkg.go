package signature

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const dpkgDir = "var/lib/dpkg"

// dpkgRecord is one package's stanza from the status file.
type dpkgRecord struct {
	name, arch, multiArch, version, state string
	conffiles                             map[string]string // path -> md5 hex
	malformed                             string
}

// key is the name dpkg gives the package's files under info/: Multi-Arch
// "same" packages can be installed once per architecture, so theirs
// carry the architecture.
func (r *dpkgRecord) key() string {
	if r.multiArch == "same" && r.arch != "" {
		return r.name + ":" + r.arch
	}
	return r.name
}

// owning reports whether a package in this state has its files on disk.
// triggers-pending and triggers-awaited packages are unpacked and
// configured, only a trigger run is outstanding, so their files and
// md5sums are final. config-files and not-installed packages own nothing
// but conffiles left behind.
func owningState(s string) bool {
	switch s {
	case "installed", "triggers-pending", "triggers-awaited",
		"half-installed", "unpacked", "half-configured":
		return true
	}
	return false
}

// dpkgStatus is the package database as dpkg sees it: the status file
// with the journal in updates/ applied.
type dpkgStatus struct {
	records map[string]*dpkgRecord // by key()
	// unnamed counts malformed stanzas whose package we cannot name.
	unnamed  int
	problems []string
}

// parse reads status-format stanzas from r, each replacing any earlier
// record of the same package, as dpkg applies its journal.
func (st *dpkgStatus) parse(r io.Reader, source string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var (
		cur   *dpkgRecord
		field string
		line  int
		start int
	)
	finish := func() {
		if cur == nil {
			return
		}
		rec := cur
		cur, field = nil, ""
		if rec.malformed == "" {
			switch {
			case rec.name == "":
				rec.malformed = "no Package field"
			case rec.state == "":
				rec.malformed = "no valid Status field"
			}
		}
		if rec.malformed != "" {
			st.problems = append(st.problems, fmt.Sprintf("%s line %d: %s", source, start, rec.malformed))
			if rec.name == "" {
				st.unnamed++
				return
			}
		}
		st.records[rec.key()] = rec
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			finish()
			continue
		}
		if cur == nil {
			cur = &dpkgRecord{}
			start = line
		}
		if b[0] == ' ' || b[0] == '\t' {
			if field == "" {
				cur.malformed = fmt.Sprintf("continuation line %d outside a field", line)
				continue
			}
			if field == "Conffiles" {
				addConffile(cur, string(bytes.TrimSpace(b)), line)
			}
			continue
		}
		name, value, ok := bytes.Cut(b, []byte{':'})
		if !ok || len(name) == 0 {
			cur.malformed = fmt.Sprintf("line %d is not a field", line)
			field = ""
			continue
		}
		field = string(name)
		v := string(bytes.TrimSpace(value))
		switch field {
		case "Package":
			cur.name = v
		case "Architecture":
			cur.arch = v
		case "Multi-Arch":
			cur.multiArch = v
		case "Version":
			cur.version = v
		case "Status":
			// "want flag status": only the third word says what is on
			// disk.
			w := strings.Fields(v)
			if len(w) != 3 {
				cur.malformed = fmt.Sprintf("line %d: Status %q is not three words", line, v)
				break
			}
			cur.state = w[2]
		case "Conffiles":
			if v != "" {
				addConffile(cur, v, line)
			}
		}
	}
	finish()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("after line %d: %w", line, err)
	}
	return nil
}

func addConffile(r *dpkgRecord, s string, line int) {
	w := strings.Fields(s)
	// Flags follow the digest: "path md5 [obsolete] [remove-on-upgrade]".
	for len(w) > 2 && (w[len(w)-1] == "obsolete" || w[len(w)-1] == "remove-on-upgrade") {
		w = w[:len(w)-1]
	}
	if len(w) < 2 {
		r.malformed = fmt.Sprintf("line %d: conffile entry %q has no digest", line, s)
		return
	}
	if r.conffiles == nil {
		r.conffiles = map[string]string{}
	}
	sum := strings.ToLower(w[len(w)-1])
	if !isHex(sum, 32) {
		// "newconffile" marks a conffile not yet installed: no digest.
		sum = ""
	}
	r.conffiles[strings.Join(w[:len(w)-1], " ")] = sum
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// readDpkgStatus reads status and then the journal files in updates/, in
// order: dpkg records each state change there and folds them into status
// only now and then, so status alone can be minutes stale mid-upgrade.
func readDpkgStatus(dir string) (*dpkgStatus, error) {
	st := &dpkgStatus{records: map[string]*dpkgRecord{}}
	f, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return nil, fmt.Errorf("read dpkg status: %w", err)
	}
	err = st.parse(f, "status")
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read dpkg status: %w", err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "updates"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read dpkg updates: %w", err)
	}
	type upd struct {
		n    int
		name string
	}
	var ups []upd
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 {
			continue // tmp.i and friends are not yet committed
		}
		ups = append(ups, upd{n, e.Name()})
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].n < ups[j].n })
	for _, u := range ups {
		f, err := os.Open(filepath.Join(dir, "updates", u.name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // folded into status since we listed it
			}
			return nil, fmt.Errorf("read dpkg updates: %w", err)
		}
		err = st.parse(f, "updates/"+u.name)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read dpkg updates/%s: %w", u.name, err)
		}
	}
	return st, nil
}

// diversion sends other packages' copies of a path elsewhere.
type diversion struct {
	to  string
	pkg string // the diverting package; ":" for a local (admin) diversion
}

// parseDiversions reads the diversions file: three lines per diversion
// (from, to, package). Keys and targets are canonical paths.
func parseDiversions(r io.Reader, aliases []alias) (map[string]diversion, []string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read dpkg diversions: %w", err)
	}
	var problems []string
	if len(lines)%3 != 0 {
		problems = append(problems, fmt.Sprintf("diversions: %d lines is not a multiple of three; last entry ignored", len(lines)))
	}
	out := map[string]diversion{}
	for i := 0; i+2 < len(lines); i += 3 {
		from, to, pkg := lines[i], lines[i+1], lines[i+2]
		if !strings.HasPrefix(from, "/") || !strings.HasPrefix(to, "/") || pkg == "" {
			problems = append(problems, fmt.Sprintf("diversions line %d: malformed entry", i+1))
			continue
		}
		out[canonical(from, aliases)] = diversion{to: canonical(to, aliases), pkg: pkg}
	}
	return out, problems, nil
}

// addDpkg indexes the dpkg database under root into ix. It returns
// whether a dpkg database exists there.
func addDpkg(ix *index, root string) (bool, error) {
	dir := filepath.Join(root, dpkgDir)
	if _, err := os.Stat(filepath.Join(dir, "status")); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	st, err := readDpkgStatus(dir)
	if err != nil {
		return true, err
	}
	for _, p := range st.problems {
		ix.problem("dpkg " + p)
	}
	if st.unnamed > 0 {
		ix.missReason = joinReason(ix.missReason, fmt.Sprintf("dpkg status has %d malformed stanzas naming no package", st.unnamed))
	}

	var divs map[string]diversion
	if f, err := os.Open(filepath.Join(dir, "diversions")); err == nil {
		var probs []string
		divs, probs, err = parseDiversions(f, ix.aliases)
		f.Close()
		if err != nil {
			return true, err
		}
		for _, p := range probs {
			ix.problem("dpkg " + p)
		}
		if len(probs) > 0 {
			ix.missReason = joinReason(ix.missReason, "dpkg diversions file is malformed")
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return true, fmt.Errorf("read dpkg diversions: %w", err)
	}

	infoDir := filepath.Join(dir, "info")
	ents, err := os.ReadDir(infoDir)
	if err != nil {
		return true, fmt.Errorf("read dpkg info: %w", err)
	}
	buf := make([]byte, 0, 256<<10)
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".list")
		if !ok {
			continue
		}
		rec := st.records[key]
		if rec == nil {
			// A package that is not multi-arch "same" but whose files
			// still carry the architecture, or the other way round.
			if name, _, ok := strings.Cut(key, ":"); ok {
				rec = st.records[name]
			}
		}
		if rec == nil || (!owningState(rec.state) && rec.malformed == "") {
			continue
		}
		pkg := &pkgInfo{manager: "dpkg", name: rec.key(), version: rec.version, state: rec.state}
		if rec.malformed != "" {
			pkg.doubt = "dpkg status record for " + rec.name + " is malformed: " + rec.malformed
		}
		ix.packages++
		sums, note, err := readMD5Sums(filepath.Join(infoDir, key+".md5sums"), &buf)
		if err != nil {
			ix.problem(err.Error())
			note = err.Error()
		}
		pkg.note = note
		if err := indexDpkgList(ix, filepath.Join(infoDir, e.Name()), pkg, rec, sums, divs, &buf); err != nil {
			ix.problem(err.Error())
		}
	}
	return true, nil
}

// readMD5Sums returns path -> md5 from a package's md5sums file. A
// missing file is no error (some packages ship none); malformed lines
// are skipped and summed up in note.
func readMD5Sums(name string, buf *[]byte) (map[string]string, string, error) {
	b, err := readInto(name, buf)
	if errors.Is(err, os.ErrNotExist) {
		return nil, filepath.Base(name) + " does not exist", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read md5sums: %w", err)
	}
	sums, bad := parseMD5Sums(b)
	note := ""
	if bad > 0 {
		note = fmt.Sprintf("%s has %d malformed lines", filepath.Base(name), bad)
	}
	return sums, note, nil
}

// parseMD5Sums parses "<md5 hex>  <path relative to />" lines.
func parseMD5Sums(b []byte) (map[string]string, int) {
	sums := make(map[string]string, bytes.Count(b, []byte{'\n'})+1)
	bad := 0
	for len(b) > 0 {
		var ln []byte
		ln, b, _ = bytes.Cut(b, []byte{'\n'})
		if len(ln) == 0 {
			continue
		}
		sum, p, ok := bytes.Cut(ln, []byte{' '})
		p = bytes.TrimLeft(p, " *")
		if !ok || len(p) == 0 || !isHex(string(sum), 32) {
			bad++
			continue
		}
		sums["/"+strings.TrimPrefix(string(p), "/")] = strings.ToLower(string(sum))
	}
	return sums, bad
}

func indexDpkgList(ix *index, name string, pkg *pkgInfo, rec *dpkgRecord, sums map[string]string,
	divs map[string]diversion, buf *[]byte) error {
	b, err := readInto(name, buf)
	if err != nil {
		return fmt.Errorf("read dpkg file list: %w", err)
	}
	for len(b) > 0 {
		var ln []byte
		ln, b, _ = bytes.Cut(b, []byte{'\n'})
		if len(ln) == 0 || ln[0] != '/' {
			continue
		}
		listed := string(ln)
		if listed == "/." {
			continue
		}
		e := entry{pkg: pkg, algo: crypto.MD5}
		if sum, ok := sums[listed]; ok {
			e.digest = sum
		} else if sum, ok := rec.conffiles[listed]; ok {
			e.digest, e.conffile = sum, true
		} else if pkg.note != "" {
			e.note = notePackage
		} else {
			// md5sums covers every regular file but conffiles, so
			// this is a directory or a symlink: never the resolved
			// path of an executable. Leaving them out saves a fifth
			// of the index.
			continue
		}
		at := canonical(listed, ix.aliases)
		// Other packages' copies of a diverted path are installed at
		// the divert-to path; the diverting package's own copy stays.
		if d, ok := divs[at]; ok && d.pkg != rec.name {
			e.listed = listed
			at = d.to
		} else if at != listed {
			e.listed = listed
		}
		ix.add(at, e)
	}
	return nil
}

// readInto reads a whole file into *buf, growing it as needed, so that
// thousands of small list files share one allocation.
func readInto(name string, buf *[]byte) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	*buf = b
	return b, nil
}
