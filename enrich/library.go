package enrich

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// maxProcLibraries bounds the libraries a table entry remembers for its
// connections: the kernel reports each (process, file) once, and trusted
// files only until they are judged, so a process rarely has more. Judged
// trusted ones make room first.
const maxProcLibraries = 64

// DefaultPreloadFile is the dynamic loader's system-wide preload list.
const DefaultPreloadFile = "/etc/ld.so.preload"

// maxContainerPreloads bounds the containers whose preload list is kept,
// and maxPreloadBytes what is read of one: a container's root user writes
// its list, and the loader reads no further than its first few paths.
const (
	maxContainerPreloads = 256
	maxPreloadBytes      = 64 << 10
)

// library is a file a process mapped executable, with its hash and
// verdict as they become known.
type library struct {
	rec   event.Library // identity, path, classes; hash and trust once known
	file  sensor.File
	hash  *hasher.Future
	done  bool // hash and trust filled into rec
	trust *event.Trust
	// ctr is the mapping process's container (nil on the host): the path
	// is then in its mount namespace, root is where the sensor reads
	// that, and the container's packages judge the file.
	ctr  *container.Info
	root string
}

// libraryItem makes the library_load record of v. The library joins the
// process's entry, so the process's later connections carry it.
func (e *Enricher) libraryItem(v *sensor.Library) Item {
	p := e.lookup(v.TGID, v.Task.StartNs, v.Task.CgroupID)
	if p == nil {
		p = &Proc{PID: v.TGID, StartNs: v.Task.StartNs, PPID: v.Task.PPID, Comm: v.Task.Comm, Source: SourceKernel}
		if r := e.opts.Containers; r != nil {
			p.ctr, p.ctrKnown = r.Lookup(p.PID, v.Task.CgroupID), true
		}
		e.add(p)
	}
	f := v.File
	l := &library{file: f, rec: event.Library{
		Path: v.Path, PathTruncated: v.PathTruncated, Device: f.Dev, Inode: f.Ino, Size: f.Size,
		MtimeNs: f.MtimeNs, CtimeNs: f.CtimeNs, Nlink: f.Nlink, Mode: f.Mode, UID: f.UID,
		Memfd: f.Memfd, Deleted: f.Deleted, FSType: classify.FSType(f.FSMagic), Via: "mmap",
	}}
	if v.Mprotect {
		l.rec.Via = "mprotect"
	}
	usable := v.Path != "" && !v.PathTruncated && !v.Disconnected
	if e.opts.Paths != nil && (usable || f.Memfd || f.Deleted) {
		l.rec.PathClasses = classify.WithFS(e.opts.Paths.Classes(v.Path, f.Memfd, f.Deleted), l.rec.FSType)
	}
	switch {
	case slices.Contains(p.preload, v.Path):
		l.rec.Preload = "LD_PRELOAD"
	case usable && e.preloadFor(p).has(v.Path):
		l.rec.Preload = "ld.so.preload"
	}
	hashPath := v.Path
	if p.ctr != nil && usable {
		// The container's file: read through its root, judged by its
		// packages, and in its writable layer when it was dropped there.
		l.ctr, l.root = p.ctr, e.containerRoot(p)
		hashPath = filepath.Join(l.root, v.Path)
		if f.FSMagic == overlayMagic && container.InUpperDir(e.upperDir(p), v.Path, f.Size) {
			l.rec.PathClasses = append(l.rec.PathClasses, classify.ClassContainerUpper)
		}
	}
	if h := e.opts.Hasher; h != nil && usable {
		owned, md5 := false, false
		if e.opts.Trust != nil {
			if o, ok := e.owner(p, v.Path); ok {
				owned, md5 = true, o.NeedsMD5()
			}
		}
		// The file is read by path and hashed only if it is still the
		// version the kernel mapped (a memfd or deleted file is gone).
		l.hash = h.Submit(hasher.Request{Path: hashPath, ID: exeID(f), WantMD5: md5,
			Suspect: !owned && (len(l.rec.PathClasses) > 0 || f.Deleted)})
	} else if f.Memfd || v.Disconnected {
		// A memfd (or unlinked) library has no path to read it by: the
		// rules join it on its file identity instead of a digest.
		l.rec.HashStatus = string(hasher.StatusGone)
	}
	e.stats.Libraries++
	p.libs = addLibrary(p.libs, l)
	r := e.newRecord(event.KindLibraryLoad, &v.Header)
	r.Process = e.process(p, &v.Task, v.TID, p.Exe, "")
	r.Process.Ancestors = p.Ancestors
	r.Library = &l.rec
	return Item{Rec: r, proc: p, lib: l}
}

