package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// entry is one line of .ci/tools.
type entry struct {
	Check     string // program, absolute path (glob allowed) or pkg:NAME
	Package   string // Debian package, or "-" for the machine's own
	Installer string // .ci/run, "machine", or the file that installs it
	NoRec     bool
	Line      int
}

var verbose bool

// use is one place that calls an external program.
type use struct {
	Prog string
	File string
	Line int
}

func (u use) String() string { return fmt.Sprintf("%s:%d", u.File, u.Line) }

// shellFiles are the scripts whose commands run on this machine, in CI or
// for `make` targets. Scripts that run elsewhere are left out on purpose:
// kernelmatrix/init.sh runs inside the QEMU guest, packaging/scripts/* on
// the machine the package is installed on, and the Vagrantfile's shell in
// the VM, each with tools of their own.
var shellFiles = []string{".ci/run", "Makefile", "atomics/run.sh", "kernelmatrix/run.sh", "packaging/package.sh"}

// atomicDirs hold Atomic Red Team YAML whose commands the atomics runner
// executes on this machine.
var atomicDirs = []string{"atomics/T1587", "atomics/argus"}

func main() {
	root := flag.String("root", ".", "repository root")
	flag.BoolVar(&verbose, "v", false, "list every program found and where it is called")
	flag.Parse()
	problems, err := run(*root)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fresh-deps: %v\n", err)
		os.Exit(2)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "fresh-deps: "+p)
		}
		fmt.Fprintf(os.Stderr, "fresh-deps: %d problem(s): list each program in .ci/tools with the package that provides it\n", len(problems))
		os.Exit(1)
	}
}

func run(root string) ([]string, error) {
	f, err := os.Open(filepath.Join(root, ".ci/tools"))
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	defer f.Close()
	entries, err := parseManifest(f)
	if err != nil {
		return nil, fmt.Errorf("parse .ci/tools: %w", err)
	}
	uses, err := collect(root)
	if err != nil {
		return nil, err
	}
	if verbose {
		listUses(os.Stdout, uses)
	}
	var problems []string
	problems = append(problems, checkInstallers(root, entries)...)
	problems = append(problems, checkUses(entries, uses, hostLookup{})...)
	fmt.Printf("fresh-deps: %d manifest entries, %d calls of %d programs checked\n", len(entries), len(uses), countProgs(uses))
	return problems, nil
}

// listUses prints each program with the places that call it.
func listUses(w io.Writer, uses []use) {
	by := map[string][]string{}
	for _, u := range uses {
		by[u.Prog] = append(by[u.Prog], u.String())
	}
	progs := make([]string, 0, len(by))
	for p := range by {
		progs = append(progs, p)
	}
	sort.Strings(progs)
	for _, p := range progs {
		fmt.Fprintf(w, "%-22s %s\n", p, strings.Join(by[p], " "))
	}
}

func countProgs(uses []use) int {
	seen := map[string]bool{}
	for _, u := range uses {
		seen[u.Prog] = true
	}
	return len(seen)
}

// parseManifest reads .ci/tools: "CHECK PACKAGE INSTALLER [norec]" per line,
// # comments and blank lines ignored.
func parseManifest(r io.Reader) ([]entry, error) {
	var out []entry
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 3 || len(fields) > 4 {
			return nil, fmt.Errorf("line %d: want CHECK PACKAGE INSTALLER [norec], got %d fields", n, len(fields))
		}
		e := entry{Check: fields[0], Package: fields[1], Installer: fields[2], Line: n}
		if len(fields) == 4 {
			if fields[3] != "norec" {
				return nil, fmt.Errorf("line %d: unknown flag %q (only norec)", n, fields[3])
			}
			e.NoRec = true
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// collect finds every program call in the repository's Go files, shell
// scripts and atomics.
func collect(root string) ([]use, error) {
	var uses []use
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		u, err := goCalls(rel, src)
		if err != nil {
			return err
		}
		uses = append(uses, u...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan go files: %w", err)
	}
	for _, name := range shellFiles {
		src, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		uses = append(uses, shellCommands(string(src), name, 1, name == "Makefile")...)
	}
	for _, dir := range atomicDirs {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
		for _, path := range files {
			src, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", path, err)
			}
			rel, _ := filepath.Rel(root, path)
			u, err := yamlCommands(rel, src)
			if err != nil {
				return nil, err
			}
			uses = append(uses, u...)
		}
	}
	return uses, nil
}

// goCalls returns the programs named by string literals in exec calls and
// the tests' tool helpers.
func goCalls(name string, src []byte) ([]use, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var out []use
	lit := func(e ast.Expr) {
		bl, ok := e.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(bl.Value)
		if err != nil || !isProgName(s) {
			return
		}
		out = append(out, use{Prog: s, File: name, Line: fset.Position(bl.Pos()).Line})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			pkg, ok := fn.X.(*ast.Ident)
			if !ok || pkg.Name != "exec" {
				return true
			}
			switch fn.Sel.Name {
			case "Command", "LookPath":
				lit(call.Args[0])
			case "CommandContext":
				if len(call.Args) > 1 {
					lit(call.Args[1])
				}
			}
		case *ast.Ident:
			switch fn.Name {
			case "need": // need(t, prog, aptPackage)
				if len(call.Args) > 1 {
					lit(call.Args[1])
				}
			case "requireTool", "requireTools": // requireTool(t, prog...)
				for _, a := range call.Args[1:] {
					lit(a)
				}
			}
		}
		return true
	})
	return out, nil
}

var progRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// isProgName reports whether s names a program looked up in PATH (not a
// relative or absolute path, not a flag).
func isProgName(s string) bool { return progRE.MatchString(s) }

// shellWords that are not programs looked up in PATH: keywords, builtins
// and words of the atomics' own placeholders.
var shellWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`if then else elif fi for while until do done case esac in function select
		echo printf set unset cd export local return exit trap read test [ [[ ]] true false shift wait eval
		source . : break continue declare readonly typeset type hash getopts let pwd umask ulimit kill
		command builtin exec alias times jobs fg bg disown enable help logout mapfile readarray
		compgen complete shopt pushd popd dirs caller suspend
		ARG VAR`) {
		shellWords[w] = true
	}
}

var (
	artPlaceholder = regexp.MustCompile(`#\{[^}]*\}`)
	makeVar        = regexp.MustCompile(`\$\([A-Z_]+\)|\$\{[A-Z_]+\}|\$[@<^*]`)
	shellVar       = regexp.MustCompile(`\$\{[^}]*\}`)
	arrayAssign    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*\+?=\([^)]*\)`)
	redirect       = regexp.MustCompile(`[0-9]*(>>?|<)&?[^\s;|&)]*`)
	casePattern    = regexp.MustCompile(`^\s*[^\s()]+\)`)
	funcDef        = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)`)
	heredocStart   = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)
	separators     = regexp.MustCompile(`\|\||&&|[;|&()` + "`" + `{}!]|\$\(`)
)

// shellCommands returns the programs in command position in a shell
// script, or in a Makefile's recipes when makefile is set. first is the
// file line of src's first line.
func shellCommands(src, name string, first int, makefile bool) []use {
	var out []use
	lines := strings.Split(src, "\n")
	heredoc := ""
	funcs := map[string]bool{} // functions the script defines
	for i := 0; i < len(lines); i++ {
		lineNo := first + i
		line := lines[i]
		if heredoc != "" {
			if strings.TrimSpace(line) == heredoc {
				heredoc = ""
			}
			continue
		}
		if makefile {
			if !strings.HasPrefix(line, "\t") {
				continue
			}
			line = strings.ReplaceAll(line, "$(GO)", "go")
			line = makeVar.ReplaceAllString(line, " ")
			line = strings.ReplaceAll(line, "$$", "$")
			line = strings.TrimLeft(line, "\t@-")
		}
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			next := lines[i]
			if makefile {
				next = strings.ReplaceAll(makeVar.ReplaceAllString(next, " "), "$$", "$")
			}
			line = strings.TrimSuffix(line, "\\") + " " + next
		}
		if m := heredocStart.FindStringSubmatch(line); m != nil {
			heredoc = m[1]
		}
		if m := funcDef.FindStringSubmatch(line); m != nil {
			funcs[m[1]] = true
			continue
		}
		line = artPlaceholder.ReplaceAllString(line, " ARG ")
		line = stripComment(line)
		line = stripQuoted(line)
		line = shellVar.ReplaceAllString(line, " VAR ")
		line = arrayAssign.ReplaceAllString(line, " ")
		line = redirect.ReplaceAllString(line, " ")
		line = casePattern.ReplaceAllString(line, " ")
		for _, seg := range separators.Split(line, -1) {
			if p := commandWord(strings.Fields(seg)); p != "" && !funcs[p] {
				out = append(out, use{Prog: p, File: name, Line: lineNo})
			}
		}
	}
	return out
}

// stripComment drops a # comment that starts a word.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// stripQuoted blanks quoted text, which is never a command, except the
// $(...) command substitutions inside double quotes.
func stripQuoted(line string) string {
	b := []byte(line)
	single, double, depth := false, false, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case single:
			if c == '\'' {
				single = false
			}
			b[i] = ' '
		case double && depth == 0:
			switch {
			case c == '"':
				double = false
				b[i] = ' '
			case c == '$' && i+1 < len(b) && b[i+1] == '(':
				depth = 1
				i++
			default:
				b[i] = ' '
			}
		case double:
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			}
		case c == '\'':
			single = true
			b[i] = ' '
		case c == '"':
			double = true
			b[i] = ' '
		}
	}
	return string(b)
}

