package hasher

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Filesystems whose every writer to an inode goes through that inode's
// write count, so that exec's deny_write_access (open for writing,
// truncate and shared writable mmap fail with ETXTBSY while any process
// runs the file) keeps the content as it was at exec. Left out on purpose:
// overlayfs (the layer's own inode can be written through the layer's
// path), FUSE and network filesystems (the daemon or another host writes
// without the local kernel's leave), and everything not listed.
var writeDeniedFS = map[int64]bool{
	0xEF53:     true, // ext2, ext3, ext4
	0x58465342: true, // xfs
	0x9123683E: true, // btrfs
	0x01021994: true, // tmpfs
	0x858458F6: true, // ramfs
	0xF2F52010: true, // f2fs
}

// writeDenied reports whether the kernel keeps the file open as fd, which
// a live process is executing, from being written: then a timestamp moved
// since exec (utimensat on /proc/self/exe) proves nothing about its bytes.
// Linux 6.11 dropped the denial for executables (restored in 6.12), so
// there nothing is vouched for.
func writeDenied(fd int) bool {
	if !kernelDeniesWrite() {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return false
	}
	return writeDeniedFS[int64(st.Type)]
}

var kernelDeniesWrite = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return deniesWrite(unix.ByteSliceToString(u.Release[:]))
})

// deniesWrite reports whether a kernel release keeps executing files from
// being written.
func deniesWrite(release string) bool {
	return !strings.HasPrefix(release, "6.11.") && release != "6.11"
}
