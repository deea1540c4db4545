package container

import (
	"os"
	"strings"
)

var unescapeMount = strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)

// CgroupV2Mount returns where the root of a cgroup v2 hierarchy is
// mounted according to the mountinfo file at path, or "".
func CgroupV2Mount(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && f[3] == "/" && strings.HasPrefix(post, "cgroup2 ") {
			return unescapeMount.Replace(f[4])
		}
	}
	return ""
}

// RootUpper returns the upper directory of the overlay mounted at "/" in
// a process's mountinfo (the writable layer of a container's root
// filesystem, as a path in the mounting runtime's namespace: the host's),
// or "" when its root is not an overlay with an upper layer. The last
// mount at "/" is the one the process sees.
func RootUpper(mountinfo []byte) string {
	upper := ""
	overlays(mountinfo, func(mountpoint, up string) {
		if mountpoint == "/" {
			upper = up
		}
	})
	return upper
}

// MountOf returns where, in the mountinfo given, the overlay whose upper
// directory is upper is mounted: on the host, the container's merged root
// (containers/storage's overlay/<layer>/merged, docker's
// overlay2/<id>/merged). "" when it is not mounted there.
func MountOf(mountinfo []byte, upper string) string {
	at := ""
	overlays(mountinfo, func(mountpoint, up string) {
		if up == upper && up != "" {
			at = mountpoint
		}
	})
	return at
}

// overlays calls fn with the mount point and upper directory ("" for
// none) of each mount in mountinfo, and "" for the upper directory of
// any mount that is not an overlay.
func overlays(mountinfo []byte, fn func(mountpoint, upper string)) {
	for _, line := range strings.Split(string(mountinfo), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 {
			continue
		}
		upper := ""
		p := strings.Fields(post)
		if len(p) >= 3 && p[0] == "overlay" {
			for _, opt := range strings.Split(p[2], ",") {
				if v, ok := strings.CutPrefix(opt, "upperdir="); ok && strings.HasPrefix(v, "/") {
					upper = unescapeMount.Replace(v)
				}
			}
		}
		fn(unescapeMount.Replace(f[4]), upper)
	}
}
