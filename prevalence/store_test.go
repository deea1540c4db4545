package prevalence

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	o.Logger = quiet()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestObserveCountsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if s.Rebuilt != "" {
		t.Fatalf("new store rebuilt: %s", s.Rebuilt)
	}
	k := SHA256Key(strings.Repeat("ab", 32))
	r := s.Observe(k, t0, "/tmp/x", "/usr/bin/bash")
	if !r.First || r.Executions != 1 || !r.FirstSeen.Equal(t0) {
		t.Fatalf("first execution: %+v", r)
	}
	r = s.Observe(k, t0.Add(time.Minute), "/tmp/y", "/usr/bin/bash")
	if r.First || r.Executions != 2 || !r.FirstSeen.Equal(t0) {
		t.Fatalf("second execution: %+v", r)
	}
	if _, ok := s.Lookup(SHA256Key("00")); ok {
		t.Error("Lookup found a key never seen")
	}
	s.MarkConnected(k)
	since := s.TrackedSince
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir, Options{})
	if s2.Rebuilt != "" || !s2.TrackedSince.Equal(since) {
		t.Fatalf("reopened: rebuilt %q, tracked since %v (was %v)", s2.Rebuilt, s2.TrackedSince, since)
	}
	got, ok := s2.Lookup(k)
	if !ok || got.Executions != 2 || !got.FirstSeen.Equal(t0) || !got.Connected {
		t.Fatalf("after restart: %+v %v", got, ok)
	}
	r = s2.Observe(k, t0.Add(time.Hour), "/tmp/x", "/usr/bin/sh")
	if r.First || r.Executions != 3 || !r.FirstSeen.Equal(t0) {
		t.Fatalf("third execution, after restart: %+v", r)
	}
	if st := s2.Stats(); st.Entries != 1 || st.Bytes == 0 {
		t.Errorf("stats %+v", st)
	}
}

// Paths and parents are kept per entry, bounded, and persisted.
func TestPathsBounded(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	k := SHA256Key("cd")
	for i := range 20 {
		s.Observe(k, t0, fmt.Sprintf("/tmp/p%d", i), "/bin/sh")
	}
	s.Close()
	s2 := open(t, dir, Options{})
	s2.mu.Lock()
	e := s2.get(k)
	s2.mu.Unlock()
	if e == nil || len(e.paths) != MaxPaths || e.paths[0] != "/tmp/p0" || len(e.parents) != 1 || e.execs != 20 {
		t.Fatalf("entry %+v", e)
	}
}

// 20,000 distinct binaries against a bound of 5,000: the store stays at
// the bound and keeps the most recently seen.
func TestBound(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxEntries: 5000, CacheEntries: 512, FlushInterval: time.Hour})
	for i := range 20000 {
		s.Observe(SHA256Key(fmt.Sprintf("%064x", i)), t0.Add(time.Duration(i)*time.Second), "/tmp/x", "")
		if i%4000 == 3999 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Entries != 5000 || st.Evicted != 15000 {
		t.Fatalf("entries %d evicted %d, want 5000 and 15000", st.Entries, st.Evicted)
	}
	s.Close()
	s2 := open(t, dir, Options{MaxEntries: 5000})
	for _, i := range []int{15000, 17500, 19999} {
		if _, ok := s2.Lookup(SHA256Key(fmt.Sprintf("%064x", i))); !ok {
			t.Errorf("recent binary %d evicted", i)
		}
	}
	for _, i := range []int{0, 7000, 14999} {
		if _, ok := s2.Lookup(SHA256Key(fmt.Sprintf("%064x", i))); ok {
			t.Errorf("old binary %d kept", i)
		}
	}
}

// A damaged file is moved aside and a new store made; the sensor starts.
func TestCorruptRebuilt(t *testing.T) {
	for name, damage := range map[string]func(path string) error{
		"garbage": func(p string) error { return os.WriteFile(p, []byte(strings.Repeat("not a database ", 1000)), 0o600) },
		"truncated": func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, b[:len(b)/2+100], 0o600)
		},
		"scribbled": func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte(strings.Repeat("\xff", 4096)), 4096)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{})
			for i := range 3000 {
				s.Observe(SHA256Key(fmt.Sprintf("%064x", i)), t0, strings.Repeat("/long/path", 20), "")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, FileName)
			os.Remove(path + "-wal")
			if err := damage(path); err != nil {
				t.Fatal(err)
			}
			s2 := open(t, dir, Options{})
			if s2.Rebuilt == "" {
				t.Fatal("damaged store not rebuilt")
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) == 0 {
				t.Error("damaged store not kept aside")
			}
			r := s2.Observe(SHA256Key("ee"), t0, "/tmp/x", "")
			if !r.First || r.Executions != 1 {
				t.Errorf("rebuilt store: %+v", r)
			}
			if err := s2.Close(); err != nil {
				t.Errorf("close rebuilt store: %v", err)
			}
		})
	}
}

// A schema from another version is rebuilt rather than misread.
func TestOtherVersionRebuilt(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if _, err := s.db.Exec(`UPDATE meta SET v = '999' WHERE k = 'version'`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(t, dir, Options{})
	if !strings.Contains(s2.Rebuilt, "schema version") {
		t.Errorf("rebuilt: %q", s2.Rebuilt)
	}
}

// The background flusher writes without Close, and concurrent use is safe.
func TestBackgroundFlushConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{FlushInterval: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := SHA256Key(fmt.Sprintf("%064x", i%50))
				s.Observe(k, t0.Add(time.Duration(g*1000+i)), "/tmp/x", "")
				if i%7 == 0 {
					s.MarkConnected(k)
				}
				s.Lookup(k)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Entries != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("entries %d after background flushes", s.Stats().Entries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var total uint64
	for i := range 50 {
		r, _ := s.Lookup(SHA256Key(fmt.Sprintf("%064x", i)))
		total += r.Executions
	}
	if total != 2000 {
		t.Errorf("executions %d, want 2000", total)
	}
}

func TestFileKey(t *testing.T) {
	if a, b := FileKey(1, 2, 3), FileKey(1, 2, 4); a == b || !strings.HasPrefix(string(a), "file:") {
		t.Errorf("file keys %q %q", a, b)
	}
}

func BenchmarkObserveHit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	k := SHA256Key(strings.Repeat("ab", 32))
	s.Observe(k, t0, "/usr/bin/x", "/bin/sh")
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(k, t0, "/usr/bin/x", "/bin/sh")
	}
}

func BenchmarkObserveMiss(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(SHA256Key(hexKey(i)), t0, "/tmp/x", "/bin/sh")
		i++
	}
}

func hexKey(i int) string { return fmt.Sprintf("%064x", i) }
