package hasher

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/fileid"
)

// testLogger discards, so expected failures do not clutter test output.
var testLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestHasher(t testing.TB, opts Options) *Hasher {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// copyFile copies src to dir/name, executable, and returns the bytes.
func copyFile(t testing.TB, src, dst string) []byte {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// statID is what the kernel would record for the file at path.
func statID(t testing.TB, path string) fileid.ID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fileid.FromStat(&st)
}

// start runs cmd and kills it at the end of the test.
func start(t testing.TB, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// startSleep runs the executable at path as `sleep 60`.
func startSleep(t testing.TB, path string) *exec.Cmd {
	return start(t, exec.Command(path, "60"))
}

// stop kills cmd and reaps it, so its pid has no /proc entry.
func stop(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", cmd.Process.Pid)); err == nil {
		t.Logf("pid %d was already reused", cmd.Process.Pid)
	}
}

// startNs returns a CLOCK_BOOTTIME start time, in ns, that /proc/<pid>/stat's
// starttime is the truncation of. It is put at the end of its tick, so a
// conversion that rounds instead of truncating fails.
func startNs(t testing.TB, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ticks*10_000_000 + 9_999_999
}

// execRequest builds what the pipeline would from the exec of path by cmd.
func execRequest(t testing.TB, cmd *exec.Cmd, path string, id fileid.ID) Request {
	t.Helper()
	return Request{PID: uint32(cmd.Process.Pid), StartNs: startNs(t, cmd.Process.Pid), Path: path, ID: id}
}

// waitExe waits until pid runs an executable whose link target has prefix.
func waitExe(t testing.TB, pid int, prefix string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if strings.HasPrefix(l, prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d runs %q, want %s...", pid, l, prefix)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustWait(t testing.TB, f *Future) Result {
	t.Helper()
	res, ok := f.WaitFor(10 * time.Second)
	if !ok {
		t.Fatal("hash not ready after 10s")
	}
	return res
}

func hashReq(t testing.TB, h *Hasher, req Request) Result {
	t.Helper()
	return mustWait(t, h.Submit(req))
}

func wantHash(t testing.TB, res Result, sum, source string) {
	t.Helper()
	if res.Status != "" || res.Err != nil {
		t.Fatalf("status %q (%v), want a hash", res.Status, res.Err)
	}
	if res.SHA256 != sum {
		t.Fatalf("sha256 %s, want %s", res.SHA256, sum)
	}
	if source != "" && res.Source != source {
		t.Fatalf("source %q, want %q", res.Source, source)
	}
}

func wantStatus(t testing.TB, res Result, st Status) {
	t.Helper()
	if res.Status != st {
		t.Fatalf("status %q (err %v, sha256 %q), want %q", res.Status, res.Err, res.SHA256, st)
	}
	if res.SHA256 != "" || res.MD5 != "" {
		t.Fatalf("status %q carries a hash %q", res.Status, res.SHA256)
	}
	if res.Err == nil {
		t.Fatalf("status %q without an error saying why", res.Status)
	}
}

// tempExe copies src into a fresh temp dir and returns its path and bytes.
func tempExe(t testing.TB, src string) (string, []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(src))
	return p, copyFile(t, src, p)
}

// touchLater waits out the coarse timestamp clock so a write is sure to
// change mtime and ctime on kernels without multigrain timestamps.
func touchLater() { time.Sleep(20 * time.Millisecond) }

// gate holds the first read of a test Hasher until released, to make
// "while a hash is in flight" deterministic. Later reads pass freely.
type gate struct {
	first    atomic.Bool
	entered  chan struct{}
	released chan struct{}
	release  func()
	ctx      context.Context
}

func newGate(t testing.TB) *gate {
	g := &gate{entered: make(chan struct{}), released: make(chan struct{}), ctx: t.Context()}
	var once sync.Once
	g.release = func() { once.Do(func() { close(g.released) }) }
	return g
}

// hook is the afterRead hook. It also gives way when the test ends, so a
// failed test does not leave Close waiting on it.
func (g *gate) hook(int64) {
	if !g.first.CompareAndSwap(false, true) {
		return
	}
	close(g.entered)
	select {
	case <-g.released:
	case <-g.ctx.Done():
	}
}
