package enrich

import (
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

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
// writable layer: the file is on the container's overlay root and its path
// exists, as a regular file of the executed size, in the overlay's upper
// directory. That is a file created, or copied up by a modification, after
// the container started; the image's files stay in the lower layers.
func (e *Enricher) inUpper(p *Proc) bool {
	if p.ctr == nil || p.ctr.Upper == "" || !p.HaveExe || p.Exe.FSMagic != overlayMagic ||
		p.ExePath == "" || p.ExePathTruncated || p.Exe.Memfd || p.Exe.Deleted {
		return false
	}
	var st unix.Stat_t
	if unix.Lstat(filepath.Join(p.ctr.Upper, p.ExePath), &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == p.Exe.Size
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
