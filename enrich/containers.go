package enrich

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/signature"
)

// sweepEvery is how often Tick drops the cached cgroups of containers
// that are gone.
const sweepEvery = 5 * time.Second

// overlayMagic is overlayfs's superblock magic.
const overlayMagic = 0x794C7630

// containerRoot is where a container process's files are read: its root
// as the kernel keeps it for the process.
func (e *Enricher) containerRoot(p *Proc) string {
	if p.ctr.Root != "" {
		// The merged directory on the host outlives a short process.
		return p.ctr.Root
	}
	return filepath.Join(e.root, strconv.FormatUint(uint64(p.PID), 10), "root")
}

// owner is Trust.Owner for the process's filesystem: the host's, or its
// container's own package databases.
func (e *Enricher) owner(p *Proc, path string) (signature.Owner, bool) {
	if p.ctr != nil {
		return e.opts.Trust.OwnerIn(p.ctr.Image, e.containerRoot(p), path)
	}
	return e.opts.Trust.Owner(path)
}

// inUpper reports whether p's executable lives in its container's
// writable layer (container.Info.InUpper): the executed file is on an
// overlay, and its path is in the container's upper directory.
func (e *Enricher) inUpper(p *Proc) bool {
	if p.ctr == nil || !p.HaveExe || p.Exe.FSMagic != overlayMagic ||
		p.ExePathTruncated || p.Exe.Memfd || p.Exe.Deleted {
		return false
	}
	return container.InUpperDir(e.upperDir(p), p.ExePath, p.Exe.Size)
}

// upperDir is the upper (writable) directory of p's container's root
// overlay, or "" when it is not known.
func (e *Enricher) upperDir(p *Proc) string {
	if p.ctr.Upper != "" {
		return p.ctr.Upper
	}
	// The container was named from a process that was gone before its
	// mounts could be read: this one's say.
	b, err := os.ReadFile(filepath.Join(e.root, strconv.FormatUint(uint64(p.PID), 10), "mountinfo"))
	if err != nil {
		return ""
	}
	return container.RootUpper(b)
}

// sweepContainers drops cached cgroups that are gone, at most every
// sweepEvery.
func (e *Enricher) sweepContainers(now time.Time) {
	r := e.opts.Containers
	if r == nil || now.Before(e.nextSweep) {
		return
	}
	e.nextSweep = now.Add(sweepEvery)
	r.Sweep()
}
