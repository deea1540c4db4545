package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mutation is one rewrite of one file.
type mutation struct {
	name, file, old, new string
	line                 int // of its "##" line in the list
}

func main() {
	list := flag.String("list", "detect/mutations.txt", "the mutations")
	pkg := flag.String("pkg", "./detect", "the package whose tests must catch them")
	run := flag.String("run", "", "only mutations whose name contains this")
	timeout := flag.Duration("timeout", 5*time.Minute, "for one test run")
	flag.Parse()
	if err := check(*list, *pkg, *run, *timeout, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func check(list, pkg, run string, timeout time.Duration, out io.Writer) error {
	muts, err := parse(list)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		return fmt.Errorf("copy module: %w", err)
	}
	fmt.Fprintf(out, "baseline: go test %s\n", pkg)
	if msg, ok := goTest(tmp, pkg, timeout); !ok {
		return fmt.Errorf("the unmutated tests fail:\n%s", msg)
	}
	var survived, stale []string
	tried := 0
	for _, m := range muts {
		if run != "" && !strings.Contains(m.name, run) {
			continue
		}
		tried++
		path := filepath.Join(tmp, pkg, m.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("mutation %q: %w", m.name, err)
		}
		if !bytes.Contains(orig, []byte(m.old)) {
			fmt.Fprintf(out, "STALE    %s (%s line %d: %q is not in %s)\n", m.name, list, m.line, m.old, m.file)
			stale = append(stale, m.name)
			continue
		}
		mutated := bytes.ReplaceAll(orig, []byte(m.old), []byte(m.new))
		if err := os.WriteFile(path, mutated, 0o644); err != nil {
			return fmt.Errorf("mutation %q: %w", m.name, err)
		}
		msg, ok := goTest(tmp, pkg, timeout)
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			return fmt.Errorf("restore %s: %w", m.file, err)
		}
		switch {
		case ok:
			fmt.Fprintf(out, "SURVIVED %s\n", m.name)
			survived = append(survived, m.name)
		case strings.Contains(msg, "[build failed]") || strings.Contains(msg, "[setup failed]"):
			fmt.Fprintf(out, "STALE    %s (does not build)\n%s\n", m.name, indent(msg))
			stale = append(stale, m.name)
		default:
			fmt.Fprintf(out, "killed   %s by %s\n", m.name, firstFailure(msg))
		}
	}
	fmt.Fprintf(out, "%d mutations, %d killed, %d survived, %d stale\n", tried, tried-len(survived)-len(stale), len(survived), len(stale))
	if tried == 0 {
		return errors.New("no mutation matched")
	}
	if len(survived)+len(stale) > 0 {
		return fmt.Errorf("%d survived, %d stale", len(survived), len(stale))
	}
	return nil
}

// parse reads the mutation list.
func parse(list string) ([]mutation, error) {
	f, err := os.Open(list)
	if err != nil {
		return nil, fmt.Errorf("open mutation list: %w", err)
	}
	defer f.Close()
	var muts []mutation
	var block []string
	start, n := 0, 0
	flush := func() error {
		defer func() { block = block[:0] }()
		if len(block) == 0 {
			return nil
		}
		if len(block) != 4 || !strings.HasPrefix(block[0], "## ") {
			return fmt.Errorf("%s line %d: want \"## name\", file, old text, new text", list, start)
		}
		m := mutation{name: strings.TrimPrefix(block[0], "## "), file: block[1], old: block[2], new: block[3], line: start}
		if m.old == m.new || m.old == "" {
			return fmt.Errorf("%s line %d: the old text must be given and differ from the new", list, start)
		}
		muts = append(muts, m)
		return nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
			if err := flush(); err != nil {
				return nil, err
			}
		case len(block) == 0 && strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "## "):
		default:
			if len(block) == 0 {
				start = n
			}
			block = append(block, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mutation list: %w", err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return muts, nil
}

// goTest runs the package's tests in dir and reports whether they passed.
func goTest(dir, pkg string, timeout time.Duration) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-failfast", pkg)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	return string(b), err == nil
}

// firstFailure names the first failing test in go test's output.
func firstFailure(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "--- FAIL: "); ok {
			return strings.Fields(t)[0]
		}
	}
	if strings.Contains(out, "panic:") {
		return "a panic"
	}
	return "a failure"
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// copyTree copies the module's regular files, leaving out .git and build output.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "dist":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
}
