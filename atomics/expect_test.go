package atomics

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/argus-sensor/argus-sensor/event"
)

// cond is one property a record must have.
type cond struct {
	what string
	// test returns "" when r has the property, else what r has instead.
	test func(r *event.Record) string
}

// check is one expected signal of an atomic and what was observed.
type check struct {
	want, got string
	ok        bool
	// final checks (no detection, cleanup) can only be judged once the
	// sensor has stopped; they are not waited for.
	final bool
}

// expect evaluates one atomic's expectations against its records.
type expect struct {
	run    *caseRun
	w      *window
	all    []*event.Record // every detection in the output
	checks []check
	rules  []string // rules this atomic expects
	// subject is the launch the atomic is about; noDetection also looks
	// for detections of its digest.
	subject *event.Record
}

func (x *expect) add(c check) { x.checks = append(x.checks, c) }

// arg is the value an input argument had.
func (x *expect) arg(name string) string { return x.run.args[name] }

// digest is the sha256 the runner computed of the file at p after the
// command and before the cleanup.
func (x *expect) digest(p string) string { return x.run.digests[p] }

// find returns the first record of list that meets every cond. When none
// does, it says why the closest one (meeting the most) did not.
func find(list []*event.Record, conds []cond, none string) (*event.Record, string) {
	best, bestMet, bestWhy := (*event.Record)(nil), -1, ""
	for _, r := range list {
		met, why := 0, ""
		for _, c := range conds {
			if got := c.test(r); got != "" {
				if why == "" {
					why = fmt.Sprintf("%s: %s", c.what, got)
				}
				continue
			}
			met++
		}
		if met == len(conds) {
			return r, ""
		}
		if met > bestMet {
			best, bestMet, bestWhy = r, met, why
		}
	}
	if best == nil {
		return nil, none
	}
	return nil, fmt.Sprintf("closest %s %s has %s", kindName(best), best.ID, bestWhy)
}

func kindName(r *event.Record) string {
	switch r.Kind {
	case event.KindProcessLaunch:
		return "launch"
	case event.KindNetworkConnection:
		return "connect"
	}
	return string(r.Kind)
}

func whats(conds []cond) string {
	var s []string
	for _, c := range conds {
		s = append(s, c.what)
	}
	return strings.Join(s, ", ")
}

// launch expects a process_launch meeting conds and returns it.
func (x *expect) launch(conds ...cond) *event.Record {
	r, why := find(x.w.launches, conds, "no process_launch under the atomic's shell")
	c := check{want: "process_launch: " + whats(conds), ok: r != nil}
	if r != nil {
		c.got = describe(r)
		if x.subject == nil {
			x.subject = r
		}
	} else {
		c.got = why
	}
	x.add(c)
	return r
}

// connect expects a network_connection meeting conds and returns it.
func (x *expect) connect(conds ...cond) *event.Record {
	r, why := find(x.w.conns, conds, "no network_connection from its processes")
	c := check{want: "network_connection: " + whats(conds), ok: r != nil}
	if r != nil {
		c.got = describe(r)
	} else {
		c.got = why
	}
	x.add(c)
	return r
}

// library expects a library_load meeting conds and returns it.
func (x *expect) library(conds ...cond) *event.Record {
	r, why := find(x.w.libs, conds, "no library_load by its processes")
	c := check{want: "library_load: " + whats(conds), ok: r != nil}
	if r != nil {
		c.got = describe(r)
	} else {
		c.got = why
	}
	x.add(c)
	return r
}

// detection expects a detection by rule meeting conds.
func (x *expect) detection(rule string, conds ...cond) *event.Record {
	x.rules = append(x.rules, rule)
	conds = append([]cond{{"rule " + rule, func(r *event.Record) string {
		if r.Detection.Rule != rule {
			return r.Detection.Rule
		}
		return ""
	}}}, conds...)
	if x.run == nil || !x.run.spec.degraded {
		conds = append(conds, notDegraded())
	}
	r, why := find(x.w.dets, conds, "no detection names its records")
	want := "detection " + rule
	if len(conds) > 1 {
		want += ": " + whats(conds[1:])
	}
	c := check{want: want, ok: r != nil}
	if r != nil {
		c.got = describe(r)
	} else {
		c.got = why
	}
	x.add(c)
	return r
}

