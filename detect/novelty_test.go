package detect

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

func withAge(age int64, execs uint64) recOpt {
	return func(r *event.Record) {
		r.Process.Exe.AgeSeconds, r.Process.Exe.AgeSource = &age, "btime"
		r.Process.Exe.Prevalence = &event.Prevalence{FirstSeen: t0, Executions: execs}
	}
}

func withScriptAge(age int64, execs uint64) recOpt {
	return func(r *event.Record) {
		r.Process.Script.AgeSeconds = &age
		r.Process.Script.Prevalence = &event.Prevalence{FirstSeen: t0, Executions: execs}
	}
}

// New and rare binaries raise the severity; an established one keeps
// HIGH and still fires, with its prevalence in the launch it carries.
func TestNovelty(t *testing.T) {
	day := int64(24 * 3600)
	for _, tc := range []struct {
		name     string
		cfg      Novelty
		opts     []recOpt
		severity string
		novelty  []string
	}{
		{"no age or prevalence known", Novelty{}, nil, "HIGH", nil},
		{"compiled seconds ago, first run", Novelty{}, []recOpt{withAge(5, 1)}, "CRITICAL", []string{"new_file", "rare"}},
		{"new file, run often", Novelty{}, []recOpt{withAge(3600, 50)}, "CRITICAL", []string{"new_file"}},
		{"old file, first run here", Novelty{}, []recOpt{withAge(90*day, 1)}, "CRITICAL", []string{"rare"}},
		{"age exactly the bound", Novelty{}, []recOpt{withAge(day, 99)}, "CRITICAL", []string{"new_file"}},
		{"age one second past the bound", Novelty{}, []recOpt{withAge(day+1, 99)}, "HIGH", nil},
		{"executions exactly the bound", Novelty{}, []recOpt{withAge(90*day, 3)}, "CRITICAL", []string{"rare"}},
		{"executions one past the bound", Novelty{}, []recOpt{withAge(90*day, 4)}, "HIGH", nil},
		{"persistent implant, weeks old, run daily: still fires", Novelty{}, []recOpt{withAge(30*day, 400)}, "HIGH", nil},
		{"established lowered by configuration", Novelty{EstablishedSeverity: "MEDIUM"}, []recOpt{withAge(30*day, 400)}, "MEDIUM", nil},
		{"age condition disabled", Novelty{MaxAge: -1}, []recOpt{withAge(5, 100)}, "HIGH", nil},
		{"executions condition disabled", Novelty{MaxExecutions: -1}, []recOpt{withAge(90*day, 1)}, "HIGH", nil},
		{"custom bounds", Novelty{MaxAge: time.Hour, MaxExecutions: 10, NewSeverity: "HIGH", EstablishedSeverity: "MEDIUM"},
			[]recOpt{withAge(7200, 10)}, "HIGH", []string{"rare"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, _, _ := replay(t, Config{Novelty: tc.cfg},
				launch("h", 0, 10, "/tmp/x", shaImplant, unowned, tc.opts...),
				connect("h", time.Minute, 10, "/tmp/x", shaImplant, "192.0.2.1"))
			if len(dets) != 1 {
				t.Fatalf("%d detections, want 1", len(dets))
			}
			d := dets[0].Detection
			if d.Severity != tc.severity || !reflect.DeepEqual(d.Novelty, tc.novelty) {
				t.Errorf("severity %s novelty %v, want %s %v", d.Severity, d.Novelty, tc.severity, tc.novelty)
			}
		})
	}
}

// The identity that matched decides: a new script run by an old,
// packaged interpreter is new.
func TestNoveltyOfScript(t *testing.T) {
	dets, _, _ := replay(t, Config{},
		launch("h", 0, 10, "/usr/bin/python3", shaPython, verified, withAge(400*24*3600, 10000),
			withScript("/tmp/.n2/pay", shaPayload, unowned), withScriptAge(20, 1)),
		connect("h", time.Minute, 10, "/usr/bin/python3", shaPython, "192.0.2.1", withScript("/tmp/.n2/pay", shaPayload, unowned)))
	if len(dets) != 1 {
		t.Fatalf("%d detections", len(dets))
	}
	if d := dets[0].Detection; d.Severity != "CRITICAL" || strings.Join(d.Novelty, ",") != "new_file,rare" {
		t.Errorf("script detection: %s %v", d.Severity, d.Novelty)
	}
}

func TestNoveltyConfigErrors(t *testing.T) {
	for _, n := range []Novelty{{NewSeverity: "SEVERE"}, {EstablishedSeverity: "high"}} {
		if _, err := New(Config{Novelty: n}); err == nil || !strings.Contains(err.Error(), "severity") {
			t.Errorf("New(%+v) = %v", n, err)
		}
	}
}
