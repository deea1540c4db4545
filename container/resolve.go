package container

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
)

// Defaults.
const (
	DefaultMaxEntries = 4096
	// maxWalk bounds the cgroup directories visited to find a cgroup by
	// id when its process is already gone.
	maxWalk = 1 << 14
)

// Options configures a Resolver. Every path defaults to the host's.
type Options struct {
	ProcRoot string // "/proc"
	// CgroupRoot is the cgroup v2 mount; found in /proc/self/mountinfo
	// when empty ("/sys/fs/cgroup" or, on a hybrid host,
	// "/sys/fs/cgroup/unified").
	CgroupRoot string
	// MaxEntries bounds the cache of cgroups. Default DefaultMaxEntries.
	MaxEntries int
	State      StateRoots
	Logger     *slog.Logger
}

// Info is what the sensor knows about one container. It is shared by
// every process of the container and never modified once returned.
type Info struct {
	Container *event.Container
	K8s       *event.K8s
	// Upper is the overlay upper directory of the container's root
	// filesystem, as a path on the host; "" when its root is not an
	// overlay.
	Upper string
	// Root is where the container's root filesystem is mounted on the
	// host (the overlay's merged directory), "" when it is not mounted in
	// the sensor's namespace: its files are read there when the process
	// that ran them is gone.
	Root string
	// Image keys the package index of the container's root filesystem:
	// the image id where the runtime records one (containers of one
	// image share it), else the container id.
	Image string
}

// InUpper reports whether the file at path (in the container's mount
// namespace) is in the container's writable layer: the path exists, as a
// regular file of the given size, in the overlay's upper directory. That
// is a file created, or copied up by a modification, after the container
// started; the image's files stay in the lower layers. The caller checks
// that the executed file is on the container's overlay at all.
func (i *Info) InUpper(path string, size int64) bool {
	if i == nil {
		return false
	}
	return InUpperDir(i.Upper, path, size)
}