// noDetection expects no detection of the atomic's processes, nor of the
// subject's digest from anywhere.
func (x *expect) noDetection() {
	var hits []string
	seen := map[string]bool{}
	note := func(r *event.Record) {
		if !seen[r.ID] {
			seen[r.ID] = true
			hits = append(hits, describe(r))
		}
	}
	for _, d := range x.w.dets {
		note(d)
	}
	if s := x.subject; s != nil && s.Process != nil {
		for _, d := range x.all {
			for _, id := range identitySHAs(s.Process) {
				if strings.EqualFold(d.Detection.SHA256, id) {
					note(d)
				}
			}
		}
	}
	c := check{want: "no detection", ok: len(hits) == 0, final: true}
	if c.ok {
		c.got = "none"
	} else {
		c.got = strings.Join(hits, "; ")
	}
	x.add(c)
}

// connectionCount expects exactly n network_connection records from the
// atomic's processes: each destination once, not once per datagram.
func (x *expect) connectionCount(n int) {
	var got []string
	for _, r := range x.w.conns {
		got = append(got, describe(r))
	}
	c := check{want: fmt.Sprintf("exactly %d network_connection record(s)", n), ok: len(got) == n, final: true}
	c.got = fmt.Sprintf("%d: %s", len(got), strings.Join(got, "; "))
	x.add(c)
}

// detectionCount expects exactly n detections by rule of the atomic's
// processes.
func (x *expect) detectionCount(rule string, n int) {
	var got []string
	for _, d := range x.w.dets {
		if d.Detection.Rule == rule {
			got = append(got, describe(d))
		}
	}
	c := check{want: fmt.Sprintf("exactly %d detection(s) %s", n, rule), ok: len(got) == n, final: true}
	c.got = fmt.Sprintf("%d: %s", len(got), strings.Join(got, "; "))
	x.add(c)
}

// onlyExpected fails on detections of the atomic's processes by rules it
// does not expect. Controls expect none, and noDetection covers them.
func (x *expect) onlyExpected() {
	if len(x.rules) == 0 {
		return
	}
	var extra []string
	for _, d := range x.w.dets {
		if !slices.Contains(x.rules, d.Detection.Rule) {
			extra = append(extra, describe(d))
		}
	}
	c := check{want: "no other detection", ok: len(extra) == 0, final: true, got: "none"}
	if !c.ok {
		c.got = strings.Join(extra, "; ")
	}
	x.add(c)
}

func identitySHAs(p *event.Process) []string {
	var out []string
	if p.Exe.SHA256 != "" {
		out = append(out, p.Exe.SHA256)
	}
	if p.Script != nil && p.Script.SHA256 != "" {
		out = append(out, p.Script.SHA256)
	}
	return out
}

