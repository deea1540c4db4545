package signature

import (
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
)

// Options configures a Checker. The zero value checks the running host.
type Options struct {
	// Root is the filesystem root whose package databases are read and
	// under which Input.Path is looked up. Default "/".
	Root string
	// TrustedKeyDir holds the x509 certificates (DER or PEM) whose keys
	// are trusted to sign executables. It is a path on the sensor's own
	// filesystem, not under Root. Default "/etc/keys/ima".
	TrustedKeyDir string
	// CacheSize bounds the verdict cache. Default 16384.
	CacheSize int
	// MaxImages bounds the package indexes of container root filesystems
	// kept in memory (VerdictIn). Default DefaultMaxImages.
	MaxImages int
	// MaxImageBytes bounds them by their approximate size: a host that
	// runs images with large package databases keeps fewer. The index in
	// use is kept whatever its size. Default DefaultMaxImageBytes.
	MaxImageBytes int64
	// RefreshInterval is how often a lookup may stat the databases and
	// the key directory to see whether they changed. Default 2s.
	RefreshInterval time.Duration
	Logger          *slog.Logger
}

// Input is what the pipeline knows about one executable.
type Input struct {
	// Path is the executable's path as the kernel reports it, relative
	// to Root; a " (deleted)" suffix is understood.
	Path string
	// XattrPath is where to read security.ima and, when needed, the
	// content: /proc/<pid>/exe names the executed inode even when it
	// was deleted or lives in another mount namespace. Default: Path
	// under Root.
	XattrPath string
	// ProcExe is /proc/<pid>/exe of a process running the file, or "".
	// On a cache miss it replaces XattrPath if it still names the inode
	// ID names (a binary that replaced itself after starting is gone from
	// its path but not from there); a cached verdict costs no stat.
	ProcExe string
	// ID is the file version that was hashed. The verdict is cached by
	// it, and a package's record is only applied when the file at Path
	// under Root is this same inode.
	ID fileid.ID
	// SHA256 and MD5 are lowercase hex digests of the content. MD5 is
	// needed only when Owner reports an md5 digest (dpkg).
	SHA256, MD5 string
	// HashStatus is the hasher's word for why a digest is missing.
	HashStatus string
	// Memfd and Deleted are the kernel's facts about the executable.
	Memfd, Deleted bool
}

