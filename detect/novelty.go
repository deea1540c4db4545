package detect

import (
	"fmt"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// Novelty grades a T1587 detection by how new and rare its binary is on
// the host: an implant was written minutes before it ran and has run a
// handful of times; a monitoring agent in /opt is months old and runs
// daily. New binaries raise the severity; established ones keep it (or,
// if configured, lower it), but still fire: a persistent implant that has
// run for weeks is the same threat with a longer history.
type Novelty struct {
	// MaxAge: a file younger than this at exec is "new_file". Zero means
	// DefaultNoveltyMaxAge; negative disables the condition.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxExecutions: a binary seen executing at most this many times on
	// the host is "rare". Zero means DefaultNoveltyMaxExecutions;
	// negative disables the condition.
	MaxExecutions int `yaml:"max_executions"`
	// NewSeverity is the severity of a detection whose binary is new or
	// rare. Default "CRITICAL".
	NewSeverity string `yaml:"new_severity"`
	// EstablishedSeverity is the severity otherwise. Default "HIGH".
	EstablishedSeverity string `yaml:"established_severity"`
}

// Novelty defaults.
const (
	DefaultNoveltyMaxAge        = 24 * time.Hour
	DefaultNoveltyMaxExecutions = 3
)

var severities = map[string]bool{"INFORMATIONAL": true, "LOW": true, "MEDIUM": true, "HIGH": true, "CRITICAL": true}

func (n Novelty) withDefaults() (Novelty, error) {
	if n.MaxAge == 0 {
		n.MaxAge = DefaultNoveltyMaxAge
	}
	if n.MaxExecutions == 0 {
		n.MaxExecutions = DefaultNoveltyMaxExecutions
	}
	if n.NewSeverity == "" {
		n.NewSeverity = "CRITICAL"
	}
	if n.EstablishedSeverity == "" {
		n.EstablishedSeverity = "HIGH"
	}
	for _, s := range []string{n.NewSeverity, n.EstablishedSeverity} {
		if !severities[s] {
			return n, fmt.Errorf("novelty severity %q: want INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL", s)
		}
	}
	return n, nil
}

// grade sets d's severity and novelty from the age and prevalence of the
// launch's identity with digest sha (its executable or its script).
func (n Novelty) grade(d *event.Detection, launch *event.Record, sha string) {
	d.Severity = n.EstablishedSeverity
	p := launch.Process
	if p == nil || launch.Library != nil {
		return // a library's age and prevalence are not tracked
	}
	age, prev := p.Exe.AgeSeconds, p.Exe.Prevalence
	if p.Exe.SHA256 != sha && p.Script != nil && p.Script.SHA256 == sha {
		age, prev = p.Script.AgeSeconds, p.Script.Prevalence
	}
	if age != nil && n.MaxAge > 0 && time.Duration(*age)*time.Second <= n.MaxAge {
		d.Novelty = append(d.Novelty, "new_file")
	}
	if prev != nil && n.MaxExecutions > 0 && prev.Executions <= uint64(n.MaxExecutions) {
		d.Novelty = append(d.Novelty, "rare")
	}
	if len(d.Novelty) > 0 {
		d.Severity = n.NewSeverity
	}
}
