package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A transcript is a console log cut into the steps /init framed with
// markers (the host column writes the same markers itself):
//
//	ARGUS-KM kernel RELEASE mode=MODE ...
//	ARGUS-KM begin NAME
//	... the step's output ...
//	ARGUS-KM end NAME rc=N secs=S
//	ARGUS-KM note TEXT
//	ARGUS-KM done
type transcript struct {
	Kernel string // uname -r as the guest saw it
	Steps  []step
	Notes  []string // what the guest wants the report to say
	Done   bool     // every step ran and /init reached its end
	Panic  string   // the kernel's panic line, if it panicked
}

type step struct {
	Name   string
	Ended  bool
	RC     int
	Secs   float64
	Output []string
}

const marker = "ARGUS-KM "

// Terminal control sequences SeaBIOS and the kernel write to the console.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|[@-Z\\-_]|c)`)

// cleanLog removes carriage returns and terminal control sequences.
func cleanLog(b []byte) string {
	return ansi.ReplaceAllString(strings.ReplaceAll(string(b), "\r", ""), "")
}

func parseTranscript(log string) transcript {
	var tr transcript
	var cur *step
	for _, line := range strings.Split(log, "\n") {
		if i := strings.Index(line, "Kernel panic"); i >= 0 && tr.Panic == "" {
			tr.Panic = strings.TrimSpace(line[i:])
		}
		i := strings.Index(line, marker)
		if i < 0 {
			if cur != nil {
				cur.Output = append(cur.Output, line)
			}
			continue
		}
		f := strings.Fields(line[i+len(marker):])
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "kernel":
			if len(f) > 1 {
				tr.Kernel = f[1]
			}
		case "begin":
			if len(f) > 1 {
				tr.Steps = append(tr.Steps, step{Name: f[1]})
				cur = &tr.Steps[len(tr.Steps)-1]
			}
		case "end":
			if cur != nil && len(f) > 1 && f[1] == cur.Name {
				cur.Ended = true
				for _, kv := range f[2:] {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "rc":
						cur.RC, _ = strconv.Atoi(v)
					case "secs":
						cur.Secs, _ = strconv.ParseFloat(v, 64)
					}
				}
			}
			cur = nil
		case "note":
			tr.Notes = append(tr.Notes, strings.Join(f[1:], " "))
		case "done":
			tr.Done = true
			cur = nil
		}
	}
	return tr
}

func (tr transcript) step(name string) *step {
	for i := range tr.Steps {
		if tr.Steps[i].Name == name {
			return &tr.Steps[i]
		}
	}
	return nil
}

// lines returns the output lines of every step that contain any of subs.
func (tr transcript) lines(subs ...string) []string {
	var out []string
	for _, s := range tr.Steps {
		for _, l := range s.Output {
			for _, sub := range subs {
				if strings.Contains(l, sub) {
					out = append(out, strings.TrimSpace(l))
					break
				}
			}
		}
	}
	return out
}

// connectHooks names the connect hook variant check attached.
func (tr transcript) connectHooks() string {
	s := tr.step("check")
	if s == nil {
		return "-"
	}
	for _, l := range s.Output {
		if strings.HasPrefix(l, "hook connect_enter") {
			return "legacy enter/exit"
		}
	}
	for _, l := range s.Output {
		if strings.HasPrefix(l, "hook connect ") && strings.Contains(l, " yes ") {
			return "single exit"
		}
	}
	return "-"
}

// Steps each mode must run, in order.
var modeSteps = map[string][]string{
	"full":   {"check", "sensor-tests", "cmd-tests"},
	"refuse": {"check", "run"},
}

// judge decides whether a transcript passes scenario sc.
func judge(sc scenario, tr transcript) error {
	var errs []error
	for _, name := range modeSteps[sc.Mode] {
		s := tr.step(name)
		switch {
		case s == nil:
			errs = append(errs, fmt.Errorf("%s: never ran", name))
			continue
		case !s.Ended:
			errs = append(errs, fmt.Errorf("%s: never finished", name))
			continue
		}
		if l := firstContaining(s.Output, "panic:", "fatal error:"); l != "" {
			errs = append(errs, fmt.Errorf("%s: %s", name, l))
		}
		switch sc.Mode {
		case "full":
			if s.RC != 0 {
				err := fmt.Errorf("%s: exit %d", name, s.RC)
				if fails := failedTests(s.Output); len(fails) > 0 {
					err = fmt.Errorf("%w: %s", err, strings.Join(fails, ", "))
				}
				errs = append(errs, err)
			}
		case "refuse":
			// Exit 1 with the reason: not 0 (a silent half-start), not a
			// crash, not a hang cut by timeout (124, 143).
			if s.RC != 1 {
				errs = append(errs, fmt.Errorf("%s: exit %d, want 1 (refusal)", name, s.RC))
			}
			if firstContaining(s.Output, sc.Expect) == "" {
				errs = append(errs, fmt.Errorf("%s: no %q in its output", name, sc.Expect))
			}
		}
	}
	if tr.Panic != "" {
		errs = append(errs, errors.New(tr.Panic))
	}
	if !tr.Done && len(errs) == 0 {
		errs = append(errs, errors.New("/init did not reach its end"))
	}
	return errors.Join(errs...)
}

func firstContaining(lines []string, subs ...string) string {
	for _, l := range lines {
		for _, s := range subs {
			if strings.Contains(l, s) {
				return strings.TrimSpace(l)
			}
		}
	}
	return ""
}

// failedTests lists the top-level tests go test -v reported as failed.
func failedTests(lines []string) []string {
	var out []string
	for _, l := range lines {
		if n, ok := strings.CutPrefix(l, "--- FAIL: "); ok {
			out = append(out, strings.Fields(n)[0])
		}
	}
	return out
}

// skippedTests lists the tests go test -v reported as skipped.
func skippedTests(tr transcript) []string {
	var out []string
	for _, l := range tr.lines("--- SKIP: ") {
		_, n, _ := strings.Cut(l, "--- SKIP: ")
		if f := strings.Fields(n); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}
