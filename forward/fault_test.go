package forward

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// hecConfigReceiver answers like a Splunk HEC whose index is not allowed
// for the token: every request gets 400 {"text":"Incorrect index",
// "code":7} until refuse runs out, then the receiver takes everything.
type hecConfigReceiver struct {
	*receiver
	mu      sync.Mutex
	refuse  int
	refused int
}

func (h *hecConfigReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.refused < h.refuse {
		h.refused++
		h.mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`)
		return
	}
	h.mu.Unlock()
	h.receiver.ServeHTTP(w, r)
}

// TestHECIncorrectIndexKeepsData: a HEC that refuses the index is
// misconfigured, and no record is at fault. The records stay spooled,
// the output says it is blocked by the receiver, and when the receiver
// is fixed everything arrives.
func TestHECIncorrectIndexKeepsData(t *testing.T) {
	rv := &hecConfigReceiver{receiver: &receiver{t: t, mode: "splunk_hec"}, refuse: 30}
	srv := httptest.NewTLSServer(rv)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newTestForwarder(t, Output{Spec: srv.URL + "/services/collector/event?mode=splunk_hec&index=sec&batch_records=50",
		HTTP: HTTPOptions{Token: "hec", TLS: TLSOptions{CAFile: ca}, Backoff: fastBackoff()}})
	const n = 200
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "the refusal to be reported", 10*time.Second, func() bool {
		st := f.Stats()[0]
		return st.ReceiverRefusing && strings.Contains(st.LastError, "Incorrect index")
	})
	waitFor(t, "every record once the receiver accepts", 20*time.Second, func() bool { return rv.distinct(t) >= n })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, rv.seqs(t), n)
	st := f.Stats()[0]
	if st.Rejected != 0 || st.Dropped() != 0 || st.ReceiverRefusing || st.ConfigRefusals == 0 {
		t.Fatalf("stats after the receiver was fixed: %+v", st)
	}
	// Each refusal cost one request, not a bisection down to single
	// records.
	if int(st.ConfigRefusals) != rv.refuse {
		t.Errorf("%d refusals counted for %d refused requests", st.ConfigRefusals, rv.refuse)
	}
}

// TestHECBadRecordStillDropped: a HEC refusal about one event (code 6,
// invalid data format) still isolates and drops that record alone.
func TestHECBadRecordStillDropped(t *testing.T) {
	rv := &receiver{t: t, mode: "splunk_hec"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil && bytes.Contains(plain, []byte("seq-0000007")) {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"text":"Invalid data format","code":6,"invalid-event-number":0}`)
				return
			}
		}
		rv.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	f := newTestForwarder(t, Output{Spec: srv.URL + "/services/collector/event?mode=splunk_hec",
		HTTP: HTTPOptions{Token: "hec", Backoff: fastBackoff()}})
	for i := 0; i < 20; i++ {
		f.Send(seqRecord(i))
	}
	if err := closeForwarder(t, f, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats()[0]; st.Rejected != 1 || st.Sent != 19 || st.ReceiverRefusing {
		t.Fatalf("stats %+v", st)
	}
}

// TestHTTPRedirectKeepsSecrets: a receiver that redirects to another
// origin (here https to plain http on another port) must not receive
// the output's token or custom headers there; the redirect is refused
// and reported, and the records stay spooled.
func TestHTTPRedirectKeepsSecrets(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range []string{"Authorization", "X-Api-Key"} {
			if v := r.Header.Get(h); v != "" {
				leaked = append(leaked, h+": "+v)
			}
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer other.Close()
	var sameOrigin int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/moved" {
			mu.Lock()
			if r.Header.Get("X-Api-Key") == "k-123" {
				sameOrigin++
			}
			mu.Unlock()
			http.Redirect(w, r, other.URL+"/in", http.StatusPermanentRedirect)
			return
		}
		// A redirect within the origin is followed, headers and all.
		http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	f := newTestForwarder(t, Output{Spec: srv.URL + "/in", HTTP: HTTPOptions{Token: "secret-token",
		Headers: map[string]string{"X-Api-Key": "k-123"}, TLS: TLSOptions{CAFile: ca}, Backoff: fastBackoff()}})
	for i := 0; i < 10; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "the refused redirect", 10*time.Second, func() bool {
		return strings.Contains(f.Stats()[0].LastError, "redirect")
	})
	closeForwarder(t, f, 100*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("secrets sent to another origin: %v", leaked)
	}
	if sameOrigin == 0 {
		t.Fatal("a redirect within the origin was not followed with its headers")
	}
	if st := f.Stats()[0]; st.Sent != 0 || st.SpoolRecords != 10 {
		t.Fatalf("records not kept: %+v", st)
	}
}

