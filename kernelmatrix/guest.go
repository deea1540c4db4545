package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// scenario is one row of the matrix.
type scenario struct {
	Name   string   // row name
	Series string   // kernel series to boot; "" for the host kernel
	Mode   string   // "full" or "refuse", see init.sh
	Append []string // extra kernel command line
	Expect string   // for "refuse": the reason check and run must give
}

// scenarios returns the rows for the chosen series, in order.
func scenarios(chosen []series, refusals bool) []scenario {
	var out []scenario
	have := map[string]bool{}
	for _, s := range chosen {
		out = append(out, scenario{Name: s.Name, Series: s.Name, Mode: "full"})
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
		out = append(out, scenario{Name: "5.10 no BTF", Series: "5.10", Mode: "refuse",
			Append: []string{"argus.hidebtf=1"}, Expect: "no kernel BTF"})
	}
	if have["6.12"] {
		out = append(out, scenario{Name: "6.12 lockdown", Series: "6.12", Mode: "refuse",
			Append: []string{"lockdown=confidentiality"}, Expect: "kernel lockdown is in confidentiality mode"})
	}
	return out
}

// vmConfig is how guests are booted.
type vmConfig struct {
	qemu    string
	accel   string // QEMU -accel value
	memMB   int
	cpus    int
	storm   float64
	timeout time.Duration // whole boot, including the tests
	verbose io.Writer     // if set, consoles are copied here as they run
	run     string        // go test -run pattern ("" for every test)
	append  []string      // extra kernel command line for every guest
}

// qemuArgs is the QEMU command line for booting kernel with initrd.
func (c vmConfig) qemuArgs(sc scenario, kernel, initrd string) []string {
	// Let go test time out (and print its goroutines) before QEMU is killed.
	testTimeout := max(c.timeout-c.timeout/5, time.Minute)
	cmdline := append([]string{
		"console=ttyS0", "quiet", "panic=-1",
		"argus.mode=" + sc.Mode,
		fmt.Sprintf("argus.storm=%g", c.storm),
		"argus.timeout=" + testTimeout.String(),
	}, sc.Append...)
	if c.run != "" {
		cmdline = append(cmdline, "argus.run="+c.run)
	}
	cmdline = append(cmdline, c.append...)
	return []string{
		"-accel", c.accel,
		"-m", fmt.Sprint(c.memMB),
		"-smp", fmt.Sprint(c.cpus),
		"-nographic", "-monitor", "none",
		"-nic", "none", // no network device: nothing leaves the machine
		"-no-reboot", // with panic=-1, a kernel panic ends QEMU
		"-kernel", kernel,
		"-initrd", initrd,
		"-append", strings.Join(cmdline, " "),
	}
}

// boot runs one guest to completion and returns its console log, also
// written to logPath.
func (c vmConfig) boot(ctx context.Context, sc scenario, kernel, initrd, logPath string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	var console strings.Builder
	// QEMU's stdout is read here, its stderr by exec's own goroutine.
	w := &lockedWriter{w: io.MultiWriter(logf, &console)}
	cmd := exec.CommandContext(ctx, c.qemu, c.qemuArgs(sc, kernel, initrd)...)
	cmd.Stderr = w
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", c.qemu, err)
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
		return log, fmt.Errorf("killed after %v", c.timeout)
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
