package hasher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/internal/procfs"
)

func TestLiveProcess(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	h := newTestHasher(t, Options{})

	wantHash(t, hashReq(t, h, execRequest(t, cmd, path, id)), sha256Hex(content), SourceProcExe)
	if s := h.Stats(); s.FilesHashed != 1 || s.BytesHashed != uint64(len(content)) || s.Misses != 1 || s.InFlight != 0 {
		t.Fatalf("stats %+v, want one file of %d bytes hashed", s, len(content))
	}
}

func TestMemfdExecutable(t *testing.T) {
	content, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.MemfdCreate("argus-hasher-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	mf := os.NewFile(uintptr(fd), "memfd")
	defer mf.Close()
	if _, err := mf.Write(content); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	id := fileid.FromStat(&st)
	// In the child, fd 3 is the memfd: fileless execution.
	cmd := start(t, &exec.Cmd{Path: "/proc/self/fd/3", Args: []string{"sleep", "60"}, ExtraFiles: []*os.File{mf}})
	waitExe(t, cmd.Process.Pid, "/memfd:argus-hasher-test")
	h := newTestHasher(t, Options{})

	// The kernel's path for a memfd is a name, not a location.
	req := execRequest(t, cmd, "/memfd:argus-hasher-test (deleted)", id)
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourceProcExe)

	// Once the process is gone nothing can reach the memfd's content
	// (a fresh Hasher, so the cache does not answer).
	stop(t, cmd)
	h2 := newTestHasher(t, Options{})
	wantStatus(t, hashReq(t, h2, req), StatusGone)
}

func TestDeletedWhileRunning(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitExe(t, cmd.Process.Pid, path+" (deleted)")
	h := newTestHasher(t, Options{})
	req := execRequest(t, cmd, path, id)
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourceProcExe)
}

func TestExitedFallsBackToPath(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	req := execRequest(t, cmd, path, id)
	stop(t, cmd)

	h := newTestHasher(t, Options{})
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourcePath)
	// The same version again, from any process, is a cache hit.
	req.PID = 0
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourceCache)
	if s := h.Stats(); s.Hits != 1 || s.Misses != 1 || s.FilesHashed != 1 {
		t.Fatalf("stats %+v, want 1 hit, 1 miss, 1 file", s)
	}
}

