package hasher

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const bigSize = 256 << 20

// bigFile writes size pseudo-random bytes to a temp file, which leaves them
// in the page cache, and returns its path and content.
func bigFile(b *testing.B, size int) (string, []byte) {
	b.Helper()
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(data)
	path := filepath.Join(b.TempDir(), "big")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path, data
}

// inMemoryRate is crypto/sha256's best rate over data, in bytes/s: the
// ceiling for hashing a file.
func inMemoryRate(data []byte) float64 {
	best := time.Duration(1 << 62)
	for range 3 {
		t := time.Now()
		sha256.Sum256(data)
		best = min(best, time.Since(t))
	}
	return float64(len(data)) / best.Seconds()
}

// BenchmarkColdHash hashes a page-cached 256 MiB file with no hash cache,
// and reports its rate as a fraction of crypto/sha256 over the same bytes
// in memory (x_inmem).
func BenchmarkColdHash(b *testing.B) {
	path, data := bigFile(b, bigSize)
	want := sha256Hex(data)
	mem := inMemoryRate(data)
	for _, withMD5 := range []bool{false, true} {
		name := "sha256"
		if withMD5 {
			name = "sha256+md5"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(bigSize)
			b.ReportAllocs()
			for b.Loop() {
				res, _, err := HashFile(path, bigSize, withMD5)
				if err != nil || res.SHA256 != want {
					b.Fatalf("%+v %v", res, err)
				}
			}
			rate := float64(b.N) * bigSize / b.Elapsed().Seconds()
			b.ReportMetric(rate/mem, "x_inmem")
		})
	}
}

// BenchmarkInMemorySHA256 is crypto/sha256 over a buffer, for reference.
func BenchmarkInMemorySHA256(b *testing.B) {
	data := make([]byte, bigSize)
	rand.NewChaCha8([32]byte{1}).Read(data)
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(bigSize)
		for b.Loop() {
			sha256.Sum256(data)
		}
	})
	b.Run("md5", func(b *testing.B) {
		b.SetBytes(bigSize)
		for b.Loop() {
			md5.Sum(data)
		}
	})
}

// BenchmarkOpenSSL runs `openssl dgst -sha256` on the same file, process
// start included, for comparison with BenchmarkColdHash.
func BenchmarkOpenSSL(b *testing.B) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		b.Skip("no openssl")
	}
	path, data := bigFile(b, bigSize)
	want := []byte(sha256Hex(data))
	mem := inMemoryRate(data)
	b.SetBytes(bigSize)
	for b.Loop() {
		out, err := exec.Command(openssl, "dgst", "-sha256", "-r", path).Output()
		if err != nil || !bytes.HasPrefix(out, want) {
			b.Fatalf("openssl: %q, %v", out, err)
		}
	}
	rate := float64(b.N) * bigSize / b.Elapsed().Seconds()
	b.ReportMetric(rate/mem, "x_inmem")
}

// BenchmarkSmallFile is the cost of one cold hash of typical binaries
// through the Hasher: a two-entry workload on a one-entry cache, so every
// request misses and goes through a worker.
func BenchmarkSmallFile(b *testing.B) {
	for _, src := range []string{"/bin/true", "/bin/bash"} {
		b.Run(filepath.Base(src), func(b *testing.B) {
			p1, c1 := tempExe(b, src)
			p2 := filepath.Join(b.TempDir(), "copy")
			copyFile(b, src, p2)
			reqs := []Request{{Path: p1, ID: statID(b, p1)}, {Path: p2, ID: statID(b, p2)}}
			h := newTestHasher(b, Options{CacheSize: 1})
			want := sha256Hex(c1)
			b.SetBytes(int64(len(c1)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				res, _ := h.Submit(reqs[i%2]).WaitFor(time.Minute)
				if res.SHA256 != want {
					b.Fatalf("%+v", res)
				}
				i++
			}
			if s := h.Stats(); s.Hits != 0 {
				b.Fatalf("stats %+v: expected misses only", s)
			}
		})
	}
}

// BenchmarkCacheHit is what an exec of an already hashed binary costs the
// pipeline: Submit, the identity lookup, and collecting the result.
func BenchmarkCacheHit(b *testing.B) {
	path, content := tempExe(b, "/bin/true")
	req := Request{PID: 4_000_000, StartNs: 1, Path: path, ID: statID(b, path)}
	h := newTestHasher(b, Options{})
	hashReq(b, h, req)
	want := sha256Hex(content)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, ok := h.Submit(req).WaitFor(DefaultWait)
			if !ok || res.SHA256 != want {
				b.Fatalf("%+v", res)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if res, _ := h.Submit(req).WaitFor(DefaultWait); res.SHA256 != want {
					b.Errorf("%+v", res)
					return
				}
			}
		})
	})
}

// BenchmarkExecStorm feeds 10,000 exec requests for one binary, each from
// another pid, to a fresh Hasher, and reports the share answered from the
// cache. "wait" waits for each result as the pipeline does; "burst" submits
// them all first, so early ones share the hash in flight instead.
func BenchmarkExecStorm(b *testing.B) {
	const n = 10_000
	path, content := tempExe(b, "/bin/true")
	id := statID(b, path)
	want := sha256Hex(content)
	for _, wait := range []bool{true, false} {
		name := "burst"
		if wait {
			name = "wait"
		}
		b.Run(name, func(b *testing.B) {
			var last Stats
			futures := make([]*Future, n)
			for b.Loop() {
				h, err := New(Options{Logger: testLogger})
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					// Dead pids: the path is read, as for most short-lived
					// processes.
					f := h.Submit(Request{PID: uint32(4_000_000 + i), StartNs: 1, Path: path, ID: id})
					if wait {
						f.WaitFor(DefaultWait)
					}
					futures[i] = f
				}
				for _, f := range futures {
					if res, _ := f.WaitFor(time.Minute); res.SHA256 != want {
						b.Fatalf("%+v", res)
					}
				}
				last = h.Stats()
				h.Close()
			}
			b.ReportMetric(last.HitRatio(), "hit_ratio")
			b.ReportMetric(float64(last.FilesHashed), "files_read")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/request")
		})
	}
}
