package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BuildRelabel compiles the relabelling implant (testdata/relabel.c: a
// process that makes the kernel name another file as its executable
// without an exec, then connects from a copy of its code in anonymous
// memory) to dir/name and returns its path and sha256. name is compiled
// in, so each build has a digest of its own. With ARGUS_IMPLANTS set (the
// kernel matrix guests), it copies the build found there instead, whose
// digest is shared. It skips where the implant cannot be had: not x86-64,
// or no gcc.
func BuildRelabel(t testing.TB, dir, name string) (string, string) {
	t.Helper()
	return buildC(t, "relabel.c", dir, name)
}

// BuildInject compiles the injector (testdata/inject.c: it starts a
// program, writes a payload over its text with ptrace and lets the
// payload connect) to dir/name and returns its path and sha256. It skips
// as BuildRelabel does.
func BuildInject(t testing.TB, dir, name string) (string, string) {
	t.Helper()
	return buildC(t, "inject.c", dir, name)
}

func buildC(t testing.TB, src, dir, name string) (string, string) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("skipping: %s is x86-64 code", src)
	}
	bin := filepath.Join(dir, name)
	if d := os.Getenv("ARGUS_IMPLANTS"); d != "" {
		// Built beforehand (the kernel matrix guests have no compiler):
		// a copy of its own, so its inode is this test's.
		b, err := os.ReadFile(filepath.Join(d, strings.TrimSuffix(src, ".c")))
		if err != nil {
			t.Fatalf("prebuilt %s: %v", src, err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		return bin, hex.EncodeToString(sum[:])
	}
	SkipInMatrixGuest(t, "a C compiler")
	cc := LookTool(t, "gcc", "gcc", "")
	if cc == "" {
		t.Skipf("skipping: needs gcc to build %s", src)
	}
	_, self, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(self), "testdata", src)
	if out, err := exec.Command(cc, "-O2", `-DSALT="`+name+`"`, "-o", bin, path).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v: %s", src, err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return bin, hex.EncodeToString(sum[:])
}
