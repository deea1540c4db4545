package testutil

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

func TestExitELFRunsAndExitsWithCode(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the tiny ELF is x86-64 only")
	}
	for _, code := range []uint8{0, 3, 42} {
		path := filepath.Join(t.TempDir(), "exit")
		WriteExitELF(t, path, code)
		err := exec.Command(path).Run()
		var ee *exec.ExitError
		switch {
		case code == 0 && err != nil:
			t.Fatalf("exit 0 ELF: %v", err)
		case code != 0 && (!errors.As(err, &ee) || ee.ExitCode() != int(code)):
			t.Fatalf("exit %d ELF: got %v", code, err)
		}
	}
}