// describe is the report's one-line account of a record.
func describe(r *event.Record) string {
	switch r.Kind {
	case event.KindProcessLaunch:
		p := r.Process
		s := fmt.Sprintf("launch `%s` %s", r.ID, p.Exe.Path)
		s += " (" + identity(p.Exe.Trust, p.Exe.PathClasses, p.Exe.SHA256, p.Exe.HashStatus) + ")"
		if sc := p.Script; sc != nil {
			s += fmt.Sprintf(" script %s (%s)", sc.Path, identity(sc.Trust, sc.PathClasses, sc.SHA256, sc.HashStatus))
		}
		if strings.Contains(p.Cwd+"/", "/node_modules/") {
			s += " in " + p.Cwd
			for _, a := range p.Ancestors {
				if b := path.Base(a.ExePath); b == "node" || b == "nodejs" {
					s += " under " + a.ExePath
					break
				}
			}
		}
		return s
	case event.KindNetworkConnection:
		p, n := r.Process, r.Network
		ext := "?"
		if n.External != nil {
			ext = map[bool]string{true: "external", false: "internal"}[*n.External]
		}
		s := fmt.Sprintf("connect `%s` %s → %s:%d %s, %s", r.ID, p.Exe.Path, n.DstIP, n.DstPort, n.Result, ext)
		if p.Exe.Deleted {
			s += fmt.Sprintf(", exe deleted (classes %s)", strings.Join(p.Exe.PathClasses, ","))
		}
		return s
	case event.KindLibraryLoad:
		l := r.Library
		s := fmt.Sprintf("library_load `%s` %s by %s (%s)", r.ID, l.Path, r.Process.Exe.Path, identity(l.Trust, l.PathClasses, l.SHA256, l.HashStatus))
		if l.Preload != "" {
			s += ", preloaded by " + l.Preload
		}
		return s
	case event.KindDetection:
		d := r.Detection
		s := fmt.Sprintf("detection `%s` %s", r.ID, d.Rule)
		if d.SHA256 != "" {
			s += " sha256 " + short(d.SHA256)
		}
		if d.Degraded {
			s += " (degraded)"
		}
		var ids []string
		for _, e := range d.Events {
			ids = append(ids, "`"+e.ID+"`")
		}
		return s + " on " + strings.Join(ids, ", ")
	}
	return string(r.Kind) + " " + r.ID
}

