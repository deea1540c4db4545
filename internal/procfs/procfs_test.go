package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestParseStat(t *testing.T) {
	st, err := ParseStat([]byte("42 (a) b (c)) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	if err != nil || st.Comm != "a) b (c)" || st.PPID != 7 || st.StartTicks != 12345 || st.StartNs() != 123_450_000_000 {
		t.Fatalf("got %+v, %v", st, err)
	}
	if !st.SameStart(123_456_789_012) || st.SameStart(123_460_000_000) {
		t.Error("start time comparison")
	}
	for _, bad := range []string{"", "42 noparen", "42 (x) R 1 2", "42 (x) R z 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0",
		"42 (x) R 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 x 0"} {
		if _, err := ParseStat([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseStat(%q) = %v, want ErrFormat", bad, err)
		}
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := ReadStat("/proc", uint32(os.Getpid()))
	if err != nil || st.PPID != uint32(os.Getppid()) || st.StartTicks == 0 {
		t.Fatalf("got %+v, %v", st, err)
	}
}

// statLine writes a /proc/<pid>/stat line with the fields Stat holds.
func statLine(st Stat) []byte {
	return fmt.Appendf(nil, "42 (%s) R %d 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", st.Comm, st.PPID, st.StartTicks)
}

// FuzzParseStat: whatever parses, written back as a stat line, parses
// to the same fields.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (a) b) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	f.Add([]byte("1 (()) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err != nil {
			return
		}
		again, err := ParseStat(statLine(st))
		if err != nil || again != st {
			t.Fatalf("%+v written back parses to %+v, %v", st, again, err)
		}
	})
}

// FuzzStatRoundTrip: any command name (spaces and parentheses included),
// parent and start time survive a stat line.
func FuzzStatRoundTrip(f *testing.F) {
	f.Add("a) b", uint32(7), uint64(12345))
	f.Add("(sd-pam)", uint32(1), uint64(0))
	f.Fuzz(func(t *testing.T, comm string, ppid uint32, ticks uint64) {
		st := Stat{Comm: comm, PPID: ppid, StartTicks: ticks}
		got, err := ParseStat(statLine(st))
		if err != nil || got != st {
			t.Fatalf("%+v parses to %+v, %v", st, got, err)
		}
	})
}

func TestReadImageSelf(t *testing.T) {
	im := ReadImage("/proc", uint32(os.Getpid()))
	exe, _ := os.Executable()
	cwd, _ := os.Getwd()
	if im.ExeErr != nil || im.ExePath != exe || !im.HaveExe || im.Deleted || im.Memfd || im.Exe.Ino == 0 {
		t.Errorf("exe: %+v", im)
	}
	if im.Cwd != cwd || len(im.Args) != len(os.Args) || im.Args[0] != os.Args[0] {
		t.Errorf("cwd %q args %q, want %q %q", im.Cwd, im.Args, cwd, os.Args)
	}
	if got := ExePath("/proc", uint32(os.Getpid())); got != exe {
		t.Errorf("ExePath = %q, want %q", got, exe)
	}
}

// What the kernel writes for an unlinked memfd, and a process with no exe
// link at all (a kernel thread), in a fake /proc.
func TestReadImageLinks(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"7", "8"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/memfd:payload (deleted)", filepath.Join(root, "7", "exe")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "7", "cmdline"), []byte("a\x00b c\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	im := ReadImage(root, 7)
	if im.ExeErr != nil || im.ExePath != "/memfd:payload" || !im.Deleted || !im.Memfd || im.HaveExe ||
		len(im.Args) != 2 || im.Args[1] != "b c" || im.Cwd != "" {
		t.Errorf("memfd: %+v", im)
	}
	if got := ExePath(root, 7); got != "/memfd:payload" {
		t.Errorf("ExePath = %q", got)
	}
	if im := ReadImage(root, 8); !errors.Is(im.ExeErr, fs.ErrNotExist) || im.ExePath != "" || im.Args != nil {
		t.Errorf("no exe link: %+v", im)
	}
	if got := ExePath(root, 8); got != "" {
		t.Errorf("ExePath = %q", got)
	}
}
