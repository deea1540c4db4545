package hasher

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
)

// bufSize is the read size: large enough that the per-read syscall cost
// vanishes next to hashing, and most executables take one read.
const bufSize = 1 << 20

// md5Chunk is how much of a read goes through one hash before the other
// when both are wanted, so the second pass finds the bytes still in cache.
const md5Chunk = 64 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

var (
	errNotRegular = errors.New("not a regular file")
	errAborted    = errors.New("hasher closed during read")
)

// reader hashes open files. One reader is used by one goroutine at a time.
type reader struct {
	buf   []byte
	quit  <-chan struct{} // aborts a read in progress; may be nil
	bytes *atomic.Uint64  // counts bytes hashed; may be nil
	// afterRead, if set, is called after each read with the bytes read so
	// far: a test hook for changing the file mid-read.
	afterRead func(read int64)
}

// digest hashes the open file fd, whose fstat returned id, and checks that
// fstat returns the same afterwards.
func (r *reader) digest(fd int, id fileid.ID, wantMD5 bool, name string) Result {
	if id.Size > int64(len(r.buf)) {
		// Past one buffer it is worth telling the page cache to read ahead
		// harder; advice failing changes nothing but speed.
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	}
	sh := sha256.New()
	var mh hash.Hash
	if wantMD5 {
		mh = md5.New()
	}
	var total int64
	for {
		if r.quit != nil {
			select {
			case <-r.quit:
				return Result{Status: StatusError, Err: fmt.Errorf("read %s: %w", name, errAborted)}
			default:
			}
		}
		n, err := unix.Read(fd, r.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Result{Status: StatusError, Err: fmt.Errorf("read %s: %w", name, err)}
		}
		if n == 0 {
			break
		}
		total += int64(n)
		if total > id.Size {
			// Growing under us: no need to read the rest to know.
			return changed(name, "grew while read")
		}
		b := r.buf[:n]
		if mh == nil {
			sh.Write(b)
		} else {
			for len(b) > 0 {
				c := b[:min(len(b), md5Chunk)]
				sh.Write(c)
				mh.Write(c)
				b = b[len(c):]
			}
		}
		if r.bytes != nil {
			r.bytes.Add(uint64(n))
		}
		if r.afterRead != nil {
			r.afterRead(total)
		}
	}
	after, err := fileid.Fstat(fd)
	if err != nil {
		return Result{Status: StatusError, Err: fmt.Errorf("fstat %s: %w", name, err)}
	}
	if after != id {
		return changed(name, "modified while read")
	}
	if total != id.Size {
		return changed(name, "shrank while read")
	}
	res := Result{SHA256: hexSum(sh)}
	if mh != nil {
		res.MD5 = hexSum(mh)
	}
	res.Birth, _ = fileid.BirthOf(fd) // age is extra: a statx failure costs only that
	return res
}

func hexSum(h hash.Hash) string {
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func changed(name, why string) Result {
	return Result{Status: StatusChanged, Err: fmt.Errorf("%s: %s", name, why)}
}

func changedSinceExec(name string, have, want fileid.ID) Result {
	return Result{Status: StatusChanged, Err: fmt.Errorf("%s: changed since exec: now %v, at exec %v", name, have, want)}
}

// isMemfd reports whether fd is a memfd_create(2) file, which the kernel
// names "memfd:NAME" on a mount no path reaches. A regular file that merely
// has such a name only makes the caller stricter.
func isMemfd(fd int) bool {
	var buf [512]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil {
		return true // cannot tell: assume the unprotected kind
	}
	return bytes.HasPrefix(buf[:n], []byte("/memfd:"))
}

// openRegular opens path for reading, refusing anything but a regular file
// before it is opened for real: open(2) on a FIFO blocks and on a device can
// have side effects, and a path is whatever anyone put there since exec.
func openRegular(path string) (int, error) {
	pfd, err := openRetry(path, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return -1, fmt.Errorf("fstat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return -1, fmt.Errorf("open %s: %w", path, errNotRegular)
	}
	// Reopening the O_PATH descriptor's magic link reaches the inode just
	// checked, whatever has happened at the path meanwhile.
	fd, err := openRetry("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	return fd, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// isGone reports whether an open error means nothing usable is at the path.
func isGone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) ||
		errors.Is(err, unix.ELOOP) || errors.Is(err, errNotRegular)
}

// HashFile hashes the regular file at path (symlinks followed) with the
// reader the Hasher uses, for inspecting files by hand. It returns the
// file's identity as fstat saw it, and an error, the same as Result.Err,
// when there is no hash. maxSize <= 0 means DefaultMaxFileSize.
func HashFile(path string, maxSize int64, wantMD5 bool) (Result, fileid.ID, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	fd, err := openRegular(path)
	if err != nil {
		st := StatusError
		if isGone(err) {
			st = StatusGone
		}
		return Result{Status: st, Err: err}, fileid.ID{}, err
	}
	defer unix.Close(fd)
	id, err := fileid.Fstat(fd)
	if err != nil {
		err = fmt.Errorf("fstat %s: %w", path, err)
		return Result{Status: StatusError, Err: err}, fileid.ID{}, err
	}
	if id.Size > maxSize {
		res := tooLarge(id.Size, maxSize)
		return res, id, res.Err
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	r := reader{buf: *bp}
	res := r.digest(fd, id, wantMD5, path)
	if res.Status == "" {
		res.Source = SourcePath
	}
	return res, id, res.Err
}

func tooLarge(size, limit int64) Result {
	return Result{Status: StatusTooLarge, Err: fmt.Errorf("%d bytes, over the %d byte cap", size, limit)}
}
