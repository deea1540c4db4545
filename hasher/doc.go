// Package hasher computes the sha256 (and, on request, the md5) of every
// executed binary, and never reports the hash of a file other than the one
// the kernel recorded at exec.
//
// # What is hashed
//
// A Request names a process (pid and start time) and the identity the
// kernel captured for its executable at exec (fileid.ID: device, inode,
// size, mtime, ctime). The file is opened, in order of preference:
//
//  1. through /proc/<pid>/exe, as soon as the exec event arrives. The link
//     reaches the executed inode itself, so it works for deleted and memfd
//     executables and is immune to a path that was renamed over after exec.
//     The link is opened first and /proc/<pid>/stat's start time checked
//     after, so a pid recycled between the two is caught. A link to another
//     inode (a pid reused, or a process that exec'd again) is not usable and
//     the path is tried next.
//  2. by the kernel-recorded path, for processes that have already exited.
//     The path is opened O_PATH and must be a regular file before it is
//     reopened for reading, so a FIFO or device planted there is never
//     opened for real.
//
// Before it is read, the opened file must be the recorded inode (device and
// inode number) with the recorded size and mtime; otherwise it was replaced
// (the path is then gone) or modified in place (changed_since_exec). ctime
// is where the two ways differ. Opened by path, the file must match it too,
// since nothing else vouches for a file no process is running: a write
// followed by a restored mtime still moves ctime. Opened through a process
// verified alive after the fstat, a moved ctime is accepted, because exec
// forbids writing the file for as long as the process runs (ETXTBSY) and
// ctime also moves on unlink, rename-over, chmod and link, which is what
// happens to the binaries most worth hashing. The same ban vouches for a
// moved mtime (an implant that touches its own binary with utimensat on
// /proc/self/exe, then connects) where every writer to the inode is held
// behind it: ext2/3/4, xfs, btrfs, tmpfs, ramfs and f2fs, on any kernel but
// 6.11 (which dropped the ban for executables; 6.12 restored it). Not on
// overlayfs (the layer's own file can be written through the layer's
// path), FUSE or network filesystems. The size must still match. Once the
// process has exited nothing vouches for the bytes any more, and a moved
// mtime is changed_since_exec. A memfd has no such write ban, so it must
// match exactly.
//
// The device is compared in the kernel's terms. The kernel records the
// superblock's s_dev; stat(2) reports what the filesystem's getattr says,
// which on btrfs is the subvolume's anonymous device (the top subvolume's
// too) and on overlayfs over several filesystems the device of the layer
// holding the file. When fstat's device differs but the inode number is
// the recorded one, the mount the file was opened through settles it:
// statx gives its mount id, and mountinfo (the process's own, or the
// sensor's for a path) gives that mount's superblock device. A mount no
// mountinfo lists (detached) cannot be proved, and the file is not used. The file is fstat'ed again after the read,
// and a read during which it changed is rejected (changed_since_exec)
// rather than reported with a hash of neither version.
//
// Files larger than the cap are not read (too_large), decided from the
// recorded size, which the fstat check makes equal to the real one.
//
// # Cache and sharing
//
// Results are cached in an LRU keyed by fileid.ID. Because the key is the
// kernel's identity of the version that ran, a hit needs no system call:
// ctime cannot be set from userspace, so a modified or replaced file arrives
// with a different key. Only hashes are cached; gone, changed and error are
// answers about the moment they were computed, and a later request (another
// live process of the same file, say) may do better.
//
// Requests for an ID already being hashed join that hash instead of starting
// another, so an exec storm of one binary reads it once. A request that
// wants md5 joins only a hash that computes md5; a hash without md5 in the
// cache does not answer it, and is replaced by the one computed for it.
// Joiners' pids are offered to the hash while it is still queued, so a hash
// whose first process already exited can still read a deleted binary
// through another live instance.
//
// A fixed pool of workers does the reading, each with its own 1 MiB buffer
// taken from a pool (a fresh buffer per file costs more in page faults than
// hashing a small binary). Work waits in a bounded queue; when it is full a
// request fails at once (status error, ErrQueueFull) rather than blocking
// the caller.
//
// # Pending and follow-up
//
// Submit never blocks. It returns a Future: a cache hit comes back already
// complete, with no goroutine and no allocation. The event pipeline waits
// for the Future up to a deadline (DefaultWait); if it is not ready it emits
// the event with status pending and, when Done is closed, a follow-up record
// carrying the hash.
package hasher
