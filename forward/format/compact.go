package format

import (
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
)

// FormatCompact is one line of text per record, for people at a terminal
// (docs/forwarding.md#compact). It is not a SIEM format: field order and
// wording may change between versions.
const FormatCompact Format = "compact"

// formatCompactColor is FormatCompact with ANSI colours. It is never asked
// for by name: the stdout sink picks it when stdout is a terminal.
const formatCompactColor Format = "compact+color"

// ForTerminal is the format to write to f for a sink configured with fm:
// compact becomes its coloured form when f is a terminal that wants
// colour; anything else is fm.
func ForTerminal(fm Format, f *os.File) Format {
	if fm == FormatCompact && colorTerminal(f) {
		return formatCompactColor
	}
	return fm
}

// colorTerminal reports whether f is a terminal that wants colour:
// a tty, TERM not "dumb", and NO_COLOR (no-color.org) unset.
func colorTerminal(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(f)
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// ANSI SGR sequences.
const (
	cReset  = "\x1b[0m"
	cBold   = "\x1b[1m"
	cDim    = "\x1b[2m"
	cRed    = "\x1b[31m"
	cGreen  = "\x1b[32m"
	cYellow = "\x1b[33m"
	cBlue   = "\x1b[34m"
	cCyan   = "\x1b[36m"
	cBoldRd = "\x1b[1;31m"
)

// compact writes one record as a line of text: time, kind, process and
// what matters for triage about that kind. Every string from the record
// goes through appendSafe, so a path with a newline, an escape sequence or
// invalid UTF-8 can neither break the line nor drive the terminal.
type compact struct {
	b     []byte
	color bool
}

func (c *compact) paint(code string, f func()) {
	if c.color {
		c.b = append(c.b, code...)
	}
	f()
	if c.color {
		c.b = append(c.b, cReset...)
	}
}

func (c *compact) word(s string) {
	c.b = append(c.b, ' ')
	c.b = append(c.b, s...)
}

func (c *compact) kv(k, v string) {
	c.b = append(c.b, ' ')
	c.b = append(c.b, k...)
	c.b = append(c.b, '=')
	c.b = appendSafe(c.b, v)
}

func appendCompact(dst []byte, r *event.Record, color bool) []byte {
	c := &compact{b: dst, color: color}
	c.paint(cDim, func() { c.b = r.Time.UTC().AppendFormat(c.b, "2006-01-02T15:04:05.000Z07:00") })
	c.b = append(c.b, ' ')
	switch r.Kind {
	case event.KindProcessLaunch:
		c.paint(cBlue, func() { c.b = append(c.b, "launch "...) })
		c.process(r.Process, true)
	case event.KindNetworkConnection:
		c.paint(cCyan, func() { c.b = append(c.b, "connect"...) })
		c.process(r.Process, false)
		c.network(r.Network)
	case event.KindDetection:
		c.detection(r.Detection)
	case event.KindSensorHealth:
		c.paint(cGreen, func() { c.b = append(c.b, "health "...) })
		c.health(r.Health)
	case event.KindLibraryLoad:
		c.paint(cBlue, func() { c.b = append(c.b, "library"...) })
		c.process(r.Process, false)
		if l := r.Library; l != nil {
			c.b = append(c.b, " lib="...)
			c.b = appendSafe(c.b, l.Path)
			c.exe("", l.SHA256, l.HashStatus, l.Trust, l.PathClasses)
			if l.Preload != "" {
				c.kv("preload", l.Preload)
			}
			if l.Via != "mmap" {
				c.kv("via", l.Via)
			}
		}
	case event.KindHashUpdate:
		c.paint(cDim, func() { c.b = append(c.b, "hash   "...) })
		c.kv("ref", r.RefID)
		c.process(r.Process, false)
	case event.KindDNSQuery:
		c.paint(cCyan, func() { c.b = append(c.b, "dns    "...) })
		c.process(r.Process, false)
		c.dns(r.DNS)
	default:
		c.b = appendSafe(c.b, string(r.Kind))
	}
	return c.b
}

// process writes comm[pid], the executable with its hash and verdict, and
// for a launch, the script, parent, user and arguments.
func (c *compact) process(p *event.Process, launch bool) {
	if p == nil {
		return
	}
	c.b = append(c.b, ' ')
	name := p.Comm
	if name == "" {
		name = exeName(p)
	}
	c.paint(cBold, func() {
		c.b = appendSafe(c.b, name)
		c.b = append(c.b, '[')
		c.b = strconv.AppendUint(c.b, uint64(p.PID), 10)
		c.b = append(c.b, ']')
	})
	c.exe(p.Exe.Path, p.Exe.SHA256, p.Exe.HashStatus, p.Exe.Trust, p.Exe.PathClasses)
	if p.Exe.Memfd {
		c.word("memfd")
	}
	if p.Exe.Deleted {
		c.word("deleted")
	}
	if !launch {
		return
	}
	if s := p.Script; s != nil {
		c.b = append(c.b, " script="...)
		c.b = appendSafe(c.b, s.Path)
		c.exe("", s.SHA256, s.HashStatus, s.Trust, s.PathClasses)
	}
	for _, v := range p.LoaderEnv {
		c.kv(v.Name, v.Value)
		if len(v.PathClasses) > 0 {
			c.b = append(c.b, '[')
			c.b = appendSafe(c.b, strings.Join(v.PathClasses, ","))
			c.b = append(c.b, ']')
		}
	}
	c.b = append(c.b, " uid="...)
	c.b = strconv.AppendUint(c.b, uint64(p.UID), 10)
	if p.EUID != p.UID {
		c.b = append(c.b, " euid="...)
		c.b = strconv.AppendUint(c.b, uint64(p.EUID), 10)
	}
	if p.Parent != nil {
		c.b = append(c.b, " parent="...)
		c.b = appendSafe(c.b, p.Parent.Comm)
		c.b = append(c.b, '[')
		c.b = strconv.AppendUint(c.b, uint64(p.Parent.PID), 10)
		c.b = append(c.b, ']')
		if p.Parent.Exe.Path != "" {
			c.b = append(c.b, ' ')
			c.b = appendSafe(c.b, p.Parent.Exe.Path)
		}
	}
	if len(p.Args) > 0 {
		c.b = append(c.b, " args:"...)
		for _, a := range p.Args {
			c.b = append(c.b, ' ')
			c.b = appendSafe(c.b, a)
		}
		if p.ArgsTruncated {
			c.b = append(c.b, " ..."...)
		}
	}
}

// exe writes a path (when given), its verdict, path classes and hash.
func (c *compact) exe(path, sha, status string, t *event.Trust, classes []string) {
	if path != "" {
		c.b = append(c.b, ' ')
		c.b = appendSafe(c.b, path)
	}
	if t != nil {
		code := cYellow
		if t.Severity == "INFORMATIONAL" {
			code = cGreen
		}
		c.b = append(c.b, ' ')
		c.paint(code, func() { c.b = appendSafe(c.b, t.Verdict) })
		if t.Package != "" {
			c.b = append(c.b, '(')
			c.b = appendSafe(c.b, t.Package)
			c.b = append(c.b, ')')
		}
	}
	if len(classes) > 0 {
		c.b = append(c.b, ' ')
		c.paint(cYellow, func() {
			c.b = append(c.b, '[')
			for i, cl := range classes {
				if i > 0 {
					c.b = append(c.b, ',')
				}
				c.b = appendSafe(c.b, cl)
			}
			c.b = append(c.b, ']')
		})
	}
	switch {
	case sha != "":
		c.kv("sha256", sha)
	case status != "":
		c.kv("hash", status)
	}
}

func (c *compact) network(n *event.Network) {
	if n == nil {
		return
	}
	c.b = append(c.b, " -> "...)
	if n.DstHostname != "" {
		c.b = appendSafe(c.b, n.DstHostname)
		c.b = append(c.b, ' ')
	}
	c.b = appendSafe(c.b, hostPort(n.DstIP, n.DstPort))
	c.b = append(c.b, '/')
	c.b = appendSafe(c.b, n.Protocol)
	if n.External != nil {
		if *n.External {
			c.b = append(c.b, ' ')
			c.paint(cRed, func() { c.b = append(c.b, "external"...) })
		} else {
			c.word("internal")
		}
	}
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, n.Result)
	if n.Source != "" {
		c.kv("source", n.Source)
	}
	if n.Count != 0 {
		c.kv("count", strconv.FormatUint(n.Count, 10))
	}
}