// replace puts new content at path under a new inode, the way package
// managers and attackers do: write elsewhere, rename over.
func replace(t *testing.T, path, src string) []byte {
	t.Helper()
	tmp := path + ".new"
	b := copyFile(t, src, tmp)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplacedAfterExec(t *testing.T) {
	t.Run("exited", func(t *testing.T) {
		path, _ := tempExe(t, "/bin/sleep")
		id := statID(t, path)
		cmd := startSleep(t, path)
		req := execRequest(t, cmd, path, id)
		stop(t, cmd)
		replace(t, path, "/bin/true")

		h := newTestHasher(t, Options{})
		wantStatus(t, hashReq(t, h, req), StatusGone)
		if s := h.Stats(); s.Gone != 1 || s.FilesHashed != 0 || s.CacheLen != 0 {
			t.Fatalf("stats %+v, want one gone, nothing hashed or cached", s)
		}
	})
	t.Run("live", func(t *testing.T) {
		path, old := tempExe(t, "/bin/sleep")
		id := statID(t, path)
		cmd := startSleep(t, path)
		replace(t, path, "/bin/true")

		h := newTestHasher(t, Options{})
		wantHash(t, hashReq(t, h, execRequest(t, cmd, path, id)), sha256Hex(old), SourceProcExe)
	})
	t.Run("path removed", func(t *testing.T) {
		path, _ := tempExe(t, "/bin/sleep")
		id := statID(t, path)
		cmd := startSleep(t, path)
		req := execRequest(t, cmd, path, id)
		stop(t, cmd)
		os.Remove(path)

		h := newTestHasher(t, Options{})
		wantStatus(t, hashReq(t, h, req), StatusGone)
	})
	t.Run("fifo planted", func(t *testing.T) {
		path, _ := tempExe(t, "/bin/sleep")
		id := statID(t, path)
		cmd := startSleep(t, path)
		req := execRequest(t, cmd, path, id)
		stop(t, cmd)
		os.Remove(path)
		// Opening a FIFO for reading would block the worker forever.
		if err := unix.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
		h := newTestHasher(t, Options{})
		wantStatus(t, hashReq(t, h, req), StatusGone)
	})
}

func TestModifiedInPlace(t *testing.T) {
	// A running executable cannot be written (ETXTBSY), so the writes come
	// after the process exits.
	path, old := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	req := execRequest(t, cmd, path, id)

	// Hashed while the process ran: that hash belongs to id for good.
	h := newTestHasher(t, Options{})
	wantHash(t, hashReq(t, h, req), sha256Hex(old), SourceProcExe)
	stop(t, cmd)

	touchLater()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, different bytes: only mtime and ctime tell.
	if _, err := f.WriteAt([]byte("\x7fELG"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	now := statID(t, path)
	if !now.SameFile(id) || now.Size != id.Size || now == id {
		t.Fatalf("test setup: want same inode and size, new times: %v vs %v", now, id)
	}
	modified, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// The old identity still gets the old content's hash, from the cache...
	wantHash(t, hashReq(t, h, req), sha256Hex(old), SourceCache)
	// ...and without a cache it gets no hash at all: the bytes at the path
	// are not what ran.
	h2 := newTestHasher(t, Options{})
	wantStatus(t, hashReq(t, h2, req), StatusChanged)
	if s := h2.Stats(); s.Changed != 1 || s.CacheLen != 0 {
		t.Fatalf("stats %+v, want one changed, nothing cached", s)
	}
	// A new exec of the modified file gets the new hash.
	req2 := Request{Path: path, ID: now}
	wantHash(t, hashReq(t, h, req2), sha256Hex(modified), SourcePath)
}

func TestPIDReuse(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	req := execRequest(t, cmd, path, id)
	// A start time one tick off is another process that got the same pid.
	req.StartNs += procfs.NsPerTick

	h := newTestHasher(t, Options{})
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourcePath)

	// With the path gone too, the mismatched process must not be read.
	replace(t, path, "/bin/true")
	h2 := newTestHasher(t, Options{})
	wantStatus(t, hashReq(t, h2, req), StatusGone)
}

func TestProcessRunsAnotherInode(t *testing.T) {
	// The pid is right but its exe is not the recorded file (it exec'd
	// again): the path decides.
	running, _ := tempExe(t, "/bin/sleep")
	cmd := startSleep(t, running)
	other, content := tempExe(t, "/bin/true")
	req := execRequest(t, cmd, other, statID(t, other))

	h := newTestHasher(t, Options{})
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourcePath)
}

func TestTooLarge(t *testing.T) {
	path, content := tempExe(t, "/bin/true")
	id := statID(t, path)
	h := newTestHasher(t, Options{MaxFileSize: 1024})
	f := h.Submit(Request{Path: path, ID: id})
	res, ok := f.Result()
	if !ok {
		t.Fatal("too_large is decided from the recorded size and must be ready at once")
	}
	wantStatus(t, res, StatusTooLarge)
	if s := h.Stats(); s.TooLarge != 1 || s.FilesHashed != 0 || s.BytesHashed != 0 {
		t.Fatalf("stats %+v, want too_large and nothing read", s)
	}

	res, gotID, err := HashFile(path, 1024, false)
	if err == nil || gotID != id {
		t.Fatalf("HashFile: id %v err %v, want %v and an error", gotID, err, id)
	}
	wantStatus(t, res, StatusTooLarge)
	res, _, err = HashFile(path, int64(len(content)), false)
	if err != nil {
		t.Fatal(err)
	}
	wantHash(t, res, sha256Hex(content), SourcePath)
}

func TestConcurrentRequestsHashOnce(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	req := Request{Path: path, ID: statID(t, path)}
	want := sha256Hex(content)
	const n = 1000

	submitAll := func(h *Hasher) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				res, ok := h.Submit(req).WaitFor(10 * time.Second)
				if !ok || res.SHA256 != want {
					errs <- errors.New("wrong or missing hash: " + res.SHA256)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}

	t.Run("free", func(t *testing.T) {
		h := newTestHasher(t, Options{})
		submitAll(h)
		s := h.Stats()
		if s.FilesHashed != 1 || s.Hits+s.Misses != n || s.Misses-s.Joined != 1 {
			t.Fatalf("stats %+v, want %d requests and exactly one hash", s, n)
		}
	})
	t.Run("all while hashing", func(t *testing.T) {
		// The worker holds the file open until every request is in, so all
		// of them meet the hash in flight rather than in the cache.
		g := newGate(t)
		h := newTestHasher(t, Options{afterRead: g.hook})
		first := h.Submit(req)
		done := make(chan struct{})
		go func() { submitAll(h); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for h.Stats().Joined < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		g.release()
		<-done
		wantHash(t, mustWait(t, first), want, SourcePath)
		if s := h.Stats(); s.FilesHashed != 1 || s.Joined != n || s.Hits != 0 {
			t.Fatalf("stats %+v, want %d joined and one hash", s, n)
		}
	})
}

func TestJoinerOffersLiveProcess(t *testing.T) {
	// The first exec's process exited and its path was renamed over; a
	// second process still runs the deleted file. The shared hash must
	// find it there.
	path, old := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	dead := startSleep(t, path)
	deadReq := execRequest(t, dead, path, id)
	live := startSleep(t, path)
	liveReq := execRequest(t, live, path, id)
	stop(t, dead)
	replace(t, path, "/bin/true")

	g := newGate(t)
	h := newTestHasher(t, Options{Workers: 1, afterRead: g.hook})
	// Keep the only worker busy so both requests queue.
	blocker, _ := tempExe(t, "/bin/true")
	hb := h.Submit(Request{Path: blocker, ID: statID(t, blocker)})
	f1 := h.Submit(deadReq)
	f2 := h.Submit(liveReq)
	if f1 != f2 {
		t.Fatal("requests for one file version did not share a hash")
	}
	g.release()
	mustWait(t, hb)
	wantHash(t, mustWait(t, f1), sha256Hex(old), SourceProcExe)
}

func TestCacheEviction(t *testing.T) {
	h := newTestHasher(t, Options{CacheSize: 2})
	var reqs []Request
	var sums []string
	for _, src := range []string{"/bin/true", "/bin/false", "/bin/sleep"} {
		p, b := tempExe(t, src)
		reqs = append(reqs, Request{Path: p, ID: statID(t, p)})
		sums = append(sums, sha256Hex(b))
	}
	for i, r := range reqs {
		wantHash(t, hashReq(t, h, r), sums[i], SourcePath)
	}
	if s := h.Stats(); s.Evictions != 1 || s.CacheLen != 2 {
		t.Fatalf("stats %+v, want 1 eviction, 2 cached", s)
	}
	wantHash(t, hashReq(t, h, reqs[2]), sums[2], SourceCache)
	wantHash(t, hashReq(t, h, reqs[0]), sums[0], SourcePath) // evicted: read again
	if s := h.Stats(); s.FilesHashed != 4 || s.Hits != 1 || s.Misses != 4 {
		t.Fatalf("stats %+v, want 4 files hashed, 1 hit, 4 misses", s)
	}
	// Re-adding the first pushed out the least recently used, the second.
	wantHash(t, hashReq(t, h, reqs[1]), sums[1], SourcePath)
}

func TestChangeDuringRead(t *testing.T) {
	mk := func(t *testing.T) (string, Request) {
		// Bigger than a read buffer, so there is a read after the hook.
		path := filepath.Join(t.TempDir(), "big")
		b := make([]byte, bufSize+bufSize/2)
		for i := range b {
			b[i] = byte(i * 7)
		}
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return path, Request{Path: path, ID: statID(t, path)}
	}
	write := func(t *testing.T, path string, off int64, b []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Error(err)
		}
	}
	cases := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"appended", func(t *testing.T, path string) { write(t, path, bufSize+bufSize/2, []byte("tail")) }},
		{"truncated", func(t *testing.T, path string) { os.Truncate(path, bufSize+10) }},
		{"overwritten in place", func(t *testing.T, path string) {
			touchLater()
			write(t, path, bufSize+5, []byte("X"))
		}},
		// Already read: only the second fstat can tell.
		{"overwritten behind the reader", func(t *testing.T, path string) {
			touchLater()
			write(t, path, 0, []byte("X"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, req := mk(t)
			var once sync.Once
			h := newTestHasher(t, Options{afterRead: func(int64) { once.Do(func() { c.write(t, path) }) }})
			wantStatus(t, hashReq(t, h, req), StatusChanged)
			if s := h.Stats(); s.Changed != 1 || s.FilesHashed != 0 || s.CacheLen != 0 {
				t.Fatalf("stats %+v, want one changed, nothing cached", s)
			}
			// Not cached: the next request sees the identity mismatch.
			wantStatus(t, hashReq(t, h, req), StatusChanged)
		})
	}
	t.Run("control", func(t *testing.T) {
		path, req := mk(t)
		b, _ := os.ReadFile(path)
		calls := 0
		h := newTestHasher(t, Options{afterRead: func(int64) { calls++ }})
		wantHash(t, hashReq(t, h, req), sha256Hex(b), SourcePath)
		if calls != 2 {
			t.Fatalf("%d reads, want 2", calls)
		}
	})
}

func TestMD5(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	req := Request{Path: path, ID: statID(t, path)}
	h := newTestHasher(t, Options{})

	res := hashReq(t, h, req)
	wantHash(t, res, sha256Hex(content), SourcePath)
	if res.MD5 != "" {
		t.Fatalf("md5 %s computed without being asked", res.MD5)
	}
	// A cached hash without md5 cannot answer a request for md5.
	req.WantMD5 = true
	res = hashReq(t, h, req)
	wantHash(t, res, sha256Hex(content), SourcePath)
	if res.MD5 != md5Hex(content) {
		t.Fatalf("md5 %s, want %s", res.MD5, md5Hex(content))
	}
	// Now the cache answers both kinds.
	for _, want := range []bool{true, false} {
		req.WantMD5 = want
		res = hashReq(t, h, req)
		wantHash(t, res, sha256Hex(content), SourceCache)
		if res.MD5 != md5Hex(content) {
			t.Fatalf("cached md5 %q, want %s", res.MD5, md5Hex(content))
		}
	}
	if s := h.Stats(); s.FilesHashed != 2 || s.Hits != 2 {
		t.Fatalf("stats %+v, want 2 files hashed and 2 hits", s)
	}
}

func TestMD5DoesNotJoinPlainHash(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	req := Request{Path: path, ID: statID(t, path)}
	g := newGate(t)
	h := newTestHasher(t, Options{Workers: 2, afterRead: g.hook})
	plain := h.Submit(req)
	<-g.entered // the plain hash is reading, and will finish last
	req.WantMD5 = true
	withMD5 := h.Submit(req)
	req.WantMD5 = false
	plain2 := h.Submit(req)
	if plain == withMD5 {
		t.Fatal("md5 request joined a hash that does not compute md5")
	}
	if plain2 != withMD5 {
		t.Fatal("plain request did not join the md5 hash it could use")
	}
	if res := mustWait(t, withMD5); res.MD5 != md5Hex(content) {
		t.Fatalf("md5 %q, want %s", res.MD5, md5Hex(content))
	}
	g.release()
	if res := mustWait(t, plain); res.MD5 != "" {
		t.Fatalf("plain hash computed md5 %s", res.MD5)
	}
	// The plain hash finished second; the entry that also has md5 must
	// survive it.
	req.WantMD5 = true
	if res := hashReq(t, h, req); res.Source != SourceCache || res.MD5 != md5Hex(content) {
		t.Fatalf("after both: %+v, want md5 from the cache", res)
	}
	if s := h.Stats(); s.FilesHashed != 2 {
		t.Fatalf("stats %+v, want 2 files hashed", s)
	}
}

func TestPendingAndFollowUp(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	req := Request{Path: path, ID: statID(t, path)}
	g := newGate(t)
	h := newTestHasher(t, Options{afterRead: g.hook})

	f := h.Submit(req)
	res, ok := f.WaitFor(20 * time.Millisecond)
	if ok || res.Status != StatusPending {
		t.Fatalf("got %+v ready=%v, want pending", res, ok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if res, ok := f.Wait(ctx); ok || res.Status != StatusPending {
		t.Fatalf("got %+v ready=%v, want pending", res, ok)
	}
	if s := h.Stats(); s.Pending != 2 || s.InFlight != 1 {
		t.Fatalf("stats %+v, want 2 pending waits, 1 in flight", s)
	}
	g.release()
	select {
	case <-f.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
	res, ok = f.Result()
	if !ok {
		t.Fatal("Result not ready after Done")
	}
	wantHash(t, res, sha256Hex(content), SourcePath)
}

func TestQueueFull(t *testing.T) {
	g := newGate(t)
	h := newTestHasher(t, Options{Workers: 1, QueueSize: 1, afterRead: g.hook})
	var reqs []Request
	for _, src := range []string{"/bin/true", "/bin/false", "/bin/sleep"} {
		p, _ := tempExe(t, src)
		reqs = append(reqs, Request{Path: p, ID: statID(t, p)})
	}
	running := h.Submit(reqs[0])
	<-g.entered
	queued := h.Submit(reqs[1])
	res, ok := h.Submit(reqs[2]).Result()
	if !ok || res.Status != StatusError || !errors.Is(res.Err, ErrQueueFull) {
		t.Fatalf("got %+v ready=%v, want ErrQueueFull at once", res, ok)
	}
	g.release()
	for _, f := range []*Future{running, queued} {
		if res := mustWait(t, f); res.Status != "" {
			t.Fatalf("status %q: %v", res.Status, res.Err)
		}
	}
	// Refusal is not cached: with room again the file is hashed.
	if res := hashReq(t, h, reqs[2]); res.Status != "" {
		t.Fatalf("status %q: %v", res.Status, res.Err)
	}
}

func TestClose(t *testing.T) {
	g := newGate(t)
	h := newTestHasher(t, Options{Workers: 1, afterRead: g.hook})
	var futures []*Future
	for _, src := range []string{"/bin/true", "/bin/false", "/bin/sleep"} {
		p, _ := tempExe(t, src)
		futures = append(futures, h.Submit(Request{Path: p, ID: statID(t, p)}))
		if len(futures) == 1 {
			<-g.entered
		}
	}
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	// Let the read in progress go on only once Close has begun, so it
	// sees the close.
	for {
		h.mu.Lock()
		c := h.closed
		h.mu.Unlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	g.release()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for i, f := range futures {
		res, ok := f.Result()
		if !ok || res.Status != StatusError || !errors.Is(res.Err, ErrClosed) && !errors.Is(res.Err, errAborted) {
			t.Fatalf("future %d: %+v ready=%v, want closed", i, res, ok)
		}
	}
	p, _ := tempExe(t, "/bin/true")
	if res, _ := h.Submit(Request{Path: p, ID: statID(t, p)}).Result(); !errors.Is(res.Err, ErrClosed) {
		t.Fatalf("after Close: %+v, want ErrClosed", res)
	}
}

func TestNoIdentity(t *testing.T) {
	h := newTestHasher(t, Options{})
	res, ok := h.Submit(Request{Path: "/bin/true"}).Result()
	if !ok {
		t.Fatal("not ready")
	}
	wantStatus(t, res, StatusError)
}

func TestCacheHitAllocs(t *testing.T) {
	path, _ := tempExe(t, "/bin/true")
	req := Request{PID: 1, StartNs: 1, Path: path, ID: statID(t, path)}
	h := newTestHasher(t, Options{})
	hashReq(t, h, req)
	var res Result
	allocs := testing.AllocsPerRun(1000, func() {
		res, _ = h.Submit(req).WaitFor(DefaultWait)
	})
	if allocs != 0 || res.Source != SourceCache {
		t.Fatalf("cache hit: %v allocs, source %q; want 0 allocs from the cache", allocs, res.Source)
	}
}

// TestExecStorm runs real short-lived processes of one binary from two
// loops, as a build or a shell loop does, and submits each exec without
// waiting: the binary must be read once and every answer be right.
func TestExecStorm(t *testing.T) {
	path, content := tempExe(t, "/bin/true")
	id := statID(t, path)
	want := sha256Hex(content)
	h := newTestHasher(t, Options{})
	const perLoop = 100
	var mu sync.Mutex
	var futures []*Future
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range perLoop {
				cmd := exec.Command(path)
				if err := cmd.Start(); err != nil {
					t.Error(err)
					return
				}
				// No start time: by the time a real pipeline sees the
				// event most of these have exited anyway.
				f := h.Submit(Request{PID: uint32(cmd.Process.Pid), Path: path, ID: id})
				mu.Lock()
				futures = append(futures, f)
				mu.Unlock()
				cmd.Wait()
			}
		})
	}
	wg.Wait()
	for _, f := range futures {
		wantHash(t, mustWait(t, f), want, "")
	}
	if s := h.Stats(); s.FilesHashed != 1 || s.Hits+s.Misses != 2*perLoop {
		t.Fatalf("stats %+v, want one hash for %d requests", s, 2*perLoop)
	}
}

func TestHashFile(t *testing.T) {
	path, content := tempExe(t, "/bin/sleep")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	res, id, err := HashFile(link, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	wantHash(t, res, sha256Hex(content), SourcePath)
	if res.MD5 != md5Hex(content) {
		t.Fatalf("md5 %s, want %s", res.MD5, md5Hex(content))
	}
	if want := statID(t, path); id != want {
		t.Fatalf("id %v, want %v", id, want)
	}

	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, fifo, filepath.Join(dir, "missing")} {
		res, _, err := HashFile(p, 0, false)
		if err == nil || !errors.Is(res.Err, err) {
			t.Fatalf("%s: err %v, result %+v; want an error", p, err, res)
		}
		wantStatus(t, res, StatusGone)
	}
}

// TestExecDeniesWrites checks the kernel behaviour that lets a live
// process's executable keep its hash when only its ctime moved. If this
// fails, accepting a moved ctime through /proc/<pid>/exe is unsafe here.
func TestExecDeniesWrites(t *testing.T) {
	path, _ := tempExe(t, "/bin/sleep")
	startSleep(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatal("a running executable could be opened for writing: the ctime allowance for live processes is unsafe on this kernel")
	}
	if !errors.Is(err, unix.ETXTBSY) {
		t.Fatalf("open for writing: %v, want ETXTBSY", err)
	}
}

func TestMetadataChangeWhileRunning(t *testing.T) {
	// chmod moves ctime only; the running process vouches for the bytes.
	path, content := tempExe(t, "/bin/sleep")
	id := statID(t, path)
	cmd := startSleep(t, path)
	touchLater()
	if err := os.Chmod(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if now := statID(t, path); now.CtimeNs == id.CtimeNs {
		t.Fatal("test setup: chmod did not move ctime")
	}
	req := execRequest(t, cmd, path, id)
	h := newTestHasher(t, Options{})
	wantHash(t, hashReq(t, h, req), sha256Hex(content), SourceProcExe)

	// Without the process, the path is all there is, and ctime must match.
	stop(t, cmd)
	h2 := newTestHasher(t, Options{})
	wantStatus(t, hashReq(t, h2, req), StatusChanged)
}

func TestMemfdWrittenAfterExec(t *testing.T) {
	// A memfd stays writable through its creator's descriptor while it
	// runs; restoring mtime must not get the new bytes hashed.
	content, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.MemfdCreate("argus-hasher-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	mf := os.NewFile(uintptr(fd), "memfd")
	defer mf.Close()
	if _, err := mf.Write(content); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	id := fileid.FromStat(&st)
	cmd := start(t, &exec.Cmd{Path: "/proc/self/fd/3", Args: []string{"sleep", "60"}, ExtraFiles: []*os.File{mf}})
	waitExe(t, cmd.Process.Pid, "/memfd:argus-hasher-test")

	touchLater()
	if _, err := mf.WriteAt([]byte("X"), int64(len(content)-1)); err != nil {
		t.Fatalf("write to a running memfd: %v", err)
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), ts, 0); err != nil {
		t.Fatal(err)
	}
	var now unix.Stat_t
	unix.Fstat(fd, &now)
	if got := fileid.FromStat(&now); got.MtimeNs != id.MtimeNs || got.Size != id.Size || got.CtimeNs == id.CtimeNs {
		t.Fatalf("test setup: want only ctime moved: %v vs %v", got, id)
	}
	h := newTestHasher(t, Options{})
	req := execRequest(t, cmd, "/memfd:argus-hasher-test (deleted)", id)
	wantStatus(t, hashReq(t, h, req), StatusChanged)
}

// TestCloseWithinAbandonsAHungRead: a worker stuck in a read (a hung NFS
// or FUSE file) must not hold shutdown: CloseWithin returns after its
// bound, says how many workers it left behind, and requests still queued
// are answered ErrClosed.
func TestCloseWithinAbandonsAHungRead(t *testing.T) {
	g := newGate(t)
	h := newTestHasher(t, Options{Workers: 1, afterRead: g.hook})
	stuck, _ := tempExe(t, "/bin/true")
	queued, _ := tempExe(t, "/bin/sh")
	h.Submit(Request{Path: stuck, ID: statID(t, stuck)})
	<-g.entered
	f := h.Submit(Request{Path: queued, ID: statID(t, queued)})
	err := h.CloseWithin(50 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "1 hash worker") {
		t.Fatalf("close with a hung worker: %v", err)
	}
	g.release()
	if res := mustWait(t, f); !errors.Is(res.Err, ErrClosed) {
		t.Fatalf("queued request after close: %+v", res)
	}
}
