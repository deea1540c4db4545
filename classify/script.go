package classify

import (
	"path"
	"strings"
)

// interpreter describes how one family of interpreters takes its program.
type interpreter struct {
	// inline flags mean the program is on the command line: no file.
	inline []string
	// withArg flags consume the next argument (unless given as --x=v).
	withArg []string
	// fileFlag, if set, names the script explicitly (php -f FILE).
	fileFlag string
	// shortClusters: single-dash flags may be combined (-lc, -uc).
	shortClusters bool
}

var (
	shellInterp = interpreter{
		inline:        []string{"-c"},
		withArg:       []string{"-o", "+o", "-O", "+O", "--rcfile", "--init-file"},
		shortClusters: true,
	}
	pythonInterp = interpreter{
		inline:        []string{"-c", "-m"},
		withArg:       []string{"-W", "-X", "-Q", "--check-hash-based-pycs"},
		shortClusters: true,
	}
	nodeInterp = interpreter{
		inline: []string{"-e", "--eval", "-p", "--print"},
		withArg: []string{"-r", "--require", "--import", "--loader", "--experimental-loader",
			"-C", "--conditions", "--title", "--env-file", "--input-type", "--inspect-port"},
	}
	perlInterp = interpreter{
		inline:        []string{"-e", "-E"},
		withArg:       []string{"-I", "-M", "-m", "-x"},
		shortClusters: true,
	}
	rubyInterp = interpreter{
		inline:  []string{"-e"},
		withArg: []string{"-I", "-r", "-C", "-E", "-x"},
	}
	phpInterp = interpreter{
		inline:   []string{"-r"},
		withArg:  []string{"-c", "-d", "-z", "-t", "-S"},
		fileFlag: "-f",
	}
)

// interpreterFor returns the interpreter family of an executable's base
// name: node, nodejs, bun, python*, perl*, ruby*, php*, sh, bash, dash,
// zsh, ksh.
func interpreterFor(exe string) (interpreter, bool) {
	base := path.Base(exe)
	switch {
	case base == "node" || base == "nodejs" || base == "bun":
		return nodeInterp, true
	case strings.HasPrefix(base, "python"):
		return pythonInterp, true
	case strings.HasPrefix(base, "perl"):
		return perlInterp, true
	case strings.HasPrefix(base, "ruby"):
		return rubyInterp, true
	case strings.HasPrefix(base, "php"):
		return phpInterp, true
	case base == "sh" || base == "bash" || base == "dash" || base == "zsh" || base == "ksh" || base == "mksh":
		return shellInterp, true
	}
	return interpreter{}, false
}

// IsInterpreter reports whether exe is a script interpreter argus knows.
func IsInterpreter(exe string) bool {
	_, ok := interpreterFor(exe)
	return ok
}

// ScriptPath returns the script file an interpreter runs, resolved against
// cwd, or "" when exe is not an interpreter or runs inline code (-c, -e,
// -m) or stdin. Whether the file exists is for the caller to check.
func ScriptPath(exe string, args []string, cwd string) string {
	in, ok := interpreterFor(exe)
	if !ok || len(args) < 2 {
		return ""
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return resolve(args[i+1], cwd)
			}
			return ""
		case a == "-":
			return "" // the program comes from stdin
		case in.fileFlag != "" && a == in.fileFlag:
			if i+1 < len(args) {
				return resolve(args[i+1], cwd)
			}
			return ""
		case strings.HasPrefix(a, "-") || (strings.HasPrefix(a, "+") && in.shortClusters):
			inline, takesNext := parseFlag(in, a)
			if inline {
				return ""
			}
			if takesNext {
				i++
			}
		default:
			return resolve(a, cwd)
		}
	}
	return ""
}

// parseFlag reads one option argument: whether it puts the program on the
// command line (-c, -e, or a cluster holding one, like -lc), and whether
// it consumes the next argument as its value. In a cluster, a letter that
// takes a value ends the cluster: the rest of it is the value (-MData::Dumper,
// -Wignore), or, at the end, the next argument is.
func parseFlag(in interpreter, a string) (inline, takesNext bool) {
	flag, _, hasValue := strings.Cut(a, "=")
	if contains(in.inline, flag) {
		return true, false
	}
	if contains(in.withArg, flag) {
		return false, !hasValue
	}
	if !in.shortClusters || strings.HasPrefix(a, "--") || len(a) < 2 {
		return false, false
	}
	sign := a[:1]
	for i := 1; i < len(a); i++ {
		letter := sign + a[i:i+1]
		if contains(in.inline, letter) {
			return true, false
		}
		if contains(in.withArg, letter) {
			return false, i == len(a)-1
		}
	}
	return false, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func resolve(p, cwd string) string {
	if p == "" {
		return ""
	}
	if path.IsAbs(p) || cwd == "" {
		return path.Clean(p)
	}
	return path.Join(cwd, p)
}
