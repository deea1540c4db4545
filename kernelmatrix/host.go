package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// hostRun is how the host column runs.
type hostRun struct {
	binDir, repo, logPath string
	storm                 float64
	timeout               time.Duration
	run                   string // go test -run pattern, "" for all
	verbose               io.Writer
}

// runHost runs the full mode's steps natively on the host kernel, with the
// binaries the guests run, each test binary in its package directory, and
// writes the same marked transcript a guest would. Unlike a guest it runs
// TestInspect: the host has the dpkg database that test reads.
func runHost(ctx context.Context, h hostRun) (string, error) {
	logf, err := os.Create(h.logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	var log strings.Builder
	w := io.Writer(io.MultiWriter(logf, &log))
	if h.verbose != nil {
		w = io.MultiWriter(w, &prefixWriter{w: h.verbose, p: "[host] "})
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	fmt.Fprintf(w, "%skernel %s mode=full\n", marker, unix.ByteSliceToString(uts.Release[:]))

	testArgs := []string{"-test.v", "-test.count=1", "-test.timeout=" + h.timeout.String()}
	if h.run != "" {
		testArgs = append(testArgs, "-test.run="+h.run)
	}
	steps := []struct {
		name string
		env  []string
		args []string
	}{
		{"check", nil, []string{"argus-sensor", "check"}},
		{"sensor-tests", []string{fmt.Sprintf("ARGUS_STORM_SCALE=%g", h.storm)}, append([]string{"sensor.test"}, testArgs...)},
		{"cmd-tests", nil, append([]string{"cmd.test"}, testArgs...)},
	}
	for _, s := range steps {
		fmt.Fprintf(w, "%sbegin %s\n", marker, s.name)
		start := time.Now()
		cmd := exec.CommandContext(ctx, filepath.Join(h.binDir, s.args[0]), s.args[1:]...)
		cmd.Dir = filepath.Join(h.repo, testDirs[s.args[0]]) // the repository root for argus-sensor
		cmd.Env = append(append(os.Environ(), "CI=true"), s.env...)
		cmd.Stdout, cmd.Stderr = w, w
		rc := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				return log.String(), fmt.Errorf("run %s: %w", s.args[0], err)
			}
			rc = ee.ExitCode()
		}
		fmt.Fprintf(w, "%send %s rc=%d secs=%.2f\n", marker, s.name, rc, time.Since(start).Seconds())
	}
	fmt.Fprintf(w, "%sdone\n", marker)
	return log.String(), nil
}

// prefixWriter starts every line written through it with p.
type prefixWriter struct {
	w       io.Writer
	p       string
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	var out strings.Builder
	for _, c := range string(b) {
		if !pw.midLine {
			out.WriteString(pw.p)
		}
		out.WriteRune(c)
		pw.midLine = c != '\n'
	}
	if _, err := io.WriteString(pw.w, out.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