// commandWord returns the program a simple command runs, skipping
// assignments and wrappers; "" when it is a builtin, a path or a variable.
func commandWord(words []string) string {
	for len(words) > 0 {
		w := words[0]
		switch {
		case strings.Contains(w, "=") && !strings.HasPrefix(w, "="):
			words = words[1:] // VAR=value
		case w == "sudo" || w == "exec" || w == "time" || w == "nohup" || w == "then" || w == "do" || w == "else" || w == "elif" || w == "if" || w == "while" || w == "until":
			words = words[1:]
		case w == "env" || w == "flock":
			words = words[1:]
			for len(words) > 0 && (strings.HasPrefix(words[0], "-") || strings.Contains(words[0], "=") || (w == "flock" && strings.HasPrefix(words[0], "/"))) {
				words = words[1:]
			}
		case w == "command" && len(words) > 1 && words[1] == "-v":
			words = words[2:]
			if len(words) == 0 {
				return ""
			}
			return progOrEmpty(words[0])
		default:
			return progOrEmpty(w)
		}
	}
	return ""
}

func progOrEmpty(w string) string {
	if shellWords[w] || !isProgName(w) {
		return ""
	}
	return w
}

// yamlCommands walks an atomics YAML file and returns the programs of its
// command fields, with their line numbers in the file.
func yamlCommands(name string, src []byte) ([]use, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var out []use
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				switch k.Value {
				case "command", "prereq_command", "get_prereq_command", "cleanup_command":
					if v.Kind == yaml.ScalarNode {
						first := v.Line
						if v.Style == yaml.LiteralStyle || v.Style == yaml.FoldedStyle {
							first++ // the text starts on the line after "|"
						}
						out = append(out, shellCommands(v.Value, name, first, false)...)
						continue
					}
				}
				walk(v)
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return out, nil
}

// lookup answers what this machine knows about a program.
type lookup interface {
	// Path returns the program's path in PATH, or "".
	Path(prog string) string
	// Base reports the package that owns path and whether every Debian
	// system has it (Essential, or Priority required).
	Base(path string) (pkg string, base bool)
}

type hostLookup struct{}

func (hostLookup) Path(prog string) string {
	p, err := exec.LookPath(prog)
	if err != nil {
		return ""
	}
	return p
}

func (hostLookup) Base(path string) (string, bool) {
	cands := []string{path}
	if r, err := filepath.EvalSymlinks(path); err == nil && r != path {
		cands = append(cands, r)
	}
	for _, c := range append([]string(nil), cands...) {
		if strings.HasPrefix(c, "/usr/") {
			cands = append(cands, strings.TrimPrefix(c, "/usr"))
		} else {
			cands = append(cands, "/usr"+c)
		}
	}
	for _, c := range cands {
		out, err := exec.Command("dpkg-query", "-S", c).Output()
		if err != nil {
			continue
		}
		line, _, _ := strings.Cut(string(out), "\n")
		pkg, _, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(pkg, " ") {
			continue
		}
		info, err := exec.Command("dpkg-query", "-W", "-f", "${Essential} ${Priority}", pkg).Output()
		if err != nil {
			return pkg, false
		}
		f := strings.Fields(string(info))
		return pkg, len(f) == 2 && (f[0] == "yes" || f[1] == "required")
	}
	return "", false
}

// checkUses returns a problem for each program that is called but neither
// listed in the manifest nor part of every Debian system.
func checkUses(entries []entry, uses []use, lk lookup) []string {
	listed := map[string]bool{}
	for _, e := range entries {
		listed[e.Check] = true
	}
	byProg := map[string][]use{}
	for _, u := range uses {
		byProg[u.Prog] = append(byProg[u.Prog], u)
	}
	progs := make([]string, 0, len(byProg))
	for p := range byProg {
		progs = append(progs, p)
	}
	sort.Strings(progs)
	var problems []string
	for _, p := range progs {
		if listed[p] {
			continue
		}
		where := byProg[p][0].String()
		if n := len(byProg[p]); n > 1 {
			where += fmt.Sprintf(" (and %d more)", n-1)
		}
		path := lk.Path(p)
		if path == "" {
			problems = append(problems, fmt.Sprintf("%s is called at %s, is not installed here and is not in .ci/tools", p, where))
			continue
		}
		pkg, base := lk.Base(path)
		switch {
		case base:
		case pkg == "":
			problems = append(problems, fmt.Sprintf("%s (%s, from no Debian package) is called at %s and is not in .ci/tools", p, path, where))
		default:
			problems = append(problems, fmt.Sprintf("%s (package %s, not in every Debian system) is called at %s and is not in .ci/tools", p, pkg, where))
		}
	}
	return problems
}

// checkInstallers verifies that an entry installed by a file other than
// .ci/run names a file that mentions its package.
func checkInstallers(root string, entries []entry) []string {
	var problems []string
	for _, e := range entries {
		switch e.Installer {
		case ".ci/run":
			if e.Package == "-" {
				problems = append(problems, fmt.Sprintf(".ci/tools:%d: %s is installed by .ci/run but names no package", e.Line, e.Check))
			}
			continue
		case "machine":
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, e.Installer))
		if err != nil {
			problems = append(problems, fmt.Sprintf(".ci/tools:%d: installer of %s: %v", e.Line, e.Check, err))
			continue
		}
		if !bytes.Contains(src, []byte(e.Package)) {
			problems = append(problems, fmt.Sprintf(".ci/tools:%d: %s says it installs %s, but it never names that package", e.Line, e.Installer, e.Package))
		}
	}
	return problems
}
