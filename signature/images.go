package signature

import (
	"fmt"
	"time"
)

// DefaultMaxImages and DefaultMaxImageBytes bound the container package
// indexes kept in memory: a Debian image's index is a few hundred KiB, a
// large distribution image's a few MiB.
const (
	DefaultMaxImages     = 16
	DefaultMaxImageBytes = 32 << 20
)

// OwnerIn is Owner for a container: path is looked up in the package
// databases of the root filesystem at root (/proc/<pid>/root, or a held
// descriptor of it), indexed once per image.
func (c *Checker) OwnerIn(image, root, path string) (Owner, bool) {
	p, _, memfd := normalise(path, false, false)
	if memfd {
		return Owner{}, false
	}
	ix := c.imageIndex(image, root)
	rs := ix.owners(canonical(p, ix.aliases))
	if len(rs) == 0 {
		return Owner{}, false
	}
	return rs[0].owner(), true
}

// VerdictIn is Verdict for a container's executable: decided against the
// container's own package databases (dpkg, rpm, apk) read through root,
// and the executable looked up under root. The index is built once per
// image key and shared by its containers; at most MaxImages are kept, of
// at most MaxImageBytes together, least recently used first out.
func (c *Checker) VerdictIn(image, root string, in Input) Trust {
	return c.verdict(view{root: root, image: image, ix: c.imageIndex(image, root)}, in)
}

// imageIndex returns the index of image, building it from root on first
// use. An index that found no database at all (the process had exited and
// root was unreadable) is not kept, so the next process retries.
func (c *Checker) imageIndex(image, root string) *index {
	if ix, ok := c.images.Get(image); ok {
		return ix
	}
	c.imageBuild.Lock()
	defer c.imageBuild.Unlock()
	if ix, ok := c.images.Get(image); ok {
		return ix
	}
	start := time.Now()
	ix := newIndex(findAliases(root))
	found := false
	for _, add := range []func(*index, string) (bool, error){addDpkg, addRPM, addAPK} {
		has, err := add(ix, root)
		if err != nil {
			ix.missReason = joinReason(ix.missReason, err.Error())
			ix.problem(err.Error())
		}
		found = found || has
	}
	if !found {
		ix.missReason = joinReason(ix.missReason,
			fmt.Sprintf("no package database in container image %s (looked for dpkg status, rpmdb and apk installed)", image))
	}
	ix.built = time.Since(start)
	c.log.Info("container package index built", "image", image, "paths", len(ix.files), "packages", ix.packages,
		"duration", ix.built, "problems", len(ix.problems))
	if found {
		ix.bytes = ix.approxBytes()
		c.images.Add(image, ix)
		c.imageBytes.Add(ix.bytes)
		c.imageBuilds.Add(1)
		// Least recently used out until the rest fit; the new one stays.
		for c.imageBytes.Load() > c.maxImageB && c.images.Len() > 1 {
			c.images.RemoveOldest()
		}
	}
	return ix
}
