package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// BuildRelabel compiles the relabelling implant (testdata/relabel.c: a
// process that makes the kernel name another file as its executable
// without an exec, then connects from a copy of its code in anonymous
// memory) to dir/name and returns its path and sha256. name is compiled
// in, so each build has a digest of its own. It skips where the implant
// cannot be built: not x86-64, no gcc, or a matrix guest.
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
	SkipInMatrixGuest(t, "a C compiler")
	if runtime.GOARCH != "amd64" {
		t.Skipf("skipping: %s is x86-64 code", src)
	}
	cc := LookTool(t, "gcc", "gcc", "")
	if cc == "" {
		t.Skipf("skipping: needs gcc to build %s", src)
	}
	_, self, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(self), "testdata", src)
	bin := filepath.Join(dir, name)
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
