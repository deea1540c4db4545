package enrich

import (
	"strconv"
	"time"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// Item is a record on its way out, with the process entry whose hashes it
// waits for.
type Item struct {
	Rec  *event.Record
	proc *Proc
	lib  *library // on a library_load
}

// Out is a record enrich is done with, and where it goes next: the caller
// sends it to the outputs, to the rules, or both, side by side.
type Out struct {
	Rec *event.Record
	// Send: the record goes to the outputs.
	Send bool
	// Observe: the record goes to the rules. A record that went out while
	// its executable's hash was pending is kept from the rules, which join
	// on sha256, and comes back to them alone once the hash is known.
	Observe bool
}

// queued is a record waiting in order.
type queued struct {
	it       Item
	deadline time.Time // when it goes out, hashes known or not
	size     int       // approxSize of the record, for the byte bound
}

// approxSize estimates the memory a queued record holds: its variable
// parts (argv, paths, ancestry) and a fixed allowance for the rest. With
// long argv and paths a count alone bounds nothing useful.
func approxSize(r *event.Record) int {
	n := 512
	if p := r.Process; p != nil {
		for _, a := range p.Args {
			n += len(a) + 16
		}
		n += len(p.Cwd) + len(p.Exe.Path) + len(p.Comm)
		if p.Script != nil {
			n += len(p.Script.Path) + 128
		}
		if p.Parent != nil {
			n += 256
		}
		n += len(p.Ancestors) * 256
	}
	return n
}

// Handle takes an event from the sensor: the process table learns from
// it, and the records it makes join the order.
func (e *Enricher) Handle(ev sensor.Event) {
	e.enqueue(e.handle(ev, e.items[:0]))
}

func (e *Enricher) enqueue(items []Item) {
	deadline := time.Now().Add(e.opts.HashWait)
	for _, it := range items {
		sz := approxSize(it.Rec)
		e.queueBytes += int64(sz)
		e.queue = append(e.queue, queued{it: it, deadline: deadline, size: sz})
	}
	e.items = items[:0]
}

// Full reports whether QueueLimit records, or QueueBytes of them, wait in
// order: the caller stops taking events until Ready lets some go.
func (e *Enricher) Full() bool {
	return len(e.queue) >= e.opts.QueueLimit || e.queueBytes >= e.opts.QueueBytes
}

// Ready returns, in order, the records at the head of the order that are
// done by now: their hashes are known, or they have waited HashWait and go
// out with hash_status "pending" (Tick follows them up). wait closes when
// the first record still waiting has its hashes, and until is when it goes
// out regardless; wait is nil when no record waits. The slice is valid
// until the next call.
func (e *Enricher) Ready(now time.Time) (out []Out, wait <-chan struct{}, until time.Time) {
	out = e.out[:0]
	i := 0
	for ; i < len(e.queue); i++ {
		q := e.queue[i]
		if e.finalize(q.it) {
			if now.Before(q.deadline) {
				break
			}
			e.addLate(q.it)
		}
		out = appendDone(out, q.it.Rec)
	}
	for _, q := range e.queue[:i] {
		e.queueBytes -= int64(q.size)
	}
	e.queue = e.queue[:copy(e.queue, e.queue[i:])]
	e.out = out
	if len(e.queue) == 0 {
		return out, nil, time.Time{}
	}
	return out, e.wait(e.queue[0].it), e.queue[0].deadline
}

// Tick does what is due by now: interrupted connects that no restarted
// call followed join the order, and records that went out with a pending
// hash come back once it is known: the hash_update to send, and the
// completed record for the rules. The slice is valid until the next call.
func (e *Enricher) Tick(now time.Time) []Out {
	e.sweepContainers(now)
	e.enqueue(e.flush(now, e.items[:0]))
	e.out = e.followUps(e.out[:0])
	return e.out
}

// Drain lets every record go, waiting for nothing: the events have ended.
func (e *Enricher) Drain() []Out {
	e.enqueue(e.flush(time.Time{}, e.items[:0]))
	out := e.out[:0]
	for _, q := range e.queue {
		if e.finalize(q.it) {
			e.addLate(q.it)
		}
		out = appendDone(out, q.it.Rec)
	}
	e.queue = e.queue[:0]
	e.queueBytes = 0
	e.out = e.followUps(out)
	return e.out
}

// appendDone sends rec out, and to the rules unless its executable's hash
// is pending.
func appendDone(out []Out, rec *event.Record) []Out {
	pending := rec.Process != nil && rec.Process.Exe.HashStatus == string(hasher.StatusPending) ||
		rec.Library != nil && rec.Library.HashStatus == string(hasher.StatusPending)
	return append(out, Out{Rec: rec, Send: true, Observe: !pending})
}

// addLate keeps a record that went out with a pending hash, to follow it
// up; past lateLimit the oldest is given up on and counted.
func (e *Enricher) addLate(it Item) {
	if len(e.late) >= lateLimit {
		e.late = e.late[1:]
		e.stats.LateDropped++
	}
	e.late = append(e.late, it)
}

// followUps completes the records that went out before their hash was
// ready and whose hashes are now known: the hash_update goes out, and the
// completed record reaches the rules.
func (e *Enricher) followUps(out []Out) []Out {
	kept := e.late[:0]
	for _, it := range e.late {
		if e.wait(it) != nil {
			kept = append(kept, it)
			continue
		}
		if up := e.followUp(it); up != nil {
			out = append(out, Out{Rec: up, Send: true})
		}
		out = append(out, Out{Rec: it.Rec, Observe: true})
	}
	e.late = kept
	return out
}

// finalize fills the record's digests and trust from its process's hash
// results. A hash not ready yet is left as hash_status "pending" and
// finalize returns true: call followUp once wait's channel closes.
func (e *Enricher) finalize(it Item) (pending bool) {
	p, proc := it.proc, it.Rec.Process
	if it.lib != nil && !e.finishLibrary(it.lib) {
		pending = true
	}
	if p == nil || proc == nil {
		return pending
	}
	if it.Rec.Kind == event.KindNetworkConnection {
		var wait bool
		proc.Libraries, wait = e.connectionLibraries(p)
		pending = pending || wait
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
		key, kind := storeKey(res, exe.Device, exe.Inode, exe.CtimeNs)
		e.notePrevalence(it.Rec, key, kind, exe.Path, res.Birth, &exe.AgeSeconds, &exe.AgeSource, &exe.Prevalence)
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
				if old := proc.Script; old != nil && old.Path == out.Path {
					out.AgeSeconds, out.AgeSource, out.Prevalence = old.AgeSeconds, old.AgeSource, old.Prevalence
				}
				key, kind := storeKey(res, s.id.Dev, s.id.Ino, s.id.CtimeNs)
				e.notePrevalence(it.Rec, key, kind, s.path, res.Birth, &out.AgeSeconds, &out.AgeSource, &out.Prevalence)
			} else {
				out.HashStatus = string(hasher.StatusPending)
				pending = true
			}
		}
		proc.Script = out
	}
	return pending
}

