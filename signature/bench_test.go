package signature

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkIndexBuildHost measures the startup cost on this host's real
// package databases (target: well under a second).
func BenchmarkIndexBuildHost(b *testing.B) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		b.Skip("no dpkg database on this host")
	}
	c := &Checker{root: "/", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.ReportAllocs()
	var ix *index
	for b.Loop() {
		ix = c.buildIndex()
	}
	b.ReportMetric(float64(len(ix.files)), "paths")
	b.ReportMetric(float64(ix.packages), "packages")
}

// BenchmarkVerdictCached is the per-exec cost for a binary seen before.
func BenchmarkVerdictCached(b *testing.B) {
	exe, err := filepath.EvalSymlinks("/usr/bin/true")
	if err != nil {
		b.Skip(err)
	}
	c, err := New(Options{TrustedKeyDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	in := inputFor(b, exe, exe)
	c.Verdict(in)
	b.ReportAllocs()
	for b.Loop() {
		c.Verdict(in)
	}
}

// BenchmarkVerdictUncached is the cost of deciding: an owner lookup, a
// stat for the same-file check and a digest comparison.
func BenchmarkVerdictUncached(b *testing.B) {
	exe, err := filepath.EvalSymlinks("/usr/bin/true")
	if err != nil {
		b.Skip(err)
	}
	c, err := New(Options{TrustedKeyDir: b.TempDir(), CacheSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	in := inputFor(b, exe, exe)
	b.ReportAllocs()
	for b.Loop() {
		c.cache.Purge()
		c.Verdict(in)
	}
}
