package forward

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward/format"
	"github.com/argus-sensor/argus-sensor/forward/spool"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

// sendPaced sends n records the way the pipeline does: as fast as it
// can, yielding when a queue is half full (the real pipeline waits on the
// kernel ring instead). It returns the records dropped.
func sendPaced(f *Forwarder, n int, r *event.Record) {
	for i := 0; i < n; i++ {
		f.Send(r)
		if i%512 == 511 {
			for _, s := range f.sinks {
				for {
					_, qb := s.q.Depth()
					if qb < DefaultQueueBytes/2 {
						break
					}
					runtime.Gosched()
				}
			}
		}
	}
}

// BenchmarkFileSink measures records per second from Send to the file,
// including encoding, the queue hand-off and the write. Run with -cpu 1
// for the one-core figure.
func BenchmarkFileSink(b *testing.B) {
	for _, fm := range []format.Format{format.FormatNative, format.FormatUDM} {
		b.Run(string(fm), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "events.jsonl")
			f, err := New(Config{Outputs: []Output{{Spec: "file:" + path, Format: fm, File: FileOptions{MaxBytes: 256 << 20}}},
				Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			r := recordtest.Launch(0, true)
			b.ReportAllocs()
			start := time.Now()
			sendPaced(f, b.N, r)
			if err := f.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			st := f.Stats()[0]
			if st.Sent != uint64(b.N) {
				b.Fatalf("wrote %d of %d (dropped %d)", st.Sent, b.N, st.Dropped())
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
		})
	}
}

// BenchmarkSpool measures the spool's write, read and acknowledge cycle
// per record, as a network sink drives it.
func BenchmarkSpool(b *testing.B) {
	s, err := spool.Open(b.TempDir(), spool.Options{MaxBytes: 1 << 30, SyncInterval: time.Second}, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msg := format.FormatUDM.Append(nil, recordtest.Launch(0, true))
	const per = 256
	q := newMemQueue(64 << 20)
	for i := 0; i < per; i++ {
		q.Put(msg)
	}
	batch, _, _ := q.Take(nil)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	start := time.Now()
	sync := time.Now()
	for done := 0; done < b.N; done += per {
		if err := s.Append(batch, per); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < per; {
			recs, end, err := s.Peek(1000, 1<<20)
			if err != nil || len(recs) == 0 {
				b.Fatalf("peek: %d %v", len(recs), err)
			}
			got += len(recs)
			s.Ack(end)
		}
		if time.Since(sync) > time.Second {
			s.Sync() // the spooler's interval fsync
			sync = time.Now()
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkHTTPSink measures records per second through the spool to a
// loopback HTTP receiver, gzip on.
func BenchmarkHTTPSink(b *testing.B) {
	rv := &receiver{t: b, mode: "array", discard: true}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	f, err := New(Config{Outputs: []Output{{Spec: srv.URL}}, SpoolDir: b.TempDir(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	r := seqRecord(0)
	start := time.Now()
	sendPaced(f, b.N, r)
	if err := f.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := f.Stats()[0]; st.Sent != uint64(b.N) {
		b.Fatalf("sent %d of %d", st.Sent, b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
