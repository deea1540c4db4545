package testutil

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The kernel matrix runs this package's ELF for the other architecture
// in its guests (TestExecExitCode, TestExecMemfd); here each is checked
// against what debug/elf reads, and this architecture's is run.
func TestExitELFRunsAndExitsWithCode(t *testing.T) {
	if ExitELF(0) == nil {
		t.Skipf("no tiny ELF for %s", runtime.GOARCH)
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

func TestExitELFHeaders(t *testing.T) {
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		b := exitELF(arch, 42)
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if f.Machine != machine || f.Type != elf.ET_EXEC || f.Class != elf.ELFCLASS64 {
			t.Errorf("%s: machine %v type %v class %v", arch, f.Machine, f.Type, f.Class)
		}
		if len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_LOAD || f.Progs[0].Filesz != uint64(len(b)) {
			t.Fatalf("%s: want one PT_LOAD of the whole file, got %+v", arch, f.Progs)
		}
		if f.Entry < f.Progs[0].Vaddr || f.Entry >= f.Progs[0].Vaddr+f.Progs[0].Memsz {
			t.Errorf("%s: entry %#x outside the loaded segment", arch, f.Entry)
		}
	}
	// arm64: mov x0, #42; mov x8, #94; svc #0.
	insns := exitELF("arm64", 42)[120:]
	for i, want := range []uint32{0xd2800540, 0xd2800bc8, 0xd4000001} {
		if got := binary.LittleEndian.Uint32(insns[4*i:]); got != want {
			t.Errorf("arm64 instruction %d = %#08x, want %#08x", i, got, want)
		}
	}
	if exitELF("mips", 0) != nil {
		t.Error("an ELF for an architecture without one")
	}
}

func TestPatience(t *testing.T) {
	t.Setenv("ARGUS_TEST_PATIENCE", "")
	if got := Patience(t, 10*time.Second); got != 10*time.Second {
		t.Errorf("unset: %v, want 10s", got)
	}
	t.Setenv("ARGUS_TEST_PATIENCE", "4")
	if got := Patience(t, 10*time.Second); got != 40*time.Second {
		t.Errorf("4: %v, want 40s", got)
	}
	t.Setenv("ARGUS_TEST_PATIENCE", "2.5")
	if got := Patience(t, 2*time.Second); got != 5*time.Second {
		t.Errorf("2.5: %v, want 5s", got)
	}
}
