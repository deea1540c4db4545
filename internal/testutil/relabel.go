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
// without an exec, then connects) to dir/name and returns its path and
// sha256. name is compiled in, so each build has a digest of its own. It
// skips where the implant cannot be built: not x86-64, no gcc, or a matrix
// guest.
func BuildRelabel(t testing.TB, dir, name string) (string, string) {
	t.Helper()
	SkipInMatrixGuest(t, "a C compiler")
	if runtime.GOARCH != "amd64" {
		t.Skip("skipping: the relabelling implant is x86-64 code")
	}
	cc := LookTool(t, "gcc", "gcc", "")
	if cc == "" {
		t.Skip("skipping: needs gcc to build the relabelling implant")
	}
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "testdata", "relabel.c")
	bin := filepath.Join(dir, name)
	if out, err := exec.Command(cc, "-O2", `-DSALT="`+name+`"`, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return bin, hex.EncodeToString(sum[:])
}
