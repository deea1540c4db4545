package forward

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/forward/spool"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

// receiver is an HTTP endpoint that records what it is sent, in order,
// and can be told to fail.
type receiver struct {
	t        testing.TB
	mu       sync.Mutex
	reqs     []*http.Request
	bodies   [][]byte // decompressed
	msgs     [][]byte // one per record, as the mode frames them
	mode     string
	failNext int // answer this many requests with 503
	reject   func(body []byte) int
	block    chan struct{}
	discard  bool // count records without keeping them
	counted  int
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rv.block != nil {
		<-rv.block
	}
	raw, _ := io.ReadAll(r.Body)
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.failNext > 0 {
		rv.failNext--
		w.Header().Set("Retry-After", "0")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if rv.reject != nil {
		if code := rv.reject(body); code != 0 {
			http.Error(w, "rejected", code)
			return
		}
	}
	msgs, err := splitBody(rv.mode, r, body)
	if err != nil {
		rv.t.Errorf("bad %s body: %v\n%.300s", rv.mode, err, body)
		http.Error(w, err.Error(), 400)
		return
	}
	if rv.discard {
		rv.counted += len(msgs)
		return
	}
	rv.reqs = append(rv.reqs, r)
	rv.bodies = append(rv.bodies, body)
	rv.msgs = append(rv.msgs, msgs...)
	if rv.mode == "splunk_hec" {
		io.WriteString(w, `{"text":"Success","code":0}`)
	}
}

// splitBody checks a request body's shape for its mode and returns its
// records.
func splitBody(mode string, r *http.Request, body []byte) ([][]byte, error) {
	var out [][]byte
	switch mode {
	case "array":
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return nil, err
		}
		for _, m := range arr {
			out = append(out, m)
		}
	case "ndjson", "splunk_hec":
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return nil, err
			}
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	case "chronicle":
		var b struct {
			InlineSource struct {
				Events []struct {
					UDM json.RawMessage `json:"udm"`
				} `json:"events"`
			} `json:"inlineSource"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return nil, err
		}
		if len(b.InlineSource.Events) == 0 {
			return nil, fmt.Errorf("no events")
		}
		for _, e := range b.InlineSource.Events {
			if len(e.UDM) == 0 {
				return nil, fmt.Errorf("event without udm")
			}
			out = append(out, e.UDM)
		}
	default:
		return nil, fmt.Errorf("unknown mode %s", mode)
	}
	return out, nil
}

func (rv *receiver) count() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.msgs)
}

func (rv *receiver) seqs(t testing.TB) []int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := make([]int, len(rv.msgs))
	for i, m := range rv.msgs {
		out[i] = idSeq(t, m)
	}
	return out
}

func (rv *receiver) distinct(t testing.TB) int {
	seen := map[int]bool{}
	for _, s := range rv.seqs(t) {
		seen[s] = true
	}
	return len(seen)
}

// serveAt runs h on a fixed loopback address, so a test can stop and
// restart "the receiver" where the sink expects it.
func serveAt(t testing.TB, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	return s
}

func fastBackoff() Backoff {
	return Backoff{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond}
}

func newTestForwarder(t testing.TB, outs ...Output) *Forwarder {
	t.Helper()
	f, err := New(Config{Outputs: outs, SpoolDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestHTTPModes(t *testing.T) {
	cases := []struct {
		name, spec, mode string
		out              Output
		check            func(t *testing.T, r *http.Request, msg map[string]any)
	}{
		{name: "generic array", spec: "/ingest?format=native", mode: "array",
			out: Output{HTTP: HTTPOptions{Token: "tok", Headers: map[string]string{"X-Tenant": "blue"}}},
			check: func(t *testing.T, r *http.Request, m map[string]any) {
				if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Tenant") != "blue" {
					t.Errorf("headers %v", r.Header)
				}
				if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("encoding %v", r.Header)
				}
				if m["schema"] != "argus.v1" {
					t.Errorf("not native: %v", m)
				}
			}},
		{name: "generic ndjson ecs no gzip", spec: "/bulk?format=ecs&body=ndjson&gzip=false&tenant=x", mode: "ndjson",
			check: func(t *testing.T, r *http.Request, m map[string]any) {
				if r.Header.Get("Content-Encoding") != "" || r.Header.Get("Content-Type") != "application/x-ndjson" {
					t.Errorf("headers %v", r.Header)
				}
				if r.URL.Query().Get("tenant") != "x" || r.URL.Query().Get("format") != "" {
					t.Errorf("receiver query %q: own options must be stripped, others kept", r.URL.RawQuery)
				}
				if recordtest.Get(m, "event.kind") != "event" {
					t.Errorf("not ecs: %v", m)
				}
			}},
		{name: "chronicle", spec: "/v1alpha/projects/p/locations/us/instances/i/events:import?mode=chronicle&format=udm", mode: "chronicle",
			out: Output{HTTP: HTTPOptions{Token: "ya29.x"}},
			check: func(t *testing.T, r *http.Request, m map[string]any) {
				if r.Header.Get("Authorization") != "Bearer ya29.x" {
					t.Errorf("auth %q", r.Header.Get("Authorization"))
				}
				if recordtest.Get(m, "metadata.vendor_name") != "Argus" || recordtest.Get(m, "principal.hostname") != "vm1" {
					t.Errorf("not udm: %v", m)
				}
			}},
		{name: "splunk hec", spec: "/services/collector/event?mode=splunk_hec&index=sec", mode: "splunk_hec",
			out: Output{HTTP: HTTPOptions{Token: "hec-token"}},
			check: func(t *testing.T, r *http.Request, m map[string]any) {
				if r.Header.Get("Authorization") != "Splunk hec-token" || r.URL.Path != "/services/collector/event" {
					t.Errorf("auth %q path %q", r.Header.Get("Authorization"), r.URL.Path)
				}
				if _, ok := m["time"].(float64); !ok || m["host"] != "vm1" || m["sourcetype"] != "argus:native" || m["index"] != "sec" {
					t.Errorf("hec envelope %v", m)
				}
				if tm := m["time"].(float64); tm < 1795660818 || tm > 1795660819 {
					t.Errorf("hec time %v is not the record's", tm)
				}
				if recordtest.Get(m, "event.schema") != "argus.v1" {
					t.Errorf("hec event %v", m["event"])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rv := &receiver{t: t, mode: c.mode}
			srv := httptest.NewServer(rv)
			defer srv.Close()
			o := c.out
			o.Spec = srv.URL + c.spec
			o.HTTP.Backoff = fastBackoff()
			f := newTestForwarder(t, o)
			const n = 25
			for i := 0; i < n; i++ {
				f.Send(seqRecord(i))
			}
			if err := closeForwarder(t, f, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			checkComplete(t, rv.seqs(t), n)
			for i, m := range rv.msgs {
				c.check(t, rv.reqs[min(i, len(rv.reqs)-1)], recordtest.MustJSON(t, m))
			}
			st := f.Stats()[0]
			if st.Sent != n || st.Batches == 0 || st.Bytes == 0 || st.Dropped() != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestHTTPRetriesUntilAccepted(t *testing.T) {
	rv := &receiver{t: t, mode: "array", failNext: 4}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	f := newTestForwarder(t, Output{Spec: srv.URL, HTTP: HTTPOptions{Backoff: fastBackoff()}})
	for i := 0; i < 100; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "100 records", 10*time.Second, func() bool { return rv.count() >= 100 })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if dups := checkComplete(t, rv.seqs(t), 100); dups != 0 {
		t.Errorf("%d duplicates: a 503 means not taken, so none expected", dups)
	}
	st := f.Stats()[0]
	if st.Retries < 4 || st.Errors < 4 || st.Sent != 100 || !strings.Contains(st.LastError, "503") {
		t.Errorf("stats after 4 failures: %+v", st)
	}
}

func TestHTTPRejectsOnlyTheBadRecord(t *testing.T) {
	rv := &receiver{t: t, mode: "chronicle", reject: func(b []byte) int {
		if bytes.Contains(b, []byte("seq-0000013")) {
			return http.StatusBadRequest // Chronicle refuses the whole request
		}
		if len(b) > 6000 {
			return http.StatusRequestEntityTooLarge
		}
		return 0
	}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	f := newTestForwarder(t, Output{Spec: srv.URL + "/events:import?mode=chronicle&format=udm",
		HTTP: HTTPOptions{Backoff: fastBackoff()}})
	for i := 0; i < 40; i++ {
		f.Send(seqRecord(i))
	}
	if err := closeForwarder(t, f, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	seqs := rv.seqs(t)
	if len(seqs) != 39 {
		t.Fatalf("received %d records, want 39", len(seqs))
	}
	for i, s := range seqs {
		want := i
		if i >= 13 {
			want = i + 1
		}
		if s != want {
			t.Fatalf("record %d is %d, want %d", i, s, want)
		}
	}
	if st := f.Stats()[0]; st.Rejected != 1 || st.Sent != 39 {
		t.Errorf("stats %+v", st)
	}
}

// TestHTTPOutage: the receiver goes away, 10,000 records are sent, the
// receiver comes back: all arrive in order, duplicates identifiable by id.
func TestHTTPOutage(t *testing.T) {
	rv := &receiver{t: t, mode: "ndjson"}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := serveAt(t, addr, rv)
	f := newTestForwarder(t, Output{Spec: "http://" + addr + "/in?body=ndjson&batch_records=500",
		HTTP: HTTPOptions{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}}})
	for i := 0; i < 100; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "first 100", 10*time.Second, func() bool { return rv.count() >= 100 })
	srv.Close()

	const n = 10100
	for i := 100; i < n; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "records to be spooled", 10*time.Second, func() bool {
		st := f.Stats()[0]
		return st.SpoolRecords+st.Sent >= n && st.Errors > 0
	})
	if got := rv.count(); got >= n {
		t.Fatalf("receiver down but got %d", got)
	}
	srv = serveAt(t, addr, rv)
	defer srv.Close()
	waitFor(t, "all records after the outage", 30*time.Second, func() bool { return rv.distinct(t) >= n })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	dups := checkComplete(t, rv.seqs(t), n)
	st := f.Stats()[0]
	t.Logf("outage: %d records, %d duplicates, %d retries, %d batches", n, dups, st.Retries, st.Batches)
	if st.SpoolRecords != 0 || st.Dropped() != 0 {
		t.Errorf("stats after recovery %+v", st)
	}
}

// TestHTTPOutageAcrossRestart: the sensor itself restarts while the
// receiver is down; the new Forwarder delivers what the old one spooled,
// before its own records.
func TestHTTPOutageAcrossRestart(t *testing.T) {
	rv := &receiver{t: t, mode: "array"}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	spoolDir := t.TempDir()
	out := Output{Spec: "http://" + addr + "/in", HTTP: HTTPOptions{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}}}
	open := func() *Forwarder {
		f, err := New(Config{Outputs: []Output{out}, SpoolDir: spoolDir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	for i := 0; i < 5000; i++ {
		f.Send(seqRecord(i))
	}
	// The receiver is down: Close gives up delivering after its deadline
	// and leaves the records spooled.
	if err := closeForwarder(t, f, 300*time.Millisecond); err == nil {
		t.Log("close returned nil: delivery had nothing in flight")
	}
	f = open()
	if st := f.Stats()[0]; st.SpoolRecords != 5000 {
		t.Fatalf("reopened spool holds %d records, want 5000", st.SpoolRecords)
	}
	for i := 5000; i < 10000; i++ {
		f.Send(seqRecord(i))
	}
	srv := serveAt(t, addr, rv)
	defer srv.Close()
	waitFor(t, "all records after restart", 30*time.Second, func() bool { return rv.distinct(t) >= 10000 })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, rv.seqs(t), 10000)
}

func TestHTTPSpoolFullDropsOldestAndCounts(t *testing.T) {
	rv := &receiver{t: t, mode: "array"}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f := newTestForwarder(t, Output{Spec: "http://" + addr + "/in?spool_max_size=1M",
		Spool: spool.Options{SegmentBytes: 64 << 10}, HTTP: HTTPOptions{Backoff: fastBackoff()}})
	const n = 20000 // about 20 MB of records
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
		if i%2000 == 0 {
			waitFor(t, "queue drained", 10*time.Second, func() bool { return f.Stats()[0].QueueRecords == 0 })
		}
	}
	waitFor(t, "queue drained", 10*time.Second, func() bool { return f.Stats()[0].QueueRecords == 0 })
	st := f.Stats()[0]
	if st.SpoolDropped == 0 || st.SpoolBytes > 1<<20 {
		t.Fatalf("full spool: %+v", st)
	}
	srv := serveAt(t, addr, rv)
	defer srv.Close()
	waitFor(t, "spool drained", 30*time.Second, func() bool { return f.Stats()[0].SpoolRecords == 0 })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st = f.Stats()[0]
	seqs := rv.seqs(t)
	if uint64(len(seqs))+st.SpoolDropped != n || st.Sent != uint64(len(seqs)) {
		t.Fatalf("received %d + dropped %d != %d; stats %+v", len(seqs), st.SpoolDropped, n, st)
	}
	// In order, and ending with the newest: what was lost was older. (The
	// batch in flight when the outage began may survive too.)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("out of order: %d after %d", seqs[i], seqs[i-1])
		}
	}
	if seqs[len(seqs)-1] != n-1 || seqs[len(seqs)/2] < n/2 {
		t.Fatalf("the newest records did not survive: %v ... %v", seqs[:3], seqs[len(seqs)-3:])
	}
	t.Logf("spool of 1 MiB: %d delivered, %d dropped and counted", len(seqs), st.SpoolDropped)
}

// TestSlowSinkBlocksNothing: a receiver that never answers must not slow
// Send or the other sinks.
func TestSlowSinkBlocksNothing(t *testing.T) {
	rv := &receiver{t: t, mode: "array", block: make(chan struct{})}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	defer close(rv.block)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	f := newTestForwarder(t,
		Output{Spec: srv.URL + "?timeout=1h", HTTP: HTTPOptions{Backoff: fastBackoff()}},
		Output{Spec: "file:" + path},
		Output{Spec: "stdout", QueueBytes: 64 << 10},
	)
	// Make the stdout sink a pipe nobody reads: its writes block.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	f.sinks[2].local.f = pw

	const n = 50000
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		for i := 0; i < n; i++ {
			f.Send(seqRecord(i))
		}
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		t.Logf("Send of %d records with a hung receiver and a blocked pipe: %v", n, d)
	case <-time.After(60 * time.Second):
		t.Fatal("Send blocked")
	}
	waitFor(t, "file sink to get every record", 20*time.Second, func() bool { return f.Stats()[1].Sent == n })
	st := f.Stats()
	if st[0].Sent != 0 || st[0].SpoolRecords+uint64(st[0].QueueRecords) == 0 {
		t.Errorf("hung receiver: %+v", st[0])
	}
	if st[2].QueueDropped == 0 {
		t.Errorf("blocked stdout dropped nothing: %+v", st[2])
	}
	b, _ := os.ReadFile(path)
	if lines := bytes.Count(b, []byte("\n")); lines != n {
		t.Errorf("file has %d lines, want %d", lines, n)
	}
	pr.Close() // unblocks the stdout writer
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := f.Close(ctx); err == nil {
		t.Error("Close with a hung receiver returned nil; want the abandoned-delivery error")
	}
}

func TestHTTPNotLoopbackRefused(t *testing.T) {
	_, err := New(Config{Outputs: []Output{{Spec: "http://192.0.2.10/in"}}, SpoolDir: t.TempDir(), Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "scheme") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("http to a non-loopback address: %v", err)
	}
}
