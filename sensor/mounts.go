package sensor

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Pseudo filesystems the sensor depends on. A fresh boot without systemd's
// mounts (a minimal VM, an initramfs, some containers) may lack them.
var pseudoMounts = []struct {
	path, fstype string
	magic        int64
	optional     bool
}{
	// syscalls:* tracepoints are attached by id, read from tracefs.
	{"/sys/kernel/tracing", "tracefs", unix.TRACEFS_MAGIC, false},
	// bpffs is where pinned objects live. The sensor pins nothing, so it
	// only tries, for operators and bpftool; failing is not an error.
	{"/sys/fs/bpf", "bpf", unix.BPF_FS_MAGIC, true},
}

// MountState says whether a pseudo filesystem is mounted.
type MountState struct {
	Path    string
	FSType  string
	Mounted bool
	// MountedNow is true if the sensor mounted it.
	MountedNow bool
}

// EnsureMounts mounts tracefs and bpffs where they are missing and reports
// the state of each. It fails only if tracefs, which the connect hook
// needs, is missing and cannot be mounted.
func EnsureMounts() ([]MountState, error) {
	var states []MountState
	var errs []error
	for _, m := range pseudoMounts {
		st := MountState{Path: m.path, FSType: m.fstype}
		if isMounted(m.path, m.magic) {
			st.Mounted = true
		} else if err := unix.Mount(m.fstype, m.path, m.fstype, 0, ""); err != nil {
			if !m.optional {
				errs = append(errs, fmt.Errorf("mount %s on %s (mount it at boot, or grant CAP_SYS_ADMIN): %w", m.fstype, m.path, err))
			}
		} else {
			st.Mounted, st.MountedNow = true, true
		}
		states = append(states, st)
	}
	return states, errors.Join(errs...)
}

// MountStates reports the pseudo filesystems without changing anything.
func MountStates() []MountState {
	var states []MountState
	for _, m := range pseudoMounts {
		states = append(states, MountState{Path: m.path, FSType: m.fstype, Mounted: isMounted(m.path, m.magic)})
	}
	return states
}

func isMounted(path string, magic int64) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return int64(st.Type) == magic
}
