package forward

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/forward/spool"
)

// TestSenderSurvivesSpoolReadError: a read error from the spool (EIO
// from a failing disk; here EISDIR, from a segment replaced by a
// directory) must not stop the output for good. The sender counts it,
// waits and reads again; once the segment is readable everything is
// delivered.
func TestSenderSurvivesSpoolReadError(t *testing.T) {
	rv := &receiver{t: t, mode: "array"}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	spoolDir := t.TempDir()
	f, err := New(Config{Outputs: []Output{{Spec: "http://" + addr + "/in",
		Spool: spool.Options{SegmentBytes: 16 << 10}, HTTP: HTTPOptions{Backoff: fastBackoff()}}},
		SpoolDir: spoolDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "records spooled", 10*time.Second, func() bool {
		st := f.Stats()[0]
		return st.QueueRecords == 0 && st.SpoolRecords == n
	})
	segs, _ := filepath.Glob(filepath.Join(spoolDir, "*", "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(segs))
	}
	// The second segment becomes unreadable: the sender is still on the
	// first (the receiver is down), so it meets the error on moving on.
	bad := segs[1]
	if err := os.Rename(bad, bad+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	srv := serveAt(t, addr, rv)
	defer srv.Close()
	waitFor(t, "the read error", 10*time.Second, func() bool {
		return strings.Contains(f.Stats()[0].LastError, "is a directory")
	})
	// Swap the file back in one step: a moment with neither would be a
	// deleted segment, which is skipped and counted as lost.
	if err := unix.Renameat2(unix.AT_FDCWD, bad+".aside", unix.AT_FDCWD, bad, unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every record after the disk recovered", 20*time.Second, func() bool { return rv.distinct(t) >= n })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, rv.seqs(t), n)
}
