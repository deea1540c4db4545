package testutil

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RequireRoot skips t unless the process is root. Under CI=true it fails
// instead of skipping.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root (BPF, tracepoints, mounts) and CI must run it: run the suite as root")
	}
	t.Skip("skipping: needs root to load BPF programs (run the suite as root to include it)")
}

// LookTool returns the path of prog, which a part of t needs. Under
// CI=true, where .ci/run installs it, a missing prog fails t; elsewhere
// LookTool logs what the test leaves out (without) and returns "", and
// the caller leaves that part out.
func LookTool(t testing.TB, prog, aptPackage, without string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (apt-get install %s): CI must have it", prog, aptPackage)
	}
	t.Logf("%s not found (apt-get install %s): %s", prog, aptPackage, without)
	return ""
}

// ExitELF returns a complete static ELF executable for this architecture
// (x86-64 or arm64) that calls exit_group(code) and nothing else: 132
// bytes or less, no libc, no dynamic loader, so an exec of it costs only
// the kernel's work. It returns nil on other architectures.
func ExitELF(code uint8) []byte {
	return exitELF(runtime.GOARCH, code)
}

func exitELF(arch string, code uint8) []byte {
	const (
		base    = 0x400000
		ehsize  = 64
		phsize  = 56
		codeOff = ehsize + phsize
	)
	le := binary.LittleEndian
	var machine uint16
	var code2 []byte
	switch arch {
	case "amd64":
		machine = 0x3e // EM_X86_64
		code2 = []byte{
			0xbf, code, 0, 0, 0, // mov edi, code
			0xb8, 0xe7, 0, 0, 0, // mov eax, 231 (exit_group)
			0x0f, 0x05, // syscall
		}
	case "arm64":
		// movz xD, #imm16 is 0xd2800000 with imm16 in bits 5-20 and D
		// in bits 0-4.
		const movz = 0xd2800000
		machine = 0xb7 // EM_AARCH64
		for _, insn := range []uint32{
			movz | uint32(code)<<5, // mov x0, code
			movz | 94<<5 | 8,       // mov x8, 94 (exit_group)
			0xd4000001,             // svc #0
		} {
			code2 = le.AppendUint32(code2, insn)
		}
	default:
		return nil
	}
	size := codeOff + len(code2)
	b := make([]byte, size)
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], 1) // EV_CURRENT
	le.PutUint64(b[24:], base+codeOff)
	le.PutUint64(b[32:], ehsize) // e_phoff
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1) // e_phnum
	ph := b[ehsize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], uint64(size))
	le.PutUint64(ph[40:], uint64(size))
	le.PutUint64(ph[48:], 0x1000)
	copy(b[codeOff:], code2)
	return b
}

// WriteExitELF writes ExitELF(code) to path with mode 0755. Where there is
// no such ELF for this architecture it copies /bin/true instead, so callers
// get a quick, exiting executable either way.
func WriteExitELF(t testing.TB, path string, code uint8) {
	t.Helper()
	b := ExitELF(code)
	if b == nil {
		var err error
		if b, err = os.ReadFile("/bin/true"); err != nil {
			t.Fatalf("no tiny ELF for %s and no /bin/true: %v", runtime.GOARCH, err)
		}
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// CopySelf copies the running test binary to dir/name with salt appended,
// so each copy has its own sha256, and returns its path and digest: an
// "implant" that is unowned, unsigned and anywhere the test wants it, which
// the test binary's TestMain can make connect or exit at once.
func CopySelf(t testing.TB, dir, name, salt string) (string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, salt...)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// SkipInMatrixGuest skips t inside a kernel matrix guest (a busybox
// initramfs under QEMU, kernelmatrix/init.sh), which has no compiler, no
// tmux and a slow emulated CPU: why says what the test needs. The host
// run of the same suite covers it.
func SkipInMatrixGuest(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("ARGUS_KERNEL_MATRIX_GUEST") == "1" {
		t.Skip("skipping in the kernel matrix guest: " + why)
	}
}