// Owner is what the package database holds for a path.
type Owner struct {
	Manager string `json:"manager"` // "dpkg" or "rpm"
	Package string `json:"package"`
	Version string `json:"version,omitempty"`
	// DigestAlgo names the algorithm of Digest: "md5" for dpkg, most
	// often "sha256" for rpm. Empty when the database records none.
	DigestAlgo string `json:"digest_algo,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Conffile   bool   `json:"conffile,omitempty"`
	// Listed is the path as the database lists it, when that differs
	// (merged /usr, diversions).
	Listed string `json:"listed,omitempty"`
}

// NeedsMD5 reports whether the hasher must compute md5 for Verdict to
// compare the content with this owner's record.
func (o Owner) NeedsMD5() bool { return o.DigestAlgo == "md5" }

// Stats are counters for the sensor's health report.
type Stats struct {
	Verdicts      map[Verdict]uint64 `json:"verdicts"`
	CacheHits     uint64             `json:"cache_hits"`
	CacheMisses   uint64             `json:"cache_misses"`
	IndexPaths    int                `json:"index_paths"`
	IndexPackages int                `json:"index_packages"`
	IndexBuild    time.Duration      `json:"index_build_ns"`
	IndexProblems int                `json:"index_problems"`
	Refreshes     uint64             `json:"refreshes"`
	TrustedCerts  int                `json:"trusted_certs"`
	// ImageIndexes is how many container images' package indexes are
	// held; ImageIndexBuilds how many were built.
	ImageIndexes     int    `json:"image_indexes"`
	ImageIndexBuilds uint64 `json:"image_index_builds"`
	// ImageIndexBytes is their approximate size.
	ImageIndexBytes int64 `json:"image_index_bytes"`
}

// Checker decides Trust verdicts. It is safe for concurrent use.
type Checker struct {
	root     string
	keyDir   string
	interval time.Duration
	log      *slog.Logger

	ix   atomic.Pointer[index]
	keys atomic.Pointer[keyring]
	// gen counts refreshes; a cached verdict from an older generation is
	// ignored, so a verdict computed across a refresh cannot outlive it.
	gen     atomic.Uint64
	cache   *lru.Cache[cacheKey, cached]
	rebuild sync.Mutex
	// background counts rebuilds running on their own goroutine.
	background sync.WaitGroup
	nextCheck  atomic.Int64

	// images holds the package indexes of container images (images.go).
	images      *lru.Cache[string, *index]
	imageBuild  sync.Mutex
	imageBuilds atomic.Uint64
	imageBytes  atomic.Int64 // the held indexes' approxBytes
	maxImageB   int64

	counts    [len(verdicts)]atomic.Uint64
	hits      atomic.Uint64
	misses    atomic.Uint64
	refreshes atomic.Uint64

	// Seams for tests.
	now      func() time.Time
	getxattr func(string) ([]byte, error)
}

// cacheKey includes the path because ownership is by path: two hard
// links to one inode can have different owners.
type cacheKey struct {
	id             fileid.ID
	path           string
	image          string // "" for the host
	memfd, deleted bool
}

type cached struct {
	t     Trust
	gen   uint64
	until time.Time
}

// New builds the package index and loads the trusted keys. Missing or
// unreadable databases are not an error: they make verdicts unknown,
// with the reason, and are logged.
func New(opts Options) (*Checker, error) {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.TrustedKeyDir == "" {
		opts.TrustedKeyDir = "/etc/keys/ima"
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 16384
	}
	if opts.MaxImages <= 0 {
		opts.MaxImages = DefaultMaxImages
	}
	if opts.MaxImageBytes <= 0 {
		opts.MaxImageBytes = DefaultMaxImageBytes
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("signature root: %w", err)
	}
	cache, err := lru.New[cacheKey, cached](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("verdict cache: %w", err)
	}
	c := &Checker{
		maxImageB: opts.MaxImageBytes,
		root:      root,
		keyDir:    opts.TrustedKeyDir,
		interval:  opts.RefreshInterval,
		log:       opts.Logger,
		cache:     cache,
		now:       time.Now,
		getxattr:  readIMA,
	}
	c.images, err = lru.NewWithEvict(opts.MaxImages, func(_ string, ix *index) { c.imageBytes.Add(-ix.bytes) })
	if err != nil {
		return nil, fmt.Errorf("image index cache: %w", err)
	}
	c.ix.Store(c.buildIndex())
	c.keys.Store(c.loadKeys())
	c.nextCheck.Store(time.Now().Add(c.interval).UnixNano())
	return c, nil
}

func (c *Checker) buildIndex() *index {
	fp := dbFingerprint(c.root)
	start := time.Now()
	ix := newIndex(findAliases(c.root))
	ix.fp = fp
	hasDpkg, err := addDpkg(ix, c.root)
	if err != nil {
		ix.missReason = joinReason(ix.missReason, err.Error())
		ix.problem(err.Error())
	}
	hasRPM, err := addRPM(ix, c.root)
	if err != nil {
		ix.missReason = joinReason(ix.missReason, err.Error())
		ix.problem(err.Error())
	}
	if !hasDpkg && !hasRPM {
		ix.missReason = joinReason(ix.missReason, fmt.Sprintf("no package database under %s (looked for dpkg status and rpmdb.sqlite)", c.root))
	}
	ix.built = time.Since(start)
	c.log.Info("package index built", "root", c.root, "paths", len(ix.files), "packages", ix.packages,
		"duration", ix.built, "problems", len(ix.problems), "dpkg", hasDpkg, "rpm", hasRPM)
	for i, p := range ix.problems {
		if i == 20 {
			c.log.Warn("package index: more problems not logged", "count", len(ix.problems)-i)
			break
		}
		c.log.Warn("package index problem", "problem", p)
	}
	return ix
}

// testHookRebuild runs at the start of every rebuild check.
var testHookRebuild func()

func (c *Checker) loadKeys() *keyring {
	k := loadKeyring(c.keyDir)
	c.log.Info("trusted keys loaded", "dir", c.keyDir, "certificates", len(k.certs), "problems", len(k.problems))
	for _, p := range k.problems {
		c.log.Warn("trusted key problem", "problem", p)
	}
	return k
}

// refresh rebuilds the index and reloads the keys when their files
// changed, and reports whether anything was rebuilt. Forced, it does so
// now, in the caller. Otherwise it looks at most once per interval, and
// in the background: the caller is the record path, and a rebuild while
// apt or dnf runs takes as long as reading the whole database (sqlite
// waits up to 5 s for rpm's lock). Lookups meanwhile use the previous
// index; the unforced call always reports false.
func (c *Checker) refresh(force bool) bool {
	now := time.Now()
	if !force {
		if now.UnixNano() < c.nextCheck.Load() || !c.rebuild.TryLock() {
			return false
		}
		c.nextCheck.Store(now.Add(c.interval).UnixNano())
		c.background.Add(1)
		go func() {
			defer c.background.Done()
			defer c.rebuild.Unlock()
			c.refreshLocked()
		}()
		return false
	}
	c.rebuild.Lock()
	defer c.rebuild.Unlock()
	c.nextCheck.Store(now.Add(c.interval).UnixNano())
	return c.refreshLocked()
}

// refreshLocked is refresh's work, with c.rebuild held.
func (c *Checker) refreshLocked() bool {
	if testHookRebuild != nil {
		testHookRebuild()
	}
	changed := false
	if !dbFingerprint(c.root).equal(c.ix.Load().fp) {
		c.ix.Store(c.buildIndex())
		changed = true
	}
	if !dirFingerprint(c.keyDir).equal(c.keys.Load().fp) {
		c.keys.Store(c.loadKeys())
		changed = true
	}
	if changed {
		// Every cached verdict was decided against what just changed.
		c.gen.Add(1)
		c.cache.Purge()
		c.refreshes.Add(1)
	}
	return changed
}

// Owner reports whether an installed package owns path, and which digest
// its database holds, so the hasher knows before reading the file whether
// md5 is needed.
func (c *Checker) Owner(path string) (Owner, bool) {
	p, _, memfd := normalise(path, false, false)
	if memfd {
		return Owner{}, false
	}
	c.refresh(false)
	ix := c.ix.Load()
	rs := ix.owners(canonical(p, ix.aliases))
	if len(rs) == 0 {
		return Owner{}, false
	}
	return rs[0].owner(), true
}

func (r record) owner() Owner {
	o := Owner{Manager: r.pkg.manager, Package: r.pkg.name, Version: r.pkg.version, Digest: r.digest,
		Conffile: r.conffile, Listed: r.listed}
	if r.digest != "" {
		o.DigestAlgo = algoName(r.algo)
	}
	return o
}

func algoName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "md5"
	case crypto.SHA1:
		return "sha1"
	case crypto.SHA224:
		return "sha224"
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return strings.ToLower(h.String())
}

// normalise strips the kernel's " (deleted)" suffix and recognises
// memfd paths ("/memfd:name (deleted)").
func normalise(path string, deleted, memfd bool) (string, bool, bool) {
	if p, ok := strings.CutSuffix(path, " (deleted)"); ok {
		path, deleted = p, true
	}
	if strings.HasPrefix(path, "/memfd:") {
		memfd = true
	}
	return path, deleted, memfd
}

// Verdict decides where in's executable comes from.
func (c *Checker) Verdict(in Input) Trust {
	c.refresh(false)
	return c.verdict(view{root: c.root}, in)
}

// view is the root filesystem a verdict is decided against: the host's
// (image "", whose index is c.ix and refreshes), or a container's.
type view struct {
	root  string
	image string
	ix    *index // a container's; the host's is c.ix
}

func (c *Checker) index(v view) *index {
	if v.ix != nil {
		return v.ix
	}
	return c.ix.Load()
}

func (c *Checker) verdict(v view, in Input) Trust {
	p, deleted, memfd := normalise(in.Path, in.Deleted, in.Memfd)
	id := in.ID
	if id == (fileid.ID{}) {
		var st unix.Stat_t
		if unix.Stat(v.contentPath(in, p), &st) == nil {
			id = fileid.FromStat(&st)
		}
	}
	key := cacheKey{id: id, path: p, image: v.image, memfd: memfd, deleted: deleted}
	gen := c.gen.Load()
	now := c.now()
	if id != (fileid.ID{}) {
		if e, ok := c.cache.Get(key); ok && e.gen == gen && (e.until.IsZero() || now.Before(e.until)) {
			c.hits.Add(1)
			c.counts[e.t.Verdict.index()].Add(1)
			return e.t
		}
	}
	c.misses.Add(1)
	if in.ProcExe != "" && id != (fileid.ID{}) {
		if have, err := fileid.StatAs(in.ProcExe, id); err == nil && have.SameFile(id) {
			in.XattrPath = in.ProcExe
		}
	}
	d := c.decide(v, in, p, id, deleted, memfd, now)
	t := d.t
	if memfd {
		t = t.atLeast(Medium, "memfd-backed executable: no file on disk to vouch for it")
	} else if deleted {
		t = t.atLeast(Medium, "executable was deleted after exec")
	}
	// Undecided verdicts are not cached: the next exec may bring the
	// missing digest, or the database may be readable again.
	if id != (fileid.ID{}) && t.Verdict != Unknown {
		c.cache.Add(key, cached{t: t, gen: gen, until: d.until})
	}
	c.counts[t.Verdict.index()].Add(1)
	return t
}

// contentPath is where the executable's content and xattrs are read.
func (v view) contentPath(in Input, p string) string {
	if in.XattrPath != "" {
		return in.XattrPath
	}
	return filepath.Join(v.root, p)
}

type decision struct {
	t     Trust
	until time.Time
}

func (c *Checker) decide(v view, in Input, p string, id fileid.ID, deleted, memfd bool, now time.Time) decision {
	if p == "" {
		return decision{t: trust(Unknown, "", "", "no executable path")}
	}
	ds := &digestSource{in: in, path: v.contentPath(in, p), id: id}
	// undecided is why a package record exists but could not decide.
	var undecided string
	if !memfd {
		t, why := c.byPath(v, p, id, deleted, ds)
		if t.Verdict != "" {
			return decision{t: t}
		}
		undecided = why
	} else if in.XattrPath == "" {
		// No path reaches a memfd's inode but the process's exe link.
		return decision{t: trust(Unowned, "", "", "")}
	}
	if d, ok := c.bySignature(in, p, ds, now); ok {
		if undecided != "" && d.t.Verdict != SignedTrusted {
			d.t.Reason = joinReason(d.t.Reason, undecided)
		}
		return d
	}
	if undecided != "" {
		return decision{t: trust(Unknown, "", "", joinReason(undecided, ds.note))}
	}
	return decision{t: c.unowned(c.index(v), ds.note)}
}

// byPath decides from the package databases. A zero Trust means they do
// not decide: no package owns p (why is "") or the record cannot be
// applied (why says so), and the signature is consulted next.
func (c *Checker) byPath(v view, p string, id fileid.ID, deleted bool, ds *digestSource) (Trust, string) {
	for attempt := 0; ; attempt++ {
		ix := c.index(v)
		owners := ix.owners(canonical(p, ix.aliases))
		if len(owners) == 0 {
			return Trust{}, ""
		}
		if !deleted {
			if why := v.sameFile(p, id); why != "" {
				return Trust{}, why
			}
		}
		t, why := byPackage(owners, ds)
		if t.Verdict == PackageModified && attempt == 0 && v.image == "" && c.refresh(true) {
			// The database changed since the index was built: an
			// upgrade may have put this very file in place.
			continue
		}
		if deleted {
			t = deletedPackageFile(t)
		}
		return t, why
	}
}

func (c *Checker) unowned(ix *index, note string) Trust {
	if ix.missReason != "" {
		return trust(Unknown, "", "", joinReason("no package owns this path in the index, but "+ix.missReason, note))
	}
	return trust(Unowned, "", "", note)
}

// sameFile says why the database record for p cannot be applied to the
// executable id, or "": the path under Root must be this very inode. It
// is not when the process runs in another mount namespace (a container's
// /usr/bin/python3 is not the host's) or the path was replaced since exec.
func (v view) sameFile(p string, id fileid.ID) string {
	if id == (fileid.ID{}) {
		return ""
	}
	have, err := fileid.StatAs(filepath.Join(v.root, p), id)
	if err != nil {
		return fmt.Sprintf("stat %s under %s: %v", p, v.name(), err)
	}
	if !have.SameFile(id) {
		return fmt.Sprintf("%s under %s is not the executed file (another mount namespace, or replaced since exec), so its package record does not apply", p, v.name())
	}
	return ""
}

// deletedPackageFile adjusts a package verdict for an executable deleted
// after exec. Matching content is still the package's (a running program
// whose package was upgraded); differing content cannot be told apart
// from the previous version of the package, so it is not called
// modified. The caller raises both to MEDIUM.
func deletedPackageFile(t Trust) Trust {
	if t.Verdict == PackageModified {
		return trust(Unknown, t.Package, "", joinReason(
			"deleted executable at a path "+t.Package+" owns; its digest differs from the database (replaced by an upgrade, or tampered)", t.Reason))
	}
	if t.Verdict == PackageVerified {
		t.Reason = joinReason("content matches "+t.Package+"'s database digest", t.Reason)
	}
	return t
}

// byPackage compares the content with each owner's record. When every
// owner's record is malformed it decides nothing and says why.
func byPackage(owners []record, ds *digestSource) (Trust, string) {
	var (
		mismatch []record
		reasons  []string
		doubts   []string
	)
	for _, o := range owners {
		if o.pkg.doubt != "" {
			doubts = append(doubts, o.pkg.doubt)
			continue
		}
		if o.digest == "" {
			why := o.note
			if why == "" {
				why = "the database records no digest for this path"
			}
			reasons = append(reasons, o.pkg.name+": "+why)
			continue
		}
		got, err := ds.hex(o.algo)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if strings.EqualFold(got, o.digest) {
			return trust(PackageVerified, o.pkg.name, "", ""), ""
		}
		mismatch = append(mismatch, o)
	}
	if len(mismatch) == 0 && len(reasons) == 0 {
		return Trust{}, joinReason(doubts...)
	}
	if len(reasons) > 0 {
		// Nothing matched, and some owner could not be compared: its
		// record might be the one that matches.
		if len(mismatch) > 0 {
			reasons = append(reasons, fmt.Sprintf("content differs from %s's record", mismatch[0].pkg.name))
		}
		return trust(Unknown, owners[0].pkg.name, "", joinReason(append(reasons, doubts...)...)), ""
	}
	o := mismatch[0]
	what := fmt.Sprintf("%s digest differs from %s %s's database", algoName(o.algo), o.pkg.name, o.pkg.version)
	if o.listed != "" {
		what += " (listed as " + o.listed + ")"
	}
	if o.pkg.transitional() {
		return trust(Unknown, o.pkg.name, "", fmt.Sprintf("%s is being installed (dpkg status %s); %s", o.pkg.name, o.pkg.state, what)), ""
	}
	t := trust(PackageModified, o.pkg.name, "", joinReason(what, joinReason(doubts...)))
	if o.conffile {
		// Conffiles are meant to be edited by the administrator (an
		// init script, a cron job): a changed one is expected far more
		// often than a changed binary.
		t.Severity = Medium
		t.Reason = joinReason(t.Reason, "it is a conffile, which administrators may edit")
	}
	return t, ""
}

// bySignature decides from security.ima. ok is false when the file
// carries no signature.
func (c *Checker) bySignature(in Input, p string, ds *digestSource, now time.Time) (decision, bool) {
	if ds.id != (fileid.ID{}) {
		// A /proc/<pid>/exe whose pid was reused, or a path renamed
		// over, would lend us another file's signature.
		have, err := fileid.StatAs(ds.path, ds.id)
		if err != nil {
			return decision{t: trust(Unknown, "", "", fmt.Sprintf("cannot tell whether it is signed: stat %s: %v", ds.path, err))}, true
		}
		if !have.SameFile(ds.id) {
			return decision{t: trust(Unknown, "", "", fmt.Sprintf("cannot tell whether it is signed: %s is no longer the executed file", ds.path))}, true
		}
	}
	b, err := c.getxattr(ds.path)
	if err != nil {
		return decision{t: trust(Unknown, "", "", fmt.Sprintf("cannot tell whether it is signed: %v", err))}, true
	}
	if b == nil {
		return decision{}, false
	}
	v, err := parseIMA(b)
	if err != nil {
		return decision{t: trust(Unknown, "", "", err.Error())}, true
	}
	if !v.signed {
		ds.note = "security.ima holds a digest, not a signature"
		return decision{}, false
	}
	h, name := v.hash()
	if h == 0 {
		return decision{t: trust(Unknown, "", "keyid:"+v.keyIDString(), "signature uses "+name+", which cannot be verified here")}, true
	}
	if h == crypto.MD5 || h == crypto.SHA1 {
		// Collisions in these are practical: a signature over one file's
		// digest would vouch for another's.
		return decision{t: trust(Unknown, "", "keyid:"+v.keyIDString(), "signature uses "+name+", which is too weak to trust (sha256 or stronger required)")}, true
	}
	keys := c.keys.Load()
	if !keys.knows(&v) {
		// Decided on the key id alone, before any hashing: anyone can
		// put a signature with a made-up key id and a slow algorithm on
		// a large file of their own.
		r := keys.check(&v, h, nil, now)
		return decision{t: r.trust, until: r.until}, true
	}
	hx, err := ds.hex(h)
	if err != nil {
		return decision{t: trust(Unknown, "", "keyid:"+v.keyIDString(), "cannot verify signature: "+err.Error())}, true
	}
	digest, _ := hex.DecodeString(hx)
	r := keys.check(&v, h, digest, now)
	return decision{t: r.trust, until: r.until}, true
}

// fallbackHashLimit bounds the hashing this package does itself, for
// algorithms the pipeline's hasher does not compute.
const fallbackHashLimit = 512 << 20

// digestSource hands out the content's digest per algorithm: md5 and
// sha256 from the pipeline's hasher, others (an rpm database using sha1
// or sha512, a signature over sha512) computed here from the content
// path, once, after checking the file is still the version that was
// hashed. Missing md5 or sha256 is not computed here: the hasher left it
// out for a reason (size limit, read error, Owner not consulted) that
// would apply to us too.
type digestSource struct {
	in    Input
	path  string
	id    fileid.ID
	extra map[crypto.Hash]string
	note  string
}

func (ds *digestSource) hex(h crypto.Hash) (string, error) {
	switch h {
	case crypto.SHA256:
		return ds.given(ds.in.SHA256, "sha256")
	case crypto.MD5:
		return ds.given(ds.in.MD5, "md5")
	}
	if s, ok := ds.extra[h]; ok {
		return s, nil
	}
	s, err := hashFile(ds.path, h, ds.id)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", algoName(h), err)
	}
	if ds.extra == nil {
		ds.extra = map[crypto.Hash]string{}
	}
	ds.extra[h] = s
	return s, nil
}

func (ds *digestSource) given(s, name string) (string, error) {
	if s != "" {
		return s, nil
	}
	why := "no " + name + " digest of the content"
	if ds.in.HashStatus != "" {
		why += " (" + ds.in.HashStatus + ")"
	}
	return "", errors.New(why)
}

var errChanged = errors.New("file changed since it was hashed")

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func hashFile(p string, h crypto.Hash, id fileid.ID) (string, error) {
	if !h.Available() {
		return "", fmt.Errorf("hash algorithm %v not available", h)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	got, err := fileid.FstatAs(int(f.Fd()), id)
	if err != nil {
		return "", err
	}
	if id != (fileid.ID{}) && got != id {
		return "", errChanged
	}
	if got.Size > fallbackHashLimit {
		return "", fmt.Errorf("%d bytes is over the %d byte limit", got.Size, fallbackHashLimit)
	}
	hw := h.New()
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	if _, err := io.CopyBuffer(hw, io.LimitReader(f, fallbackHashLimit), *buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(hw.Sum(nil)), nil
}

// Stats returns a snapshot of the counters.
func (c *Checker) Stats() Stats {
	ix := c.ix.Load()
	s := Stats{
		Verdicts:         make(map[Verdict]uint64, len(verdicts)),
		CacheHits:        c.hits.Load(),
		CacheMisses:      c.misses.Load(),
		IndexPaths:       len(ix.files),
		IndexPackages:    ix.packages,
		IndexBuild:       ix.built,
		IndexProblems:    len(ix.problems),
		Refreshes:        c.refreshes.Load(),
		TrustedCerts:     len(c.keys.Load().certs),
		ImageIndexes:     c.images.Len(),
		ImageIndexBuilds: c.imageBuilds.Load(),
		ImageIndexBytes:  c.imageBytes.Load(),
	}
	for i, v := range verdicts {
		s.Verdicts[v] = c.counts[i].Load()
	}
	return s
}

// name is how reasons name the view's root.
func (v view) name() string {
	if v.image == "" {
		return v.root
	}
	return "the root of container image " + v.image
}
