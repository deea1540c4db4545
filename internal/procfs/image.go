package procfs

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Image is what /proc/<pid> shows of the program a process runs.
type Image struct {
	// ExePath is the target of /proc/<pid>/exe, without the " (deleted)"
	// the kernel appends once the file is unlinked.
	ExePath string
	// ExeErr is why the exe link could not be read: fs.ErrNotExist for a
	// kernel thread or a process that is gone, a permission error for
	// another user's process without CAP_SYS_PTRACE.
	ExeErr error
	// Deleted: the link said " (deleted)", or the file it opens has no
	// links left.
	Deleted bool
	// Memfd: the executable is a memfd ("/memfd:name").
	Memfd bool
	// Exe is the executable's stat, opened through the link (which reaches
	// it even when unlinked); HaveExe says whether that worked.
	Exe     unix.Stat_t
	HaveExe bool
	// Cwd is the target of /proc/<pid>/cwd, "" if unreadable.
	Cwd string
	// Args is /proc/<pid>/cmdline split at its NULs, nil if empty or
	// unreadable.
	Args []string
}

// ReadImage reads the executable, working directory and argv of a process
// under root (normally "/proc"). Each part is read on its own: one that
// cannot be read is left empty.
func ReadImage(root string, pid uint32) Image {
	dir := pidDir(root, pid)
	var im Image
	im.ExePath, im.Deleted, im.ExeErr = exeLink(dir)
	if im.ExeErr == nil {
		im.Memfd = strings.HasPrefix(im.ExePath, "/memfd:")
		if unix.Stat(dir+"/exe", &im.Exe) == nil {
			im.HaveExe = true
			im.Deleted = im.Deleted || im.Exe.Nlink == 0
		}
	}
	if cwd, err := os.Readlink(dir + "/cwd"); err == nil {
		im.Cwd = cwd
	}
	if cmdline, err := os.ReadFile(dir + "/cmdline"); err == nil && len(cmdline) > 0 {
		im.Args = strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	}
	return im
}

// ExePath returns the path of a live process's executable, without
// " (deleted)", or "" if it cannot be read.
func ExePath(root string, pid uint32) string {
	p, _, err := exeLink(pidDir(root, pid))
	if err != nil {
		return ""
	}
	return p
}

func exeLink(dir string) (path string, deleted bool, err error) {
	l, err := os.Readlink(dir + "/exe")
	if err != nil {
		return "", false, err
	}
	path, deleted = strings.CutSuffix(l, " (deleted)")
	return path, deleted, nil
}

func pidDir(root string, pid uint32) string {
	return root + "/" + strconv.FormatUint(uint64(pid), 10)
}