// dns writes the question, its response code and what the name resolved
// to, and who answered.
func (c *compact) dns(d *event.DNS) {
	if d == nil {
		return
	}
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, d.Name)
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, d.Type)
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, d.RCode)
	if len(d.ResolvedIPs) > 0 {
		c.b = append(c.b, " ="...)
		for _, ip := range d.ResolvedIPs {
			c.b = append(c.b, ' ')
			c.b = appendSafe(c.b, ip)
		}
	}
	c.b = append(c.b, " from "...)
	c.b = appendSafe(c.b, hostPort(d.ServerIP, d.ServerPort))
	c.b = append(c.b, '/')
	c.b = appendSafe(c.b, d.Transport)
	if d.Truncated || d.Partial {
		c.word("partial")
	}
}

func hostPort(ip string, port uint16) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.Itoa(int(port))
	}
	return ip + ":" + strconv.Itoa(int(port))
}

func (c *compact) detection(d *event.Detection) {
	c.paint(cBoldRd, func() { c.b = append(c.b, "DETECT "...) })
	if d == nil {
		return
	}
	c.b = append(c.b, ' ')
	c.paint(cBoldRd, func() { c.b = appendSafe(c.b, d.Rule) })
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, d.Severity)
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, d.Technique)
	if len(d.Novelty) > 0 {
		c.b = append(c.b, " new:"...)
		c.b = appendSafe(c.b, strings.Join(d.Novelty, ","))
	}
	if d.Degraded {
		c.b = append(c.b, ' ')
		c.paint(cYellow, func() { c.b = append(c.b, "DEGRADED"...) })
	}
	_, proc := detectionProcess(d)
	if proc != nil {
		c.process(proc, false)
	}
	if n := detectionNetwork(d); n != nil {
		c.network(n)
	}
	if proc == nil && d.SHA256 != "" {
		c.kv("sha256", d.SHA256)
	}
	if d.Connections > 1 {
		c.b = append(c.b, " connections="...)
		c.b = strconv.AppendInt(c.b, int64(d.Connections), 10)
	}
	if d.Summary != "" {
		c.b = append(c.b, " summary="...)
		c.b = appendSafe(c.b, d.Summary)
	}
}

