package atomics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
)

// report is docs/atomic-results.md: a row per atomic with what was
// expected, what the sensor reported, and the verdict. Apart from record
// ids, the throwaway signing key's id, digests and the header's date,
// kernel and version, the same run on the same code writes the same file.
type report struct {
	runs     []*caseRun
	start    time.Time
	version  string
	setupErr string
	unit     string // the service run against (-atomics.service), or ""
	output   string // its file output
	health   *event.Health
	others   []*event.Record // detections from processes no atomic started
	done     bool
}

// finish judges every atomic on the complete output.
func (rep *report) finish(out *output) {
	ours := map[string]bool{}
	for _, r := range rep.runs {
		if r.prereqErr != "" {
			continue
		}
		r.checks = evaluate(r, out)
		if r.ran && r.skipped == "" {
			for _, d := range out.attribute(r.shell, r.start.Add(-time.Second), r.end.Add(time.Second)).dets {
				ours[d.ID] = true
			}
		}
	}
	for _, d := range out.detections() {
		if !ours[d.ID] {
			rep.others = append(rep.others, d)
		}
	}
	if st := out.stopped(); st != nil {
		rep.health = st.Health
	}
	rep.done = true
}

func (r *caseRun) result() string {
	switch {
	case r.skipped != "":
		return "skipped: " + r.skipped
	case !r.ran:
		return "not run"
	}
	for _, c := range r.checks {
		if !c.ok {
			return "**FAIL**"
		}
	}
	return "pass"
}

// write writes the report to path (relative to the package directory).
func (rep *report) write(t *testing.T, path string) {
	if path == "" {
		return
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Atomic test results: T1587 Develop Capabilities\n\n")
	w("Written by the atomics runner (`atomics/runner_test.go`) from a run against the real sensor; do not edit by hand.\n")
	w("Regenerate, as root, with `go test ./atomics/ -run TestAtomicT1587 -v` or `atomics/run.sh` (see atomics/README.md).\n\n")
	var u unix.Utsname
	kernel := "unknown"
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	w("Run of %s on Linux %s with %s.\n\n", rep.start.Format(time.RFC3339), kernel, orUnknown(rep.version))
	w("Each atomic's command ran exactly as written in its YAML file, with its arguments' defaults except `netns_exec` (and `netns_path`, the container atomic's), ")
	w("which points into a network namespace pair the runner made (192.0.2.1 and 10.9.0.1 live in the server namespace, ")
	w("so no packet leaves the machine), and `payload_dir`, which is %s/.n2. ", throwawayHome)
	if rep.unit != "" {
		w("The sensor was the installed `%s` systemd service, with the package's configuration and its file output `%s`; ", rep.unit, rep.output)
		w("everything observed comes from that file, and the ids are the sensor's record and detection ids.\n\n")
	} else {
		w("The sensor ran as `argus-sensor run --output file:… --spool-dir … --state-dir … --health-interval 0`; everything observed comes ")
		w("from that output file, and the ids are the sensor's record and detection ids.\n\n")
	}

	if rep.setupErr != "" {
		w("**The run did not complete: %s.**\n\n", rep.setupErr)
	}
	pass, total := 0, 0
	for _, r := range rep.runs {
		if r.ran && r.skipped == "" {
			total++
			if r.result() == "pass" {
				pass++
			}
		}
	}
	if rep.done {
		w("**%d of %d pass.**", pass, total)
		if n := len(rep.runs) - total; n > 0 {
			w(" %d not run or skipped.", n)
		}
		if h := rep.health; h != nil {
			w(" Sensor at stop: events_lost %d, events_dropped %d.", h.EventsLost, h.EventsDropped)
			if h.EventsLost > 0 || h.EventsDropped > 0 {
				w(" **The sensor missed events: something else loaded the host during the run, and results may be incomplete.**")
			}
		}
		w("\n\n")
	}

	w("| # | Atomic | Expected | Observed | Result |\n|---|---|---|---|---|\n")
	for _, r := range rep.runs {
		checks := r.checks
		if checks == nil {
			checks = evaluate(r, newOutput(""))
		}
		var want, got []string
		for i, c := range checks {
			want = append(want, fmt.Sprintf("%d. %s", i+1, c.want))
			mark := "✓"
			if !c.ok {
				mark = "✗"
			}
			got = append(got, fmt.Sprintf("%d. %s %s", i+1, mark, c.got))
		}
		observed := strings.Join(got, "<br>")
		if !r.ran || r.skipped != "" || !rep.done {
			observed = "—"
		}
		w("| %s | %s<br>`%s` #%d | %s | %s | %s |\n", r.spec.id, cell(r.spec.name), r.spec.file, r.number,
			cell(strings.Join(want, "<br>")), cell(observed), cell(r.result()))
	}
	if len(rep.others) > 0 {
		w("\n## Other detections during the run\n\n")
		w("Detections of processes no atomic started (the sensor watches the whole host):\n\n")
		for _, d := range rep.others {
			w("- `%s` %s: %s\n", d.ID, d.Detection.Rule, cell(d.Detection.Summary))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Errorf("write results: %v", err)
		return
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("write results: %v", err)
		return
	}
	abs, _ := filepath.Abs(path)
	t.Logf("results written to %s", abs)
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown argus-sensor version"
	}
	return s
}
