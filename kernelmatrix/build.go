package main

import (
	"context"
	"debug/elf"
	_ "embed"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

//go:embed init.sh
var initScript []byte

// binary is one program the guest and the host column run.
type binary struct {
	name string   // file name in /bin
	args []string // go command line that builds it, after "go"
}

// Package directories the test binaries run in, as go test runs them, so
// tests that read files relative to their package find them (init.sh uses
// the same paths under /src).
var testDirs = map[string]string{
	"sensor.test": "sensor",
	"cmd.test":    "cmd/argus-sensor",
}

// binaries are built from the repository at repo into dir.
func binaries(dir string) []binary {
	// -s -w: symbol tables and DWARF only cost archive size and boot time;
	// panics still print function names and lines.
	return []binary{
		{"argus-sensor", []string{"build", "-ldflags=-s -w", "-o", filepath.Join(dir, "argus-sensor"), "./cmd/argus-sensor"}},
		{"sensor.test", []string{"test", "-c", "-ldflags=-s -w", "-o", filepath.Join(dir, "sensor.test"), "./sensor"}},
		{"cmd.test", []string{"test", "-c", "-ldflags=-s -w", "-o", filepath.Join(dir, "cmd.test"), "./cmd/argus-sensor"}},
	}
}

// implants are the C test programs of the sensor's tests: the socket
// address hooks' escape (sensor/testdata/escape.c), the relabelling
// implant and the injector (internal/testutil/testdata), built statically
// on the host because the guests have no compiler; the guest finds them
// through ARGUS_IMPLANTS=/implants. Each is the source, under the
// repository, and the gcc command line after "gcc", with SRC and OUT for
// the source and the output.
var implants = []struct {
	name, src string
	args      []string
}{
	{"escape64", "sensor/testdata/escape.c", []string{"-O2", "-static", "-DHAVE_LIBURING", "-o", "OUT", "SRC", "-luring"}},
	{"escape32", "sensor/testdata/escape.c", []string{"-O2", "-m32", "-static", "-o", "OUT", "SRC"}},
	{"relabel", "internal/testutil/testdata/relabel.c", []string{"-O2", "-static", "-o", "OUT", "SRC"}},
	{"inject", "internal/testutil/testdata/inject.c", []string{"-O2", "-static", "-o", "OUT", "SRC"}},
}

// buildImplants compiles the implants into dir/implants.
func buildImplants(ctx context.Context, repo, dir string) error {
	out := filepath.Join(dir, "implants")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, im := range implants {
		args := make([]string, len(im.args))
		for i, a := range im.args {
			switch a {
			case "SRC":
				a = filepath.Join(repo, im.src)
			case "OUT":
				a = filepath.Join(out, im.name)
			}
			args[i] = a
		}
		if b, err := exec.CommandContext(ctx, "gcc", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("gcc %s (needs gcc, gcc-multilib and liburing-dev): %w\n%s", strings.Join(args, " "), err, b)
		}
	}
	return nil
}

// build compiles every binary statically for arch (a GOARCH) into dir,
// and for amd64 the implants. Go cross-compiles, and the BPF objects of
// both architectures are committed, so no other toolchain is needed for
// the Go binaries.
func build(ctx context.Context, log *slog.Logger, goTool, repo, dir, arch string) error {
	if arch == "amd64" {
		if err := buildImplants(ctx, repo, dir); err != nil {
			return err
		}
	}
	for _, b := range binaries(dir) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, goTool, b.args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(b.args, " "), err, out)
		}
		path := filepath.Join(dir, b.name)
		if err := requireStatic(path); err != nil {
			return err
		}
		if err := requireArch(path, arch); err != nil {
			return err
		}
		log.Info("built", "binary", b.name, "arch", arch, "duration", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// requireStatic fails if path needs a dynamic loader, which the initramfs
// does not have.
func requireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the initramfs has no loader", path)
		}
	}
	return nil
}

// elfMachines are the ELF machines of the architectures the matrix boots.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// requireArch fails if path is not an executable for arch: a busybox or
// binary of the wrong architecture would only show as a guest that never
// starts its /init.
func requireArch(path, arch string) error {
	want, ok := elfMachines[arch]
	if !ok {
		return fmt.Errorf("no ELF machine known for architecture %q", arch)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for %v, want %v (%s)", path, f.Machine, want, arch)
	}
	return nil
}

// writeInitramfs packs busybox, /init, the binaries in binDir and the
// source tree of repo (at /src) into a newc cpio archive at out, for a
// guest of architecture arch.
func writeInitramfs(out, arch, busybox, binDir, repo string) error {
	if err := requireStatic(busybox); err != nil {
		return err
	}
	if err := requireArch(busybox, arch); err != nil {
		return err
	}
	a := newInitramfs()
	for _, d := range []string{"proc", "sys", "dev", "root", "run", "etc"} {
		a.Dir(d, 0o755)
	}
	a.Dir("tmp", 0o1777)
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	a.CharDev("dev/console", 0o600, 5, 1)
	a.CharDev("dev/null", 0o666, 1, 3)
	a.File("init", 0o755, initScript)
	a.CopyFile("bin/busybox", 0o755, busybox)
	for _, b := range binaries(binDir) {
		a.CopyFile("bin/"+b.name, 0o755, filepath.Join(binDir, b.name))
	}
	a.Dir("implants", 0o755)
	if arch == "amd64" { // x86-64 programs, with a 32-bit build: not for arm64 guests
		for _, im := range implants {
			a.CopyFile("implants/"+im.name, 0o755, filepath.Join(binDir, "implants", im.name))
		}
	}
	if err := addSourceTree(a, repo); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := a.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("write initramfs: %w", err)
	}
	return f.Close()
}

// Larger files in the tree are build outputs or data no test reads.
const maxSourceFile = 2 << 20

// addSourceTree adds the files of repo under /src: everything but .git,
// build output directories and files over maxSourceFile.
func addSourceTree(a *initramfs, repo string) error {
	return filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repo, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "dist":
				return filepath.SkipDir
			}
			if rel != "." {
				a.Dir("src/"+rel, 0o755)
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxSourceFile {
			return nil
		}
		a.CopyFile("src/"+rel, uint32(info.Mode().Perm()), path)
		return nil
	})
}