func (c *compact) health(h *event.Health) {
	if h == nil {
		return
	}
	c.b = append(c.b, ' ')
	c.b = appendSafe(c.b, h.State)
	lost := h.EventsLost + h.EventsDropped + h.DecodeErrors
	c.b = append(c.b, " lost="...)
	if lost > 0 {
		c.paint(cRed, func() { c.b = strconv.AppendUint(c.b, lost, 10) })
	} else {
		c.b = strconv.AppendUint(c.b, 0, 10)
	}
	if lost > 0 {
		c.b = append(c.b, " (kernel="...)
		c.b = strconv.AppendUint(c.b, h.EventsLost, 10)
		c.b = append(c.b, " dropped="...)
		c.b = strconv.AppendUint(c.b, h.EventsDropped, 10)
		c.b = append(c.b, " decode="...)
		c.b = strconv.AppendUint(c.b, h.DecodeErrors, 10)
		c.b = append(c.b, ')')
	}
	attached := 0
	var down []string
	for _, hk := range h.Hooks {
		if hk.Attached {
			attached++
		} else {
			down = append(down, hk.Name)
		}
	}
	if len(h.Hooks) > 0 {
		c.b = append(c.b, " hooks="...)
		c.b = strconv.AppendInt(c.b, int64(attached), 10)
		c.b = append(c.b, '/')
		c.b = strconv.AppendInt(c.b, int64(len(h.Hooks)), 10)
		if len(down) > 0 {
			c.b = append(c.b, ' ')
			c.paint(cYellow, func() {
				c.b = append(c.b, "unattached:"...)
				c.b = appendSafe(c.b, strings.Join(down, ","))
			})
		}
	}
	c.b = append(c.b, " processes="...)
	c.b = strconv.AppendInt(c.b, int64(h.Processes), 10)
	var outDropped uint64
	for _, o := range h.Outputs {
		outDropped += o.Dropped
	}
	if outDropped > 0 || h.WriteErrors > 0 {
		c.b = append(c.b, ' ')
		c.paint(cRed, func() {
			c.b = append(c.b, "output_dropped="...)
			c.b = strconv.AppendUint(c.b, outDropped, 10)
			c.b = append(c.b, " write_errors="...)
			c.b = strconv.AppendUint(c.b, h.WriteErrors, 10)
		})
	}
	if h.LastError != "" {
		c.kv("last_error", h.LastError)
	}
	if h.UptimeSeconds > 0 {
		c.b = append(c.b, " up="...)
		c.b = append(c.b, (time.Duration(h.UptimeSeconds) * time.Second).String()...)
	}
}

// appendSafe appends s as is when it is a plain word (valid UTF-8,
// printable, no spaces or quotes), else as a Go-quoted string: control
// characters, escape sequences, bidirectional overrides and invalid bytes
// come out as visible escapes, never as themselves. "" is written "".
func appendSafe(b []byte, s string) []byte {
	if s == "" {
		return append(b, `""`...)
	}
	plain := utf8.ValidString(s)
	if plain {
		for _, r := range s {
			if r == ' ' || r == '"' || r == '\\' || !strconv.IsPrint(r) {
				plain = false
				break
			}
		}
	}
	if plain {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}