// finishLibrary fills l's hash and verdict once its hash is known, and
// returns false while it is pending. A file a package database or a
// trusted signature vouches for is handed to Options.TrustLibrary, so the
// kernel stops reporting it.
func (e *Enricher) finishLibrary(l *library) bool {
	if l.done {
		return true
	}
	if l.hash == nil {
		l.done = true
		return true
	}
	res, ok := l.hash.Result()
	if !ok {
		l.rec.HashStatus = string(hasher.StatusPending)
		return false
	}
	l.rec.SHA256, l.rec.HashStatus = res.SHA256, string(res.Status)
	if c := e.opts.Trust; c != nil {
		in := signature.Input{
			Path: l.rec.Path, XattrPath: l.rec.Path, ID: exeID(l.file), SHA256: res.SHA256, MD5: res.MD5,
			HashStatus: hashStatusReason(res), Memfd: l.rec.Memfd, Deleted: l.rec.Deleted,
		}
		var v signature.Trust
		if l.ctr != nil {
			in.XattrPath = "" // read through the container's root
			v = c.VerdictIn(l.ctr.Image, l.root, in)
		} else {
			v = c.Verdict(in)
		}
		l.rec.Trust = &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package,
			Signer: v.Signer, Reason: v.Reason}
		if trusted(l.rec.Trust) && res.SHA256 != "" && e.opts.TrustLibrary != nil {
			e.opts.TrustLibrary(l.file)
		}
	}
	l.done = true
	return true
}

func trusted(t *event.Trust) bool { return t != nil && t.Severity == "INFORMATIONAL" }

// addLibrary appends l to libs, making room past maxProcLibraries by
// dropping libraries already judged trusted; with none to drop, the new
// one is left out.
func addLibrary(libs []*library, l *library) []*library {
	if len(libs) >= maxProcLibraries {
		libs = slices.DeleteFunc(libs, func(o *library) bool { return o.done && trusted(o.rec.Trust) })
	}
	if len(libs) >= maxProcLibraries {
		return libs
	}
	return append(libs, l)
}

// connectionLibraries lists p's libraries that no package or signature
// vouches for: identities of the process for the rules. At most
// event.MaxLibraries go on a record, the likeliest implants first (see
// libraryRank). pending is true while one is still being hashed.
func (e *Enricher) connectionLibraries(p *Proc) (out []event.Library, pending bool) {
	var cands []*library
	for _, l := range p.libs {
		if !e.finishLibrary(l) {
			pending = true
			continue
		}
		if !trusted(l.rec.Trust) {
			cands = append(cands, l)
		}
	}
	if len(cands) > event.MaxLibraries {
		root := installRoot(p.ExePath)
		slices.SortStableFunc(cands, func(a, b *library) int { return libraryRank(a, root) - libraryRank(b, root) })
		cands = cands[:event.MaxLibraries]
	}
	for _, l := range cands {
		out = append(out, l.rec)
	}
	return out, pending
}

// libraryRank orders a process's untrusted libraries when there are more
// than a record carries (an unpackaged Python's own extension modules,
// say): fileless or deleted ones first, then preloaded ones, then those
// in a classed (user-writable) place outside the program's own
// installation, then other classed ones, then the rest.
func libraryRank(l *library, root string) int {
	r := &l.rec
	switch {
	case r.Memfd || r.Deleted:
		return 0
	case r.Preload != "":
		return 1
	case len(r.PathClasses) > 0 && (root == "" || !strings.HasPrefix(r.Path, root)):
		return 2
	case len(r.PathClasses) > 0:
		return 3
	}
	return 4
}

