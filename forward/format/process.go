package format

import (
	"path"
	"strconv"

	"github.com/argus-sensor/argus-sensor/event"
)

// The process helpers every record format shares: one reading of a
// process's name, identity and parent, so the formats differ only in the
// field names they write them under.

// exeName is the program name a SIEM shows: the executable's base name,
// else the kernel's comm.
func exeName(p *event.Process) string {
	if p.Exe.Path != "" {
		return path.Base(p.Exe.Path)
	}
	return p.Comm
}

// appendProcessID appends, escaped for the inside of a JSON string, a
// process identity that survives pid reuse and reboots:
// (boot id, pid, start time), as docs/schema.md defines it.
func appendProcessID(b []byte, bootID string, p *event.Process) []byte {
	b = append(b, "argus:"...)
	b = event.AppendEscaped(b, bootID)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(p.PID), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, p.StartTimeNs, 10)
}

// processID writes k: the process identity (appendProcessID) as a string.
func (w *jw) processID(k, bootID string, p *event.Process) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = appendProcessID(w.b, bootID, p)
	w.b = append(w.b, '"')
}

// parentAncestor is the first ancestor when it is the parent, whose argv
// the launch record does not otherwise carry.
func parentAncestor(p *event.Process) *event.Ancestor {
	if len(p.Ancestors) > 0 && p.Ancestors[0].PID == p.PPID {
		return &p.Ancestors[0]
	}
	return nil
}

// parent is what a record says about a process's parent.
type parent struct {
	pid     uint32
	exePath string
	comm    string
	// args is the parent's argv, from the first ancestor when it is the
	// parent; nil otherwise.
	args []string
}

// parentOf reads p's parent from the record: ok is false when the record
// names none (ppid 0 and no parent block).
func parentOf(p *event.Process) (par parent, ok bool) {
	if p.PPID == 0 && p.Parent == nil {
		return parent{}, false
	}
	par.pid = p.PPID
	if p.Parent != nil {
		par.exePath, par.comm = p.Parent.Exe.Path, p.Parent.Comm
	}
	if a := parentAncestor(p); a != nil {
		par.args = a.Args
	}
	return par, true
}
