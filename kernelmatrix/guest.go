package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// scenario is one row of the matrix.
type scenario struct {
	Name   string   // row name
	Series string   // kernel series to boot; "" for the host kernel
	Arch   string   // architecture of the kernel and every binary (GOARCH)
	Mode   string   // "full" or "refuse", see init.sh
	Append []string // extra kernel command line
	Expect string   // for "refuse": the reason check and run must give
}

// scenarios returns the rows for the chosen series, in order.
func scenarios(chosen []series, refusals bool) []scenario {
	var out []scenario
	have := map[string]bool{}
	for _, s := range chosen {
		out = append(out, scenario{Name: s.Name, Series: s.Name, Arch: s.Arch, Mode: "full"})
		have[s.Name] = true
	}
	if !refusals {
		return out
	}
	// A kernel without BTF (CONFIG_DEBUG_INFO_BTF unset, as in many 5.x
	// vendor kernels) is simulated by hiding /sys/kernel/btf; the sensor
	// finds no BTF anywhere else in the initramfs. Lockdown in
	// confidentiality mode removes the kernel-memory read helpers.
	if have["5.10"] {
		out = append(out, scenario{Name: "5.10 no BTF", Series: "5.10", Arch: "amd64", Mode: "refuse",
			Append: []string{"argus.hidebtf=1"}, Expect: "no kernel BTF"})
	}
	if have["6.12"] {
		out = append(out, scenario{Name: "6.12 lockdown", Series: "6.12", Arch: "amd64", Mode: "refuse",
			Append: []string{"lockdown=confidentiality"}, Expect: "kernel lockdown is in confidentiality mode"})
	}
	return out
}

// guestArch is how guests of one architecture boot.
type guestArch struct {
	qemu    string   // default QEMU system emulator
	qemuPkg string   // the Debian package that has it
	machine []string // QEMU arguments choosing the board and CPU
	console string   // the serial console's device name in the guest
	storm   float64  // default ARGUS_STORM_SCALE in these guests
	// patience multiplies the tests' waits (ARGUS_TEST_PATIENCE) and the
	// guest's -timeout: how much slower than an x86-64 guest this runs.
	patience float64
}

// guestArches are the architectures the matrix boots. x86-64 guests take
// QEMU's default PC board and its 16550 UART (ttyS0). arm64 guests take
// the virt board, whose UART is a PL011 (ttyAMA0), and a Neoverse N1, the
// core of AWS Graviton2 and Ampere Altra (ARMv8.2 with LSE atomics, no
// pointer authentication, whose emulation would slow TCG down for nothing
// the sensor uses). arm64 under TCG on an x86 host runs the suite several
// times slower than an x86-64 guest (docs/kernels.md has the numbers), so
// its storms are smaller and its waits and time limit longer.
var guestArches = map[string]guestArch{
	"amd64": {qemu: "qemu-system-x86_64", qemuPkg: "qemu-system-x86", console: "ttyS0", storm: 0.25, patience: 2},
	"arm64": {qemu: "qemu-system-aarch64", qemuPkg: "qemu-system-arm", machine: []string{"-M", "virt", "-cpu", "neoverse-n1"}, console: "ttyAMA0", storm: 0.05, patience: 3},
}

// vmConfig is how guests are booted.
type vmConfig struct {
	qemu    map[string]string  // QEMU binary per architecture
	storm   map[string]float64 // ARGUS_STORM_SCALE per architecture
	accel   string             // QEMU -accel value
	memMB   int
	cpus    int
	timeout time.Duration // whole boot, including the tests, of an x86-64 guest
	verbose io.Writer     // if set, consoles are copied here as they run
	run     string        // go test -run pattern ("" for every test)
	append  []string      // extra kernel command line for every guest
}

// guestTimeout is the limit for one guest of sc's architecture.
func (c vmConfig) guestTimeout(sc scenario) time.Duration {
	return time.Duration(float64(c.timeout) * guestArches[sc.Arch].patience)
}

// qemuArgs is the QEMU command line for booting kernel with initrd.
func (c vmConfig) qemuArgs(sc scenario, kernel, initrd string) []string {
	// Let go test time out (and print its goroutines) before QEMU is killed.
	timeout := c.guestTimeout(sc)
	testTimeout := max(timeout-timeout/5, time.Minute)
	ga := guestArches[sc.Arch]
	cmdline := append([]string{
		"console=" + ga.console, "quiet", "panic=-1",
		"argus.mode=" + sc.Mode,
		fmt.Sprintf("argus.storm=%g", c.storm[sc.Arch]),
		fmt.Sprintf("argus.patience=%g", ga.patience),
		"argus.timeout=" + testTimeout.String(),
	}, sc.Append...)
	if c.run != "" {
		cmdline = append(cmdline, "argus.run="+c.run)
	}
	cmdline = append(cmdline, c.append...)
	return append(slices.Clone(ga.machine),
		"-accel", c.accel,
		"-m", fmt.Sprint(c.memMB),
		"-smp", fmt.Sprint(c.cpus),
		"-nographic", "-monitor", "none",
		"-nic", "none", // no network device: nothing leaves the machine
		"-no-reboot", // with panic=-1, a kernel panic ends QEMU
		"-kernel", kernel,
		"-initrd", initrd,
		"-append", strings.Join(cmdline, " "),
	)
}

// boot runs one guest to completion and returns its console log, also
// written to logPath.
func (c vmConfig) boot(ctx context.Context, sc scenario, kernel, initrd, logPath string) (string, error) {
	timeout := c.guestTimeout(sc)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	var console strings.Builder
	// QEMU's stdout is read here, its stderr by exec's own goroutine.
	w := &lockedWriter{w: io.MultiWriter(logf, &console)}
	qemu := c.qemu[sc.Arch]
	cmd := exec.CommandContext(ctx, qemu, c.qemuArgs(sc, kernel, initrd)...)
	cmd.Stderr = w
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", qemu, err)
	}
	r := bufio.NewReader(out)
	for {
		line, rerr := r.ReadString('\n')
		w.Write([]byte(line))
		if c.verbose != nil && line != "" {
			fmt.Fprintf(c.verbose, "[%s] %s", sc.Name, cleanLog([]byte(line)))
		}
		if rerr != nil {
			break
		}
	}
	err = cmd.Wait()
	log := console.String()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return log, fmt.Errorf("killed after %v", timeout)
	}
	if err != nil {
		return log, fmt.Errorf("qemu: %w", err)
	}
	return log, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
