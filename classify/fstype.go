package classify

import "slices"

// Filesystem path classes: where the file really is, whatever its path
// says. A tmpfs or FUSE filesystem mounted at an arbitrary path (or bound
// over a system one inside a user namespace) gets no class from its name.
const (
	ClassTmpfs = "tmpfs" // memory only: gone at reboot, nothing on disk
	ClassRamfs = "ramfs"
	ClassFuse  = "fuse" // served by a userspace daemon
	// ClassDetached: the executable is on a mount in no namespace
	// (lazily unmounted, umount -l, before the exec), so its path is from
	// that mount's own root and names nothing; the kernel flags it.
	ClassDetached = "detached"
	// ClassUsernsBind: a system path (/usr/bin/foo) whose mount binds a
	// file or subtree from elsewhere, made inside a user namespace
	// (unshare -rm): not the system file its path names.
	ClassUsernsBind = "userns_bind"
)

// Superblock magic numbers (statfs f_type, the kernel's s_magic).
var fsNames = map[uint32]string{
	0x01021994: "tmpfs",
	0x858458F6: "ramfs",
	0x65735546: "fuse",
	0x794C7630: "overlay",
	0x9123683E: "btrfs",
	0xEF53:     "ext4", // ext2, ext3 and ext4 share it
	0x58465342: "xfs",
	0xF2F52010: "f2fs",
	0x6969:     "nfs",
	0xFE534D42: "smb2",
	0x01021997: "9p",
	0x73717368: "squashfs",
	0x2FC12FC1: "zfs",
}

var fsClasses = map[string]string{"tmpfs": ClassTmpfs, "ramfs": ClassRamfs, "fuse": ClassFuse}

// FSType names a filesystem by its superblock magic; "" when unknown.
func FSType(magic uint32) string { return fsNames[magic] }

// WithFS returns classes with the class of filesystem fsType added when
// the path's name gave no class: /dev/shm is shm already, a tmpfs mounted
// at /opt/x is tmpfs. classes is never modified.
func WithFS(classes []string, fsType string) []string {
	c, ok := fsClasses[fsType]
	if !ok || len(classes) > 0 {
		return classes
	}
	return append(slices.Clip(classes), c)
}
