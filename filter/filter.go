package filter

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/argus-sensor/argus-sensor/event"
)

// Kinds are the record kinds an output can name in kinds:.
var Kinds = []event.Kind{
	event.KindProcessLaunch, event.KindNetworkConnection, event.KindDetection,
	event.KindSensorHealth, event.KindHashUpdate, event.KindDNSQuery, event.KindLibraryLoad,
}

// Error is a filter that does not compile. Field is "kinds[I]" or
// "drop[I]", so the configuration can point at the line.
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Filter is one output's kinds and drop conditions, compiled.
type Filter struct {
	kinds map[event.Kind]bool // nil: every kind
	drops []*vm.Program
	src   []string
	// errors counts conditions that failed at run time (the record was
	// kept).
	errors atomic.Uint64
}

// Compile builds a filter from an output's kinds: and drop: lists. It
// returns nil, nil when both are empty: an output that takes everything
// needs no filter.
func Compile(kinds, drop []string) (*Filter, error) {
	if len(kinds) == 0 && len(drop) == 0 {
		return nil, nil
	}
	f := &Filter{}
	if len(kinds) > 0 {
		f.kinds = make(map[event.Kind]bool, len(kinds))
		for i, k := range kinds {
			kind, err := parseKind(k)
			if err != nil {
				return nil, &Error{Field: fmt.Sprintf("kinds[%d]", i), Err: err}
			}
			f.kinds[kind] = true
		}
	}
	for i, src := range drop {
		p, err := compileCondition(src)
		if err != nil {
			return nil, &Error{Field: fmt.Sprintf("drop[%d]", i), Err: err}
		}
		f.drops = append(f.drops, p)
		f.src = append(f.src, src)
	}
	return f, nil
}

func parseKind(s string) (event.Kind, error) {
	k := event.Kind(strings.TrimSpace(s))
	for _, known := range Kinds {
		if k == known {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown record kind %q: want one of %s", s, strings.Join(names, ", "))
}

// topLevel are the fields of an argus.v1 record: the only names a
// condition may start from, so a misspelt one is a configuration error.
var topLevel = map[string]any{
	"schema": "", "id": "", "kind": "", "time": "", "ref_id": "",
	"host": map[string]any{}, "process": map[string]any{}, "network": map[string]any{},
	"health": map[string]any{}, "detection": map[string]any{}, "library": map[string]any{},
}

// options are the compile options every condition gets.
var options = []expr.Option{
	expr.Env(topLevel),
	expr.AsBool(),
	expr.Patch(nilSafe{}),
	expr.Function("glob", globFunc, new(func(string, string) bool)),
	expr.Function("cidr", cidrFunc, new(func(string, string) bool)),
}

func compileCondition(src string) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty condition")
	}
	p, err := expr.Compile(src, options...)
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	// Field values are dynamic, so a condition whose result is not a
	// boolean, or that fails on a record, compiles: try it on a full
	// record of every kind now, not on live data later.
	for _, r := range samples() {
		m, err := NewEnv(r).get()
		if err != nil {
			return nil, fmt.Errorf("condition %q: sample %s: %w", src, r.Kind, err)
		}
		if _, err := expr.Run(p, m); err != nil {
			return nil, fmt.Errorf("condition %q fails on a %s record: %w", src, r.Kind, err)
		}
	}
	return p, nil
}

// nilSafe makes every field access optional (a?.b), so a condition about
// fields one kind of record lacks is false on the others, not an error.
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method || m.Optional {
		return
	}
	m.Optional = true
	ast.Patch(node, &ast.ChainNode{Node: m})
}

func globFunc(params ...any) (any, error) {
	pattern, _ := params[0].(string)
	name, _ := params[1].(string)
	return Glob(pattern, name), nil
}

func cidrFunc(params ...any) (any, error) {
	prefix, _ := params[0].(string)
	ip, _ := params[1].(string)
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("cidr: %w", err)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil // no address, or not one: not inside
	}
	return p.Contains(a.Unmap()), nil
}

var globCache sync.Map // pattern -> *regexp.Regexp (patterns with **)

// Glob reports whether name matches pattern: path.Match syntax, where *
// stays within one path element, plus ** matching any run of characters,
// slashes included (/opt/** matches everything under /opt). A malformed
// pattern matches nothing.
func Glob(pattern, name string) bool {
	if !strings.Contains(pattern, "**") {
		ok, err := path.Match(pattern, name)
		return err == nil && ok
	}
	re, ok := globCache.Load(pattern)
	if !ok {
		var b strings.Builder
		b.WriteString("^")
		for i, part := range strings.Split(pattern, "**") {
			if i > 0 {
				b.WriteString(".*")
			}
			b.WriteString(globPart(part))
		}
		b.WriteString("$")
		r, err := regexp.Compile(b.String())
		if err != nil {
			return false
		}
		re, _ = globCache.LoadOrStore(pattern, r)
	}
	return re.(*regexp.Regexp).MatchString(name)
}

// globPart translates one **-free piece of a pattern to a regexp.
func globPart(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := p[i+1 : i+j]
			if strings.HasPrefix(class, "^") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// Keep reports whether the output takes r, and which drop condition (its
// index) refused it; -1 when none did or the kind was not taken. A nil
// filter keeps everything.
func (f *Filter) Keep(r *event.Record, env *Env) (keep bool, rule int) {
	if f == nil {
		return true, -1
	}
	if f.kinds != nil && !f.kinds[r.Kind] {
		return false, -1
	}
	if len(f.drops) == 0 {
		return true, -1
	}
	m, err := env.get()
	if err != nil {
		f.errors.Add(1)
		return true, -1
	}
	for i, p := range f.drops {
		out, err := expr.Run(p, m)
		if err != nil {
			f.errors.Add(1)
			continue
		}
		if b, _ := out.(bool); b {
			return false, i
		}
	}
	return true, -1
}

// Errors counts conditions that failed at run time; each kept its record.
func (f *Filter) Errors() uint64 {
	if f == nil {
		return 0
	}
	return f.errors.Load()
}

// Conditions returns the drop conditions' source, in order.
func (f *Filter) Conditions() []string {
	if f == nil {
		return nil
	}
	return f.src
}

// TakesKinds returns the kinds taken, nil meaning all.
func (f *Filter) TakesKinds() []event.Kind {
	if f == nil || f.kinds == nil {
		return nil
	}
	var out []event.Kind
	for _, k := range Kinds {
		if f.kinds[k] {
			out = append(out, k)
		}
	}
	return out
}
