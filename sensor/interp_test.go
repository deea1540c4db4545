package sensor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInterpreterWakeup: an exec of a file in the interpreter map takes
// the urgent path (a forced wakeup and urgent_execs bumped) when argv[1]
// may name a script, and not for `sh -c` (inline code, which comes in
// storms) or no argument at all. The interpreter is a private copy of the
// shell, so only this test's execs are in the map.
func TestInterpreterWakeup(t *testing.T) {
	s, h := startSensor(t)
	if s.exec.UrgentExecs == nil {
		t.Fatal("no urgent_execs variable in the exec object")
	}
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	interp := filepath.Join(dir, "sh")
	if err := os.WriteFile(interp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "payload.sh")
	if err := os.WriteFile(script, []byte("exit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(interp, &st); err != nil {
		t.Fatal(err)
	}
	if err := s.AddInterpreter(File{Dev: st.Dev, Ino: st.Ino}); err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		var n uint64
		if err := s.exec.UrgentExecs.Get(&n); err != nil {
			t.Fatalf("read urgent_execs: %v", err)
		}
		return n
	}
	for _, c := range []struct {
		args   []string
		urgent bool
	}{
		{[]string{"-c", "exit 0"}, false},
		{[]string{script}, true},
		{[]string{"-e", script}, true}, // errexit, not inline code
		{[]string{"-x", script}, true},
		{[]string{"-c"}, false},
		{nil, false},
	} {
		t.Run(strings.Join(append([]string{"sh"}, c.args...), " "), func(t *testing.T) {
			w := h.subscribe(execPath(interp))
			defer w.stop()
			before := count()
			cmd := exec.Command(interp, c.args...)
			cmd.Stdin = nil // no argument: reads an empty stdin and exits
			cmd.Run()
			w.next(t, "the exec of the interpreter copy")
			if got := count() - before; got != map[bool]uint64{true: 1, false: 0}[c.urgent] {
				t.Errorf("urgent_execs moved by %d, want urgent=%v", got, c.urgent)
			}
		})
	}
	// A file not in the map never takes the urgent path.
	w := h.subscribe(execPath(sh))
	defer w.stop()
	before := count()
	exec.Command(sh, script).Run()
	w.next(t, "the exec of the shell itself")
	if got := count() - before; got != 0 {
		t.Errorf("urgent_execs moved by %d for an interpreter not in the map", got)
	}
}
