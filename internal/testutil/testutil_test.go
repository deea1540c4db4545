package testutil

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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

func TestNetPairIsolated(t *testing.T) {
	n := NewNetPair(t)
	n.Listen(t, ServerV4+":4444")
	n.Listen(t, "["+ServerV6+"]:4444")
	// From the client namespace the server answers, over IPv4 and IPv6...
	for _, dst := range []string{ServerV4, ServerV6} {
		if out, err := n.Command("bash", "-c", "exec 3<>/dev/tcp/"+dst+"/4444").CombinedOutput(); err != nil {
			t.Fatalf("connect to %s from the client namespace: %v %s", dst, err, out)
		}
	}
	// ...and nothing else is reachable: no default route.
	out, err := n.Command("bash", "-c", "exec 3<>/dev/tcp/198.51.100.1/80").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unreachable") {
		t.Fatalf("connect outside the pair: %v %s", err, out)
	}
}