// TestChangedURLOldSpoolReportedAndRemoved: the spool directory is named
// by a hash of the destination, so fixing a URL leaves the old spool
// behind. New reports what it held and removes it; a spool another
// forwarder holds open is left alone.
func TestChangedURLOldSpoolReportedAndRemoved(t *testing.T) {
	parent := t.TempDir()
	oldOut := Output{Spec: fmt.Sprintf("http://127.0.0.1:%d/typo", freePort(t)), HTTP: HTTPOptions{Backoff: fastBackoff()}}
	open := func(o Output) *Forwarder {
		f, err := New(Config{Outputs: []Output{o}, SpoolDir: parent, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open(oldOut)
	for i := 0; i < 100; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "records spooled", 10*time.Second, func() bool { return f.Stats()[0].SpoolRecords == 100 })
	// While the old forwarder runs its spool is in use: kept.
	other := Output{Spec: fmt.Sprintf("http://127.0.0.1:%d/other", freePort(t)), HTTP: HTTPOptions{Backoff: fastBackoff()}}
	g := open(other)
	if rs := g.RemovedSpools(); len(rs) != 0 {
		t.Fatalf("a spool in use was removed: %+v", rs)
	}
	closeForwarder(t, g, 100*time.Millisecond)
	closeForwarder(t, f, 100*time.Millisecond)
	dirs, _ := filepath.Glob(filepath.Join(parent, "*"))
	if len(dirs) != 2 {
		t.Fatalf("want 2 spool directories, have %v", dirs)
	}

	rv := &receiver{t: t, mode: "array"}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	f = open(Output{Spec: srv.URL + "/fixed", HTTP: HTTPOptions{Backoff: fastBackoff()}})
	defer closeForwarder(t, f, time.Second)
	rs := f.RemovedSpools()
	var records uint64
	for _, r := range rs {
		records += r.Records
		if !strings.Contains(r.Output, "127.0.0.1") {
			t.Errorf("removed spool not named by its output: %+v", r)
		}
	}
	if len(rs) != 2 || records != 100 {
		t.Fatalf("removed spools %+v: want both old ones, 100 records", rs)
	}
	dirs, _ = filepath.Glob(filepath.Join(parent, "*"))
	if len(dirs) != 1 {
		t.Fatalf("old spools still on disk: %v", dirs)
	}
}

// TestHandoverDoesNotWaitForReceivers: a reload replaces the forwarder
// while an output's receiver hangs. Handover must not wait for it (the
// pipeline is stopped meanwhile): it puts what the queues hold into the
// spools and returns, and the next forwarder on the same spools delivers
// everything.
func TestHandoverDoesNotWaitForReceivers(t *testing.T) {
	block := make(chan struct{})
	rv := &receiver{t: t, mode: "array", block: block}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	spoolDir := t.TempDir()
	out := Output{Spec: srv.URL + "/in", HTTP: HTTPOptions{Backoff: fastBackoff(), Timeout: time.Hour}}
	f, err := New(Config{Outputs: []Output{out}, SpoolDir: spoolDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
	}
	done := make(chan error, 1)
	go func() { done <- f.Handover() }()
	var herr error
	waitFor(t, "handover with a hung receiver", 30*time.Second, func() bool {
		select {
		case herr = <-done:
			return true
		default:
			return false
		}
	})
	if herr != nil {
		t.Fatal(herr)
	}
	if st := f.Stats()[0]; st.SpoolRecords != n || st.Dropped() != 0 {
		t.Fatalf("after handover: %+v", st)
	}
	g, err := New(Config{Outputs: []Output{out}, SpoolDir: spoolDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if st := g.Stats()[0]; st.SpoolRecords != n {
		t.Fatalf("reopened spool holds %d, want %d", st.SpoolRecords, n)
	}
	close(block) // the receiver answers again
	waitFor(t, "every record through the new forwarder", 30*time.Second, func() bool { return rv.distinct(t) >= n })
	if err := closeForwarder(t, g, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, rv.seqs(t), n)
}

// killChildEnv makes the test binary a forwarder child for
// TestKill9DuringOutage: it spools records for a receiver that is down
// and reports each thousand that reached the spool, until it is killed.
const killChildEnv = "ARGUS_FORWARD_KILL_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(killChildEnv); spec != "" {
		var from int
		fmt.Sscan(os.Getenv(killChildEnv+"_FROM"), &from)
		killChild(spec, os.Getenv(killChildEnv+"_DIR"), from)
		return
	}
	os.Exit(m.Run())
}

func killChild(spec, dir string, from int) {
	f, err := New(Config{Outputs: []Output{{Spec: spec, HTTP: HTTPOptions{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}}},
		SpoolDir: dir, Logger: quietLogger()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	// What the spool held at open: earlier children's records.
	before := f.Stats()[0].SpoolRecords
	for i := 0; ; i++ {
		f.Send(seqRecord(from + i))
		if i%1000 == 999 {
			// In the spool file, not only out of the memory queue: the
			// spooler takes a batch from the queue before it appends it,
			// and a record between the two is lost to a SIGKILL (it never
			// reached the spool, which is all this test is about).
			for f.Stats()[0].SpoolRecords < before+uint64(i+1) {
				time.Sleep(time.Millisecond)
			}
			fmt.Println("spooled", i+1)
		}
	}
}

// TestKill9DuringOutage: the sensor is killed with SIGKILL at a random
// point while its receiver is down, and a new forwarder is started on the
// same spool: every record that had reached the spool is delivered.
func TestKill9DuringOutage(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	spec := "http://" + addr + "/in"
	spoolDir := t.TempDir()
	const rounds, stride = 3, 100000
	var spooled [rounds]int
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+spec, killChildEnv+"_DIR="+spoolDir,
			fmt.Sprintf("%s_FROM=%d", killChildEnv, round*stride))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of reported thousands, mid-way
		// through the next.
		want := 1 + rand.IntN(5)
		sc := bufio.NewScanner(out)
		got := 0
		for got < want && sc.Scan() {
			if _, err := fmt.Sscanf(sc.Text(), "spooled %d", &got); err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child said %q", sc.Text())
			}
			got /= 1000
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if got < want {
			t.Fatalf("child stopped after %d thousand records", got)
		}
		spooled[round] = got * 1000
	}
	rv := &receiver{t: t, mode: "array"}
	srv := serveAt(t, addr, rv)
	defer srv.Close()
	f, err := New(Config{Outputs: []Output{{Spec: spec, HTTP: HTTPOptions{Backoff: fastBackoff()}}}, SpoolDir: spoolDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spool delivered", 60*time.Second, func() bool { return f.Stats()[0].SpoolRecords == 0 })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, s := range rv.seqs(t) {
		seen[s]++
	}
	total := 0
	for round, n := range spooled {
		for i := round * stride; i < round*stride+n; i++ {
			if seen[i] == 0 {
				t.Fatalf("record %d reached the spool before a SIGKILL and was never delivered", i)
			}
		}
		total += n
	}
	t.Logf("%d children killed with SIGKILL; %d deliveries afterwards, including all %d records they reported spooled",
		rounds, len(rv.seqs(t)), total)
}