// wait returns a channel that closes when the item's pending hashes are
// known, or nil if none is pending.
func (e *Enricher) wait(it Item) <-chan struct{} {
	if it.lib != nil {
		if ch := libraryWait([]*library{it.lib}); ch != nil {
			return ch
		}
	}
	p := it.proc
	if p == nil {
		return nil
	}
	if it.Rec.Kind == event.KindNetworkConnection {
		if ch := libraryWait(p.libs); ch != nil {
			return ch
		}
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

// followUp completes a record that went out with a pending hash: it fills
// it.Rec in place (so the detection rules can see the digest), and for a
// process_launch returns the hash_update record that carries the hash to
// the output. Connections sent while pending need no record of their own:
// the launch's hash_update names the same process.
func (e *Enricher) followUp(it Item) *event.Record {
	e.finalize(it)
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
			Container:   r.Process.Container,
			K8s:         r.Process.K8s,
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
	var v signature.Trust
	if ctr := p.ctr; ctr != nil {
		// Judged by the container's own packages, its file looked up
		// through its root; never by the host's.
		if !exe.Deleted && !exe.Memfd {
			in.XattrPath = ""
		}
		v = c.VerdictIn(ctr.Image, e.containerRoot(p), in)
	} else {
		v = c.Verdict(in)
	}
	t := &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	p.trust[slot] = t
	if e.opts.TrustExe != nil && (v.Verdict == signature.PackageVerified || v.Verdict == signature.SignedTrusted) &&
		!exe.Deleted && !exe.Memfd && p.relabel == nil && !classify.IsInterpreter(p.ExePath) {
		e.opts.TrustExe(p.Exe)
	}
	return t
}

func (e *Enricher) scriptTrust(s *script, res hasher.Result) *event.Trust {
	c := e.opts.Trust
	if c == nil {
		return nil
	}
	if s.trust == nil {
		in := signature.Input{
			Path: s.path, XattrPath: s.path, ID: s.id, SHA256: res.SHA256, MD5: res.MD5, HashStatus: hashStatusReason(res),
		}
		var v signature.Trust
		if s.ctr != nil {
			// The container's packages judge it; its xattr is read
			// through the container's root.
			in.XattrPath = ""
			v = c.VerdictIn(s.ctr.Image, s.root, in)
		} else {
			v = c.Verdict(in)
		}
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