func identity(t *event.Trust, classes []string, sha, status string) string {
	var parts []string
	if t != nil {
		parts = append(parts, "trust "+t.Verdict)
		if t.Signer != "" {
			parts[len(parts)-1] += " by " + t.Signer
		}
	}
	if len(classes) > 0 {
		parts = append(parts, "classes "+strings.Join(classes, ","))
	}
	if sha != "" {
		parts = append(parts, "sha256 "+short(sha))
	} else if status != "" {
		parts = append(parts, "hash "+status)
	}
	return strings.Join(parts, ", ")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

// Conditions on a launch or connection's process.

func exePath(p string) cond {
	return cond{"exe " + p, func(r *event.Record) string {
		return unless(r.Process.Exe.Path == p, r.Process.Exe.Path)
	}}
}

func exeName(names ...string) cond {
	return cond{"exe " + strings.Join(names, " or "), func(r *event.Record) string {
		return unless(slices.Contains(names, path.Base(r.Process.Exe.Path)), r.Process.Exe.Path)
	}}
}

func argv(args ...string) cond {
	return cond{fmt.Sprintf("args %q", args), func(r *event.Record) string {
		return unless(slices.Equal(r.Process.Args, args), fmt.Sprintf("%q", r.Process.Args))
	}}
}

// parentShell: the executor's own shell started it.
func parentShell(pid uint32) cond {
	return cond{"parent is the executor's shell", func(r *event.Record) string {
		got := fmt.Sprintf("ppid %d, shell %d", r.Process.PPID, pid)
		if r.Process.Parent != nil {
			got += " (" + r.Process.Parent.Exe.Path + ")"
		}
		return unless(r.Process.PPID == pid, got)
	}}
}

func trust(verdict string) cond {
	return cond{"trust " + verdict, func(r *event.Record) string {
		return unless(r.Process.Exe.Trust != nil && r.Process.Exe.Trust.Verdict == verdict, trustString(r.Process.Exe.Trust))
	}}
}

func severity(s string) cond {
	return cond{"severity " + s, func(r *event.Record) string {
		t := r.Process.Exe.Trust
		return unless(t != nil && t.Severity == s, trustString(t))
	}}
}

func trustString(t *event.Trust) string {
	if t == nil {
		return "no trust"
	}
	s := t.Verdict + "/" + t.Severity
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	return s
}

// signer: the IMA signature names the key with this evmctl key id.
func signer(keyID string) cond {
	return cond{"signed by the throwaway key", func(r *event.Record) string {
		t := r.Process.Exe.Trust
		return unless(keyID != "" && t != nil && t.Signer == "keyid:"+keyID, trustString(t)+" signer "+signerOf(t))
	}}
}

func signerOf(t *event.Trust) string {
	if t == nil || t.Signer == "" {
		return "none"
	}
	return t.Signer
}

// inContainer: the process runs in the named container of runtime.
func inContainer(name, runtime string) cond {
	return cond{"in container " + name + " (" + runtime + ")", func(r *event.Record) string {
		c := r.Process.Container
		if c == nil {
			return "on the host"
		}
		return unless(c.Name == name && c.Runtime == runtime && c.ID != "", c.Name+" ("+c.Runtime+") "+c.ID)
	}}
}

func classes(want ...string) cond {
	return cond{"class " + strings.Join(want, ","), func(r *event.Record) string {
		return missing(r.Process.Exe.PathClasses, want)
	}}
}

func noClasses() cond {
	return cond{"no path class", func(r *event.Record) string {
		return unless(len(r.Process.Exe.PathClasses) == 0, strings.Join(r.Process.Exe.PathClasses, ","))
	}}
}

func memfd() cond {
	return cond{"exe.memfd", func(r *event.Record) string {
		x := r.Process.Exe
		return unless(x.Memfd && strings.HasPrefix(x.Path, "/memfd:"), fmt.Sprintf("memfd %v path %s", x.Memfd, x.Path))
	}}
}

func deleted() cond {
	return cond{"exe.deleted", func(r *event.Record) string {
		return unless(r.Process.Exe.Deleted, "not deleted")
	}}
}

// sha: the executable's digest is want, the runner's own digest of the
// file named for.
func sha(want, of string) cond {
	return cond{"sha256 of " + of, func(r *event.Record) string {
		got := r.Process.Exe.SHA256
		if got == "" {
			got = "none (" + r.Process.Exe.HashStatus + ")"
		}
		return unless(want != "" && r.Process.Exe.SHA256 == want, got+", file has "+short(want))
	}}
}

func hashed() cond {
	return cond{"sha256 known", func(r *event.Record) string {
		return unless(r.Process.Exe.SHA256 != "", "hash "+r.Process.Exe.HashStatus)
	}}
}

func script(p string) cond {
	return cond{"script " + p, func(r *event.Record) string {
		if r.Process.Script == nil {
			return "no script"
		}
		return unless(r.Process.Script.Path == p, r.Process.Script.Path)
	}}
}

func scriptClasses(want ...string) cond {
	return cond{"script class " + strings.Join(want, ","), func(r *event.Record) string {
		if r.Process.Script == nil {
			return "no script"
		}
		return missing(r.Process.Script.PathClasses, want)
	}}
}

func scriptSHA(want, of string) cond {
	return cond{"script sha256 of " + of, func(r *event.Record) string {
		s := r.Process.Script
		if s == nil {
			return "no script"
		}
		return unless(want != "" && s.SHA256 == want, "script sha256 "+short(s.SHA256)+", file has "+short(want))
	}}
}

func nodeAncestor() cond {
	return cond{"a node ancestor", func(r *event.Record) string {
		var chain []string
		for _, a := range r.Process.Ancestors {
			if b := path.Base(a.ExePath); b == "node" || b == "nodejs" {
				return ""
			}
			chain = append(chain, a.ExePath)
		}
		return "ancestors " + strings.Join(chain, " < ")
	}}
}

func cwd(dir string) cond {
	return cond{"cwd " + dir, func(r *event.Record) string {
		return unless(r.Process.Cwd == dir, r.Process.Cwd)
	}}
}

// by: the record is of the launched process l.
func by(l *event.Record) cond {
	return cond{"by that process", func(r *event.Record) string {
		if l == nil {
			return "(its launch was not found)"
		}
		return unless(r.Process.PID == l.Process.PID && r.Process.StartTimeNs == l.Process.StartTimeNs,
			fmt.Sprintf("pid %d", r.Process.PID))
	}}
}

// Conditions on a connection.

func dst(ip string, port int) cond {
	what := fmt.Sprintf("to %s:%d", ip, port)
	if port == 0 {
		what = "to " + ip
	}
	return cond{what, func(r *event.Record) string {
		n := r.Network
		return unless(n.DstIP == ip && (port == 0 || int(n.DstPort) == port), fmt.Sprintf("%s:%d", n.DstIP, n.DstPort))
	}}
}

func external(want bool) cond {
	what := map[bool]string{true: "external", false: "internal"}[want]
	return cond{what, func(r *event.Record) string {
		n := r.Network
		if n.External == nil {
			return "unclassified"
		}
		return unless(*n.External == want, map[bool]string{true: "external", false: "internal"}[*n.External])
	}}
}

// madeVia: the connection was made the way network.via names.
func madeVia(via string) cond {
	return cond{"via " + via, func(r *event.Record) string {
		return unless(r.Network.Via == via, "via "+r.Network.Via)
	}}
}

// Conditions on a detection.

// keyedOn: the detection's sha256 is want (a digest of the record l's
// identity).
func keyedOn(want, of string) cond {
	return cond{"sha256 of " + of, func(r *event.Record) string {
		return unless(want != "" && r.Detection.SHA256 == want, "sha256 "+short(r.Detection.SHA256))
	}}
}

// names: the detection's events include each record.
func names(recs ...*event.Record) cond {
	return cond{"on those records", func(r *event.Record) string {
		ids := map[string]bool{}
		for _, e := range r.Detection.Events {
			ids[e.ID] = true
		}
		for _, l := range recs {
			if l == nil {
				return "(a record it should name was not found)"
			}
			if !ids[l.ID] {
				return "not on " + l.ID
			}
		}
		return ""
	}}
}

// eventClass: one of the detection's events has an executable of class c.
func eventClass(c string) cond {
	return cond{"event with class " + c, func(r *event.Record) string {
		var seen []string
		for _, e := range r.Detection.Events {
			if e.Process != nil && slices.Contains(e.Process.Exe.PathClasses, c) {
				return ""
			}
			if e.Process != nil {
				seen = append(seen, strings.Join(e.Process.Exe.PathClasses, ","))
			}
		}
		return "classes " + strings.Join(seen, "; ")
	}}
}

func notDegraded() cond {
	return cond{"not degraded", func(r *event.Record) string { return unless(!r.Detection.Degraded, "degraded") }}
}

func unless(ok bool, got string) string {
	if ok {
		return ""
	}
	if got == "" {
		return "(empty)"
	}
	return got
}

func missing(have, want []string) string {
	for _, w := range want {
		if !slices.Contains(have, w) {
			if len(have) == 0 {
				return "no class"
			}
			return strings.Join(have, ",")
		}
	}
	return ""
}

// Conditions on a library_load.

func libraryAt(p string) cond {
	return cond{"library " + p, func(r *event.Record) string { return unless(r.Library.Path == p, r.Library.Path) }}
}

func libraryTrust(verdict string) cond {
	return cond{"library trust " + verdict, func(r *event.Record) string {
		return unless(r.Library.Trust != nil && r.Library.Trust.Verdict == verdict, trustString(r.Library.Trust))
	}}
}

func libraryClasses(want ...string) cond {
	return cond{"library class " + strings.Join(want, ","), func(r *event.Record) string {
		return missing(r.Library.PathClasses, want)
	}}
}

func preloadedBy(who string) cond {
	return cond{"preloaded by " + who, func(r *event.Record) string {
		return unless(r.Library.Preload == who, "preload "+r.Library.Preload)
	}}
}

func librarySHA(want, of string) cond {
	return cond{"library sha256 of " + of, func(r *event.Record) string {
		return unless(want != "" && r.Library.SHA256 == want, "sha256 "+short(r.Library.SHA256)+" hash "+r.Library.HashStatus)
	}}
}

// loaderEnv: the launch's loader environment has name=value, with the
// path classes want.
func loaderEnv(name, value string, want ...string) cond {
	return cond{fmt.Sprintf("loader_env %s=%s (%s)", name, value, strings.Join(want, ",")), func(r *event.Record) string {
		for _, v := range r.Process.LoaderEnv {
			if v.Name == name && v.Value == value {
				return missing(v.PathClasses, want)
			}
		}
		return fmt.Sprintf("%+v", r.Process.LoaderEnv)
	}}
}
