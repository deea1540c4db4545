package container

import (
	"bytes"
	"strings"
)

// Runtime names, as process.container.runtime reports them.
const (
	Docker     = "docker"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Podman     = "podman"
	Nspawn     = "systemd-nspawn"
	LXC        = "lxc"
)

// Ref is what a cgroup path says about the container a process runs in.
type Ref struct {
	// Runtime is one of the runtime names above; "" for a Kubernetes
	// container under the cgroupfs driver, whose path does not name its
	// runtime (the runtime's state on disk does).
	Runtime string
	// ID is the runtime's container id: 64 hex digits for docker,
	// containerd, CRI-O and podman; the machine or container name for
	// systemd-nspawn and LXC.
	ID string
	// Name is the container's name when the path carries it (nspawn, LXC).
	Name string
	// PodUID is the Kubernetes pod's uid, from a kubepods path.
	PodUID string
}

// ParseCgroupPath finds the container in a cgroup path, as the cgroup
// file of a process lists it (v2 or any v1 hierarchy). The innermost
// container wins: a docker container inside an nspawn machine is the
// docker container. ok is false for a path that names no container.
func ParseCgroupPath(p string) (ref Ref, ok bool) {
	comps := strings.Split(strings.Trim(p, "/"), "/")
	for i := len(comps) - 1; i >= 0; i-- {
		parent := ""
		if i > 0 {
			parent = comps[i-1]
		}
		if ref, ok = leaf(comps[i], parent); ok {
			ref.PodUID = podUID(comps[:i])
			if ref.Runtime == "" && ref.PodUID == "" {
				// A bare id outside kubepods: containerd's cgroupfs
				// layout, /<namespace>/<id>.
				ref.Runtime = Containerd
			}
			return ref, true
		}
	}
	return Ref{}, false
}

// leaf recognises one path component as a container's own cgroup.
func leaf(c, parent string) (Ref, bool) {
	scope, isScope := strings.CutSuffix(c, ".scope")
	if isScope {
		for _, p := range []struct{ prefix, runtime string }{
			{"docker-", Docker},
			{"cri-containerd-", Containerd},
			{"nerdctl-", Containerd},
			{"crio-", CRIO},
			{"libpod-", Podman},
		} {
			if id, ok := strings.CutPrefix(scope, p.prefix); ok && isID(id) {
				return Ref{Runtime: p.runtime, ID: id}, true
			}
		}
		// systemd-nspawn --register and machinectl: machine-NAME.scope
		// under machine.slice (libvirt's VMs are machine-qemu...).
		if name, ok := strings.CutPrefix(scope, "machine-"); ok && parent == "machine.slice" && name != "" {
			name = unescapeUnit(name)
			if strings.HasPrefix(name, "qemu-") {
				return Ref{}, false
			}
			if n, ok := strings.CutPrefix(name, "lxc-"); ok {
				// libvirt-lxc: lxc-PID-NAME.
				if _, rest, ok := strings.Cut(n, "-"); ok && rest != "" {
					return Ref{Runtime: LXC, ID: rest, Name: rest}, true
				}
			}
			return Ref{Runtime: Nspawn, ID: name, Name: name}, true
		}
		return Ref{}, false
	}
	if name, ok := strings.CutPrefix(c, "systemd-nspawn@"); ok {
		if name, ok = strings.CutSuffix(name, ".service"); ok && name != "" {
			name = unescapeUnit(name)
			return Ref{Runtime: Nspawn, ID: name, Name: name}, true
		}
	}
	// cgroupfs drivers.
	if id, ok := strings.CutPrefix(c, "libpod-"); ok && isID(id) {
		return Ref{Runtime: Podman, ID: id}, true
	}
	if id, ok := strings.CutPrefix(c, "crio-"); ok && isID(id) {
		return Ref{Runtime: CRIO, ID: id}, true
	}
	if name, ok := strings.CutPrefix(c, "lxc.payload."); ok && name != "" {
		return Ref{Runtime: LXC, ID: name, Name: name}, true
	}
	if (parent == "lxc" || parent == "lxc.payload") && c != "" && !strings.HasPrefix(c, "lxc.") {
		return Ref{Runtime: LXC, ID: c, Name: c}, true
	}
	if isID(c) {
		if parent == "docker" {
			return Ref{Runtime: Docker, ID: c}, true
		}
		return Ref{ID: c}, true // containerd or kubepods: see ParseCgroupPath
	}
	return Ref{}, false
}

// podUID finds a kubepods pod uid among a container's ancestors:
// "pod<uid>" under the cgroupfs driver, "kubepods-<qos>-pod<uid>.slice"
// (dashes of the uid written as underscores) under systemd.
func podUID(ancestors []string) string {
	kube := false
	for _, c := range ancestors {
		if c == "kubepods" || strings.HasPrefix(c, "kubepods.") || strings.HasPrefix(c, "kubepods-") {
			kube = true
		}
		if !kube {
			continue
		}
		s := c
		if t, ok := strings.CutSuffix(s, ".slice"); ok {
			i := strings.LastIndex(t, "-pod")
			if i < 0 {
				continue
			}
			s = strings.ReplaceAll(t[i+len("-pod"):], "_", "-")
		} else if t, ok := strings.CutPrefix(s, "pod"); ok {
			s = t
		} else {
			continue
		}
		if isUID(s) {
			return s
		}
	}
	return ""
}

// isID reports whether s is a 64-digit lowercase hex container id.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isUID reports whether s looks like a Kubernetes uid (a UUID).
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// unescapeUnit undoes systemd's unit name escaping ("\x2d" for "-").
func unescapeUnit(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, ok := unhex(s[i+2]); ok {
				if w, ok := unhex(s[i+3]); ok {
					b.WriteByte(v<<4 | w)
					i += 3
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseProcCgroup finds the container in the contents of /proc/<pid>/cgroup.
// The v2 line ("0::") is looked at first, then the v1 hierarchies in
// order: on a hybrid host a runtime may place the process in either. v2 is
// the process's cgroup v2 path ("" when the file has no v2 line).
func ParseProcCgroup(b []byte) (ref Ref, v2 string, ok bool) {
	var v1 []string
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		// hierarchy-id:controllers:path; the path may itself hold ':'.
		_, rest, ok1 := bytes.Cut(line, []byte{':'})
		ctrl, path, ok2 := bytes.Cut(rest, []byte{':'})
		if !ok1 || !ok2 {
			continue
		}
		if len(ctrl) == 0 && bytes.HasPrefix(line, []byte("0::")) {
			v2 = string(path)
			continue
		}
		v1 = append(v1, string(path))
	}
	if v2 != "" {
		if ref, ok = ParseCgroupPath(v2); ok {
			return ref, v2, true
		}
	}
	for _, p := range v1 {
		if ref, ok = ParseCgroupPath(p); ok {
			return ref, v2, true
		}
	}
	return Ref{}, v2, false
}
