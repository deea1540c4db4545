package enrich

import (
	"strconv"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/signature"
)

// Item is a record on its way out, with the process entry whose hashes it
// waits for.
type Item struct {
	Rec  *event.Record
	proc *Proc
}

// Finalize fills the record's digests and trust from its process's hash
// results. A hash not ready yet is left as hash_status "pending" and
// Finalize returns true: call FollowUp once Wait's channel closes.
func (e *Enricher) Finalize(it Item) (pending bool) {
	p, proc := it.proc, it.Rec.Process
	if p == nil || proc == nil {
		return false
	}
	exe := &proc.Exe
	switch {
	case p.exeHash != nil:
		res, ok := p.exeHash.Result()
		if !ok {
			exe.HashStatus = string(hasher.StatusPending)
			pending = true
			break
		}
		exe.SHA256, exe.HashStatus = res.SHA256, string(res.Status)
		exe.Trust = e.exeTrust(p, exe, res)
	case p.Source == SourceKernel:
		exe.HashStatus = string(hasher.StatusGone) // exited before it could be read
	}
	if s := p.script; s != nil {
		out := &event.Script{Path: s.path, PathClasses: s.classes}
		if s.hash != nil {
			res, ok := s.hash.Result()
			if ok {
				out.SHA256, out.HashStatus = res.SHA256, string(res.Status)
				out.Trust = e.scriptTrust(s, res)
			} else {
				out.HashStatus = string(hasher.StatusPending)
				pending = true
			}
		}
		proc.Script = out
	}
	return pending
}

// Wait returns a channel that closes when the item's pending hashes are
// known, or nil if none is pending.
func (e *Enricher) Wait(it Item) <-chan struct{} {
	p := it.proc
	if p == nil {
		return nil
	}
	if p.exeHash != nil {
		if _, ok := p.exeHash.Result(); !ok {
			return p.exeHash.Done()
		}
	}
	if p.script != nil && p.script.hash != nil {
		if _, ok := p.script.hash.Result(); !ok {
			return p.script.hash.Done()
		}
	}
	return nil
}

// FollowUp completes a record that went out with a pending hash: it fills
// it.Rec in place (so the detection rules can see the digest), and for a
// process_launch returns the hash_update record that carries the hash to
// the output. Connections sent while pending need no record of their own:
// the launch's hash_update names the same process.
func (e *Enricher) FollowUp(it Item) *event.Record {
	e.Finalize(it)
	r := it.Rec
	if r.Kind != event.KindProcessLaunch {
		return nil
	}
	return &event.Record{
		Schema: event.Schema,
		ID:     r.ID + "-hash",
		Kind:   event.KindHashUpdate,
		Time:   time.Now().UTC(),
		Host:   r.Host,
		RefID:  r.ID,
		Process: &event.Process{
			PID:         r.Process.PID,
			PPID:        r.Process.PPID,
			UID:         r.Process.UID,
			GID:         r.Process.GID,
			EUID:        r.Process.EUID,
			EGID:        r.Process.EGID,
			StartTimeNs: r.Process.StartTimeNs,
			Comm:        r.Process.Comm,
			Args:        r.Process.Args,
			Cwd:         r.Process.Cwd,
			Exe:         r.Process.Exe,
			Script:      r.Process.Script,
			Parent:      r.Process.Parent,
			Ancestors:   r.Process.Ancestors,
			Source:      r.Process.Source,
		},
	}
}

func (e *Enricher) exeTrust(p *Proc, exe *event.Exe, res hasher.Result) *event.Trust {
	c := e.opts.Trust
	if c == nil {
		return nil
	}
	slot := 0
	if exe.Deleted {
		slot = 1
	}
	if t := p.trust[slot]; t != nil {
		return t
	}
	// Where the IMA signature is read. A package-owned file is judged by
	// its database record and its xattr rarely matters; for any other,
	// read through the process while it still runs the very inode: a
	// binary that unlinked or replaced itself after starting is gone from
	// its path but not from /proc/<pid>/exe.
	in := signature.Input{
		Path: exe.Path, XattrPath: exe.Path, ID: exeID(p.Exe), SHA256: res.SHA256, MD5: res.MD5,
		HashStatus: hashStatusReason(res), Memfd: exe.Memfd, Deleted: exe.Deleted,
	}
	procExe := e.root + "/" + strconv.FormatUint(uint64(p.PID), 10) + "/exe"
	if exe.Deleted || exe.Memfd {
		in.XattrPath = procExe
	} else if !p.owned {
		// The checker stats it only when the verdict is not cached.
		in.ProcExe = procExe
	}
	v := c.Verdict(in)
	t := &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	p.trust[slot] = t
	return t
}

func (e *Enricher) scriptTrust(s *script, res hasher.Result) *event.Trust {
	c := e.opts.Trust
	if c == nil {
		return nil
	}
	if s.trust == nil {
		v := c.Verdict(signature.Input{
			Path: s.path, XattrPath: s.path, ID: s.id, SHA256: res.SHA256, MD5: res.MD5, HashStatus: hashStatusReason(res),
		})
		s.trust = &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	}
	return s.trust
}

// hashStatusReason is the hasher's status with its error, for the trust
// verdict's reason.
func hashStatusReason(res hasher.Result) string {
	if res.Status == "" {
		return ""
	}
	if res.Err != nil {
		return string(res.Status) + ": " + res.Err.Error()
	}
	return string(res.Status)
}
