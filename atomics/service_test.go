package atomics

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// The runner against an installed sensor (-atomics.service UNIT
// -atomics.output PATH): the package's systemd service, with its own
// configuration, is the sensor; the runner starts none. It reads the
// file output the service is configured with, from where the file ends
// when the run starts, and at the end stops the service as an operator
// would (systemctl stop), so the sensor drains and writes its stopped
// record, reads the rest, and starts the service again.

// attachService checks the service is running and follows its output.
func (e *env) attachService(t *testing.T, path string) {
	if path == "" {
		t.Fatal("-atomics.service needs -atomics.output: the service's configured file output")
	}
	if err := exec.Command("systemctl", "is-active", "--quiet", e.unit).Run(); err != nil {
		t.Fatalf("service %s is not active: %v\n%s", e.unit, err, e.journal())
	}
	e.version = e.serviceVersion()
	e.out = newOutput(path)
	t.Cleanup(e.out.close)
	if err := e.out.skipToEnd(); err != nil {
		t.Fatal(err)
	}

	// A process of the runner's own, to see that the service writes to
	// this file at all before any atomic is judged on it.
	probe := exec.Command("/bin/sh", "-c", "exit 0")
	if err := probe.Run(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	pid := uint32(probe.Process.Pid)
	deadline := time.Now().Add(sensorTimeout)
	for {
		if err := e.out.poll(); err != nil {
			t.Fatal(err)
		}
		if e.out.launched(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s wrote no process_launch of the runner's probe (pid %d) to %s within %v: is that its configured file output?\n%s",
				e.unit, pid, path, sensorTimeout, e.journal())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serviceVersion is what the service's binary says it is, and where it is.
func (e *env) serviceVersion() string {
	out, err := exec.Command("systemctl", "show", "--value", "--property=MainPID", e.unit).Output()
	if err != nil {
		return ""
	}
	exe, err := os.Readlink("/proc/" + strings.TrimSpace(string(out)) + "/exe")
	if err != nil {
		return ""
	}
	v := "argus-sensor"
	if out, err := exec.Command(exe, "version").Output(); err == nil {
		v = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s (%s, the %s service)", v, exe, e.unit)
}

// stopService stops the service, reads the rest of its output, and
// starts it again.
func (e *env) stopService(t *testing.T) {
	if out, err := exec.Command("systemctl", "stop", e.unit).CombinedOutput(); err != nil {
		t.Errorf("systemctl stop %s: %v\n%s", e.unit, err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := e.out.poll(); err != nil {
			t.Error(err)
		}
		if e.out.stopped() != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.out.flushPart()
	if e.out.bad > 0 {
		t.Errorf("%d output lines did not decode; first: %s", e.out.bad, e.out.firstBad)
	}
	if e.out.stopped() == nil {
		t.Errorf("no sensor_health stopped record in the output after systemctl stop %s\n%s", e.unit, e.journal())
	}
	if out, err := exec.Command("systemctl", "start", e.unit).CombinedOutput(); err != nil {
		t.Errorf("systemctl start %s: %v\n%s", e.unit, err, out)
	}
}

// journal is the end of the service's journal, for failure messages.
func (e *env) journal() string {
	out, err := exec.Command("journalctl", "--unit", e.unit, "--lines", "40", "--no-pager").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("journalctl: %v\n%s", err, out)
	}
	return string(out)
}

// skipToEnd starts reading the output where it ends now: what the
// service wrote before the run is not part of it.
func (o *output) skipToEnd() error {
	f, ino, err := openIno(o.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return fmt.Errorf("seek %s: %w", o.path, err)
	}
	// Mid-line (the service was writing): drop the rest of that line.
	if end > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, end-1); err != nil {
			f.Close()
			return fmt.Errorf("read %s: %w", o.path, err)
		}
		o.midLine = last[0] != '\n'
	}
	o.f, o.ino = f, ino
	return nil
}

// launched reports whether a process_launch of pid was read.
func (o *output) launched(pid uint32) bool {
	for _, r := range o.records {
		if r.Kind == event.KindProcessLaunch && r.Process != nil && r.Process.PID == pid {
			return true
		}
	}
	return false
}
