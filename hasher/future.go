package hasher

import (
	"context"
	"time"

	"github.com/argus-sensor/argus-sensor/fileid"
)

// Status says why a Result has no hash. It is "" when there is one.
type Status string

// The reasons for having no hash. These strings are part of the argus.v1
// record schema.
const (
	// StatusGone means the executed file can no longer be reached: the
	// process exited and its path is missing or names another inode.
	StatusGone Status = "gone"
	// StatusChanged means the executed inode was modified after exec, or
	// while it was being read.
	StatusChanged Status = "changed_since_exec"
	// StatusTooLarge means the file is over the size cap.
	StatusTooLarge Status = "too_large"
	// StatusError means the file could not be hashed for another reason.
	StatusError Status = "error"
	// StatusPending means the hash was not ready by the caller's deadline;
	// a follow-up will carry it.
	StatusPending Status = "pending"
)

// Where a hash came from.
const (
	SourceProcExe = "proc_exe" // read through /proc/<pid>/exe
	SourcePath    = "path"     // read by path after an identity check
	SourceFile    = "file"     // read from the descriptor the caller opened (Request.File)
	SourceCache   = "cache"    // computed earlier for the same fileid.ID
)

// Result is the outcome of hashing one executed file.
type Result struct {
	SHA256 string // lowercase hex; "" when Status is set
	MD5    string // lowercase hex; only when requested
	Status Status
	// Err says why there is no hash; nil when there is one.
	Err    error
	Source string
	// Birth is when the hashed file came to be (statx btime, else ctime),
	// read from the same open file as the digest; zero when unknown.
	Birth fileid.Birth
}

// pending is what a wait that gave up returns.
var pending = Result{Status: StatusPending}

// closedDone is shared by every Future that is complete when made, so a
// cache hit needs no channel of its own.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Future is a hash that may not be computed yet. Futures for the same file
// version may be shared between callers; they are read-only.
type Future struct {
	done chan struct{}
	res  Result // written once, before done is closed
	h    *Hasher
	fl   *flight // nil unless the Future was a queued hash
}

func completed(res Result) *Future {
	return &Future{done: closedDone, res: res}
}

// Done is closed when the result is ready.
func (f *Future) Done() <-chan struct{} { return f.done }

// Result returns the result and true if it is ready, or a pending result
// and false.
func (f *Future) Result() (Result, bool) {
	select {
	case <-f.done:
		return f.res, true
	default:
		return pending, false
	}
}

// Wait waits until the result is ready or ctx is done. If ctx ends first it
// returns a pending result and false.
func (f *Future) Wait(ctx context.Context) (Result, bool) {
	if res, ok := f.Result(); ok {
		return res, true
	}
	select {
	case <-f.done:
		return f.res, true
	case <-ctx.Done():
		f.gaveUp()
		return pending, false
	}
}

// WaitFor is Wait with a timeout instead of a context. A d of zero or less
// does not wait.
func (f *Future) WaitFor(d time.Duration) (Result, bool) {
	if res, ok := f.Result(); ok {
		return res, true
	}
	if d <= 0 {
		f.gaveUp()
		return pending, false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
		return f.res, true
	case <-t.C:
		f.gaveUp()
		return pending, false
	}
}

func (f *Future) gaveUp() {
	if f.h != nil {
		f.h.stats.pending.Add(1)
	}
}