// InUpperDir is InUpper for the upper directory upper.
func InUpperDir(upper, path string, size int64) bool {
	if upper == "" || path == "" {
		return false
	}
	var st unix.Stat_t
	if unix.Lstat(filepath.Join(upper, path), &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == size
}

// Stats counts the Resolver's work.
type Stats struct {
	Cached     int    // cgroups in the cache now, containers and not
	Containers uint64 // containers resolved
	Misses     uint64 // cgroups resolved (cache misses)
	Swept      uint64 // cache entries dropped because their cgroup is gone
	Evicted    uint64 // cache entries pushed out by the bound
	Unresolved uint64 // cgroups neither /proc nor the cgroup tree could name
	// Created counts container cgroups remembered from their creation
	// (Created); FromCreation the lookups those answered, for processes
	// whose cgroup file could not be read.
	Created      uint64
	FromCreation uint64
}

type entry struct {
	path string // v2 path, for the sweep
	info *Info  // nil: not a container
}

// Resolver names the containers of processes by their cgroup, caching
// per cgroup v2 id. It is safe for concurrent use.
type Resolver struct {
	opts   Options
	rootID uint64 // the v2 root's id: processes there are resolved per process
	log    *slog.Logger

	mu    sync.Mutex
	cache *simplelru.LRU[uint64, entry]
	born  *simplelru.LRU[uint64, string] // container cgroups by id, from Created
	stats Stats
}

// New returns a Resolver.
func New(opts Options) (*Resolver, error) {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.CgroupRoot == "" {
		opts.CgroupRoot = CgroupV2Mount(filepath.Join(opts.ProcRoot, "self/mountinfo"))
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.State = opts.State.withDefaults()
	r := &Resolver{opts: opts, log: opts.Logger}
	cache, err := simplelru.NewLRU[uint64, entry](opts.MaxEntries, nil)
	if err != nil {
		return nil, err
	}
	r.cache = cache
	if r.born, err = simplelru.NewLRU[uint64, string](opts.MaxEntries, nil); err != nil {
		return nil, err
	}
	if opts.CgroupRoot != "" {
		var st unix.Stat_t
		if unix.Stat(opts.CgroupRoot, &st) == nil {
			r.rootID = st.Ino
		}
	}
	return r, nil
}

// Lookup returns the container of process pid, whose kernel-reported
// cgroup v2 id is cgroupID, or nil when it runs on the host (or cannot be
// told). A cgroup seen before costs one map lookup, and a process in the
// v2 root none. On a host without a cgroup v2 hierarchy every process
// reports one id, so the cgroup file is read each time (its v1 lines
// name the container): callers keep the result per process.
func (r *Resolver) Lookup(pid uint32, cgroupID uint64) *Info {
	if cgroupID == 0 {
		// A process read from /proc (the startup snapshot): its cgroup's
		// id is its directory's inode number.
		if b, err := os.ReadFile(filepath.Join(r.opts.ProcRoot, strconv.FormatUint(uint64(pid), 10), "cgroup")); err == nil {
			if _, v2, _ := ParseProcCgroup(b); v2 != "" && r.opts.CgroupRoot != "" {
				var st unix.Stat_t
				if unix.Stat(filepath.Join(r.opts.CgroupRoot, v2), &st) == nil {
					cgroupID = st.Ino
				}
			}
		}
	}
	if r.rootID != 0 && cgroupID == r.rootID {
		// The v2 root holds host processes, and processes a runtime
		// starts before moving them into a container's cgroup (runc's
		// init at its own exec): not a container, at no cost.
		return nil
	}
	// Without a v2 hierarchy (a cgroup v1 host) every process reports the
	// same id: the cgroup file is read per process, and the caller keeps
	// the result with the process.
	shared := cgroupID != 0 && r.rootID != 0
	if shared {
		r.mu.Lock()
		e, ok := r.cache.Get(cgroupID)
		r.mu.Unlock()
		if ok {
			return e.info
		}
	}
	b, err := os.ReadFile(filepath.Join(r.opts.ProcRoot, strconv.FormatUint(uint64(pid), 10), "cgroup"))
	var (
		ref   Ref
		v2    string
		found bool
	)
	if err == nil {
		ref, v2, found = ParseProcCgroup(b)
		if shared && !r.sameCgroup(v2, cgroupID) {
			// The process moved (or the pid is another process's now):
			// the kernel's id is the truth.
			err = errors.New("cgroup changed")
		}
	}
	if err != nil {
		if !shared {
			return nil
		}
		r.mu.Lock()
		v2, _ = r.born.Get(cgroupID)
		if v2 != "" {
			r.stats.FromCreation++
		}
		r.mu.Unlock()
		if v2 == "" {
			v2 = r.findCgroup(cgroupID)
		}
		if v2 == "" {
			r.mu.Lock()
			r.stats.Unresolved++
			r.mu.Unlock()
			return nil // not cached: the next process may tell
		}
		ref, found = ParseCgroupPath(v2)
	}
	var info *Info
	if found {
		info = r.describe(pid, ref)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Misses++
	if info != nil {
		r.stats.Containers++
	}
	if shared {
		if r.cache.Add(cgroupID, entry{path: v2, info: info}) {
			r.stats.Evicted++
		}
	}
	return info
}

// Created records that the cgroup v2 directory path (from the hierarchy's
// root) was created with id, as the kernel reports it before any process
// runs there (sensor.Cgroup). Paths that name a container are kept, the
// MaxEntries most recent of them: when a process and its cgroup are both
// gone before their records are read, which a container that runs for
// milliseconds while the sensor is behind does, Lookup names the
// container from its path.
func (r *Resolver) Created(id uint64, path string) {
	if id == 0 || r.rootID == 0 {
		return // no v2 hierarchy: records do not carry the id
	}
	if _, ok := ParseCgroupPath(path); !ok {
		return
	}
	r.mu.Lock()
	r.born.Add(id, path)
	r.stats.Created++
	r.mu.Unlock()
}

// describe completes a parsed reference from the runtime's state and the
// process's mounts.
func (r *Resolver) describe(pid uint32, ref Ref) *Info {
	c := &event.Container{ID: ref.ID, Runtime: ref.Runtime, Name: ref.Name}
	var k *event.K8s
	st := r.opts.State.read(ref)
	if st.runtime != "" && c.Runtime == "" {
		c.Runtime = st.runtime
	}
	if st.name != "" {
		c.Name = st.name
	}
	c.Image, c.ImageID = st.image, st.imageID
	if ref.PodUID != "" || st.k8s != (event.K8s{}) {
		kk := st.k8s
		if kk.PodUID == "" {
			kk.PodUID = ref.PodUID
		}
		k = &kk
	}
	info := &Info{Container: c, K8s: k, Image: c.ID}
	if c.ImageID != "" {
		info.Image = c.ImageID
	}
	if b, err := os.ReadFile(filepath.Join(r.opts.ProcRoot, strconv.FormatUint(uint64(pid), 10), "mountinfo")); err == nil {
		info.Upper = RootUpper(b)
	}
	if info.Upper != "" {
		if b, err := os.ReadFile(filepath.Join(r.opts.ProcRoot, "self", "mountinfo")); err == nil {
			info.Root = MountOf(b, info.Upper)
		}
	}
	r.log.Debug("container resolved", "id", c.ID, "runtime", c.Runtime, "name", c.Name, "image", c.Image,
		"upper", info.Upper, "root", info.Root)
	return info
}

// sameCgroup reports whether the v2 path names the cgroup with id.
func (r *Resolver) sameCgroup(v2 string, id uint64) bool {
	if r.opts.CgroupRoot == "" || v2 == "" {
		return false
	}
	var st unix.Stat_t
	return unix.Stat(filepath.Join(r.opts.CgroupRoot, v2), &st) == nil && st.Ino == id
}

// findCgroup walks the v2 hierarchy for the directory whose inode number
// is id (a cgroup's id is its kernfs inode number), for a process that
// exited before it could be read. "" when not found within maxWalk
// directories.
func (r *Resolver) findCgroup(id uint64) string {
	if r.opts.CgroupRoot == "" {
		return ""
	}
	found, n := "", 0
	stop := errors.New("stop")
	_ = filepath.WalkDir(r.opts.CgroupRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if n++; n > maxWalk {
			return stop
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Ino == id {
			rel, _ := filepath.Rel(r.opts.CgroupRoot, p)
			found = "/" + rel
			if rel == "." {
				found = "/"
			}
			return stop
		}
		return nil
	})
	return found
}

// Sweep drops the cached cgroups that no longer exist, and returns how
// many. Call it now and then (the enricher does, every few seconds): a
// host that starts and stops containers all day keeps only the live ones.
func (r *Resolver) Sweep() int {
	r.mu.Lock()
	keys := r.cache.Keys()
	r.mu.Unlock()
	n := 0
	for _, id := range keys {
		r.mu.Lock()
		e, ok := r.cache.Peek(id)
		r.mu.Unlock()
		if !ok || r.sameCgroup(e.path, id) {
			continue
		}
		r.mu.Lock()
		if r.cache.Remove(id) {
			n++
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.stats.Swept += uint64(n)
	r.mu.Unlock()
	return n
}

// Stats returns the Resolver's counters.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Cached = r.cache.Len()
	return s
}
