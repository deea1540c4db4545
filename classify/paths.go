package classify

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Path class names.
const (
	ClassTmp         = "tmp"
	ClassShm         = "shm"
	ClassRunUser     = "run_user"
	ClassDownloads   = "downloads"
	ClassNodeModules = "node_modules"
	ClassHiddenDir   = "hidden_dir"
	ClassMemfd       = "memfd"
	ClassDeleted     = "deleted"
	// ClassContainerUpper: the executable is in its container's writable
	// (overlay upper) layer: written or modified after the container
	// started, not part of its image. Set by the enricher, not by path.
	ClassContainerUpper = "container_upper"
)

// PathRules configures path classification. Prefixes and patterns are
// matched on whole components: "/tmp" matches /tmp/x, not /tmpfoo/x.
type PathRules struct {
	// Prefixes maps a class to directory prefixes, each with optional
	// "*" components (one component each): "/run/user/*".
	Prefixes map[string][]string `yaml:"prefixes"`
	// Components maps a class to directory names that give the class
	// wherever they appear in the path: "Downloads", "node_modules".
	Components map[string][]string `yaml:"components"`
	// Homes are home directory patterns. A component below one that
	// starts with "." gives ClassHiddenDir.
	Homes []string `yaml:"homes"`
	// System prefixes never get a location class.
	System []string `yaml:"system"`
}

// DefaultPathRules are the documented defaults.
func DefaultPathRules() PathRules {
	return PathRules{
		Prefixes: map[string][]string{
			ClassTmp:     {"/tmp", "/var/tmp"},
			ClassShm:     {"/dev/shm"},
			ClassRunUser: {"/run/user/*"},
		},
		Components: map[string][]string{
			ClassDownloads:   {"Downloads"},
			ClassNodeModules: {"node_modules"},
		},
		Homes:  []string{"/home/*", "/root"},
		System: []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"},
	}
}

// Validate checks the rules for patterns that cannot match.
func (r PathRules) Validate() error {
	check := func(what, p string) error {
		if !strings.HasPrefix(p, "/") || p != path.Clean(p) {
			return fmt.Errorf("%s %q: want a clean absolute path", what, p)
		}
		return nil
	}
	for class, ps := range r.Prefixes {
		for _, p := range ps {
			if err := check("path class "+class+" prefix", p); err != nil {
				return err
			}
		}
	}
	for class, cs := range r.Components {
		for _, c := range cs {
			if c == "" || strings.Contains(c, "/") {
				return fmt.Errorf("path class %s component %q: want one directory name", class, c)
			}
		}
	}
	for _, p := range r.Homes {
		if err := check("home", p); err != nil {
			return err
		}
	}
	for _, p := range r.System {
		if err := check("system prefix", p); err != nil {
			return err
		}
	}
	return nil
}

// under reports whether p is inside prefix pattern pat (whole components,
// "*" matching one component), and returns the rest of p after it.
func under(p, pat string) (rest string, ok bool) {
	for {
		pat = strings.TrimPrefix(pat, "/")
		if pat == "" {
			if p == "" || p[0] == '/' {
				return p, true
			}
			return "", false
		}
		if p == "" || p[0] != '/' {
			return "", false
		}
		p = p[1:]
		var pc, cc string
		pc, pat, _ = strings.Cut(pat, "/")
		if pat != "" {
			pat = "/" + pat
		}
		i := strings.IndexByte(p, '/')
		if i < 0 {
			cc, p = p, ""
		} else {
			cc, p = p[:i], p[i:]
		}
		if pc != "*" && pc != cc {
			return "", false
		}
	}
}

// Paths classifies paths by a validated PathRules.
type Paths struct {
	rules PathRules
	order []string // classes from Prefixes and Components, in output order
}

// knownOrder is the output order of the built-in classes; configured
// extra classes follow, sorted.
var knownOrder = []string{ClassTmp, ClassShm, ClassRunUser, ClassDownloads, ClassNodeModules}

// NewPaths validates rules and returns a classifier.
func NewPaths(rules PathRules) (*Paths, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var order, extra []string
	for _, c := range knownOrder {
		if len(rules.Prefixes[c]) > 0 || len(rules.Components[c]) > 0 {
			order = append(order, c)
			seen[c] = true
		}
	}
	for _, m := range []map[string][]string{rules.Prefixes, rules.Components} {
		for c := range m {
			if !seen[c] {
				extra = append(extra, c)
				seen[c] = true
			}
		}
	}
	slices.Sort(extra)
	return &Paths{rules: rules, order: append(order, extra...)}, nil
}

// Classes returns the path classes of an executable or script at p, in a
// fixed order without duplicates; nil means none. memfd and deleted are
// the kernel's flags for the file.
func (c *Paths) Classes(p string, memfd, deleted bool) []string {
	var out []string
	if !memfd && !c.IsSystem(p) {
		dir := path.Dir(p)
		for _, class := range c.order {
			if c.prefixed(class, p) || hasComponent(dir, c.rules.Components[class]) {
				out = append(out, class)
			}
		}
		for _, h := range c.rules.Homes {
			if rest, ok := under(p, h); ok && hiddenBelow(rest) {
				out = append(out, ClassHiddenDir)
				break
			}
		}
	}
	if memfd {
		out = append(out, ClassMemfd)
	}
	if deleted {
		out = append(out, ClassDeleted)
	}
	return out
}

func (c *Paths) prefixed(class, p string) bool {
	for _, pat := range c.rules.Prefixes[class] {
		if _, ok := under(p, pat); ok {
			return true
		}
	}
	return false
}

// IsSystem reports whether p is under a system prefix.
func (c *Paths) IsSystem(p string) bool {
	for _, s := range c.rules.System {
		if _, ok := under(p, s); ok {
			return true
		}
	}
	return false
}

// hasComponent reports whether any directory component of dir is in names.
func hasComponent(dir string, names []string) bool {
	if len(names) == 0 {
		return false
	}
	for rest := dir; rest != ""; {
		var comp string
		comp, rest, _ = strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		if slices.Contains(names, comp) {
			return true
		}
		if rest != "" {
			rest = "/" + rest
		}
	}
	return false
}

// hiddenBelow reports whether a component of rest (a path below a home
// directory, starting with "/") starts with ".": a hidden directory, or a
// hidden file in the home directory itself.
func hiddenBelow(rest string) bool {
	for _, c := range strings.Split(rest, "/") {
		if len(c) > 1 && c[0] == '.' && c != ".." {
			return true
		}
	}
	return false
}