// installRoot is the directory a program's installation hangs from: the
// parent of its executable's directory (/root/.pyenv/versions/3.11.7/ for
// .../3.11.7/bin/python3), or "" when that is the root directory.
func installRoot(exe string) string {
	d := path.Dir(path.Dir(exe))
	if d == "/" || d == "." || !path.IsAbs(exe) {
		return ""
	}
	return d + "/"
}

// libraryWait returns a channel that closes when the next of the
// libraries' pending hashes is known, or nil.
func libraryWait(libs []*library) <-chan struct{} {
	for _, l := range libs {
		if l.hash == nil || l.done {
			continue
		}
		if _, ok := l.hash.Result(); !ok {
			return l.hash.Done()
		}
	}
	return nil
}

// preloadList is the parsed content of the loader's preload file, kept
// while the file's identity stays the same.
type preloadList struct {
	id    fileid.ID
	paths []string
}

func (l *preloadList) has(path string) bool { return l != nil && slices.Contains(l.paths, path) }

// preloadList returns the paths /etc/ld.so.preload names (separated by
// white space or ':' as the loader reads it), rereading the file when its
// identity changed. A missing file names none.
func (e *Enricher) preloadList() *preloadList {
	name := e.opts.PreloadFile
	var st unix.Stat_t
	if unix.Stat(name, &st) != nil {
		e.preload = nil
		return nil
	}
	id := fileid.FromStat(&st)
	if e.preload != nil && e.preload.id == id {
		return e.preload
	}
	b, err := os.ReadFile(name)
	if err != nil {
		e.preload = nil
		return nil
	}
	e.preload = &preloadList{id: id, paths: splitPaths(string(b))}
	return e.preload
}

// preloadFor returns the preload list p's loader read: the host's, or, in
// a container, the container's own /etc/ld.so.preload, opened within the
// container's root (a symbolic link in it cannot reach the host's files)
// and reread when its identity changes. An implant that writes it makes
// every program in the container preload its library. nil when there is
// none, or the container's root cannot be reached (its last process is
// gone and its root is not mounted on the host).
func (e *Enricher) preloadFor(p *Proc) *preloadList {
	if p.ctr == nil {
		return e.preloadList()
	}
	fd := openInRoot(e.containerRoot(p), DefaultPreloadFile, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK)
	if fd < 0 {
		e.ctrPreload.Remove(p.ctr.Container.ID)
		return nil
	}
	f := os.NewFile(uintptr(fd), DefaultPreloadFile)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	id := fileid.FromStat(&st)
	if l, ok := e.ctrPreload.Get(p.ctr.Container.ID); ok && l.id == id {
		return l
	}
	b := make([]byte, min(st.Size, maxPreloadBytes))
	n, _ := io.ReadFull(f, b)
	l := &preloadList{id: id, paths: splitPaths(string(b[:n]))}
	e.ctrPreload.Add(p.ctr.Container.ID, l)
	return l
}

// splitPaths splits a preload list as the loader does: on white space and
// ':'. Lines starting with '#' are comments (ld.so.preload has none, but
// tolerates them in practice).
func splitPaths(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			continue
		}
		for _, f := range strings.FieldsFunc(string(line), func(r rune) bool {
			return r == ':' || r == ' ' || r == '\t'
		}) {
			out = append(out, f)
		}
	}
	return out
}

// loaderEnv turns the exec record's loader variables into the launch's,
// each with the path classes of the paths it names, and returns the paths
// LD_PRELOAD names (so the libraries it preloads are marked so).
func (e *Enricher) loaderEnv(vars []sensor.EnvVar) (out []event.LoaderVar, preload []string) {
	for _, v := range vars {
		lv := event.LoaderVar{Name: v.Name, Value: v.Value, Truncated: v.Truncated}
		paths := splitPaths(v.Value)
		if v.Truncated && len(paths) > 0 {
			paths = paths[:len(paths)-1] // the last one is cut
		}
		if v.Name == "LD_PRELOAD" {
			preload = append(preload, paths...)
		}
		if e.opts.Paths != nil {
			for _, p := range paths {
				for _, c := range e.opts.Paths.Classes(p, false, false) {
					if !slices.Contains(lv.PathClasses, c) {
						lv.PathClasses = append(lv.PathClasses, c)
					}
				}
			}
		}
		out = append(out, lv)
	}
	return out, preload
}
