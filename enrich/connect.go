package enrich

import (
	"net/netip"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/procfs"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// InterruptedHold is how long a connect interrupted by a signal is held
// back waiting for the kernel to restart it.
const InterruptedHold = time.Second

// interrupted is a connect record whose call a signal interrupted.
type interrupted struct {
	item Item
	fd   uint64
	dst  netip.AddrPort
	seen time.Time
}

// flush appends to out the interrupted connects that no restarted call
// followed within InterruptedHold of now (all of them if now is zero):
// those went back to the program as EINTR, or are still blocked in a
// restarted call that will report on its own.
func (e *Enricher) flush(now time.Time, out []Item) []Item {
	for tid, h := range e.held {
		if now.IsZero() || now.Sub(h.seen) >= InterruptedHold {
			out = append(out, h.item)
			delete(e.held, tid)
		}
	}
	return out
}

// connect reports a connect. A call interrupted by a signal ends with a
// kernel restart code and is normally restarted as the same call, which
// brings its own record: the interrupted one is held, keyed by thread, and
// dropped when that restarted call (same fd and destination) reports, so
// one connection gives one record. If the thread's next connect is a
// different one, the interrupted call went back to the program as EINTR and
// its record is emitted first.
func (e *Enricher) connect(v *sensor.Connect, out []Item) []Item {
	it := e.connectItem(v)
	if v.Folded > 0 {
		// A summary of repeats, not a call of this thread's: it neither
		// completes nor ends an interrupted one.
		return append(out, it)
	}
	h, held := e.held[v.TID]
	if held {
		delete(e.held, v.TID)
		if h.fd != v.FD || h.dst != v.Dst {
			out = append(out, h.item)
		}
	}
	if sensor.IsRestart(v.Result) {
		e.held[v.TID] = interrupted{item: it, fd: v.FD, dst: v.Dst, seen: time.Now()}
		return out
	}
	return append(out, it)
}

// maxCodes bounds the code origin cache (codeOrigin).
const maxCodes = 4096

type codeKey struct {
	pid           uint32
	startNs, addr uint64
}

// codeOrigin is process.code_origin for a connect: where the code that
// made the call lives. The connect tracepoint looks in the kernel
// (Connect.Code). The socket address hooks cannot (their programs have no
// bpf_find_vma) and give the call's instruction pointer instead
// (Connect.UserIP): its mapping is looked up in /proc/<pid>/maps, once per
// process and address. Memory no file backs is "anonymous_memory"; a
// file's text is not judged here (whether it was written to is not in
// maps, and smaps cannot tell an injector's write from a uprobe's). A
// process gone, or an address no longer mapped, is "unknown": a payload
// that sends one datagram and exits before the record is read is not
// told apart.
func (e *Enricher) codeOrigin(v *sensor.Connect) string {
	if v.Code != sensor.CodeFile || v.UserIP == 0 {
		return v.Code.String()
	}
	k := codeKey{v.TGID, v.Task.StartNs, v.UserIP}
	if s, ok := e.codes.Get(k); ok {
		return s
	}
	e.stats.CodeLookups++
	s := sensor.CodeUnknown.String()
	m, ok, err := procfs.MappingAt(e.root, v.TGID, v.UserIP)
	if st, serr := procfs.ReadStat(e.root, v.TGID); err == nil && ok && serr == nil && st.SameStart(v.Task.StartNs) {
		s = ""
		if m.Anonymous() {
			s = sensor.CodeAnonymous.String()
		}
	}
	e.codes.Add(k, s)
	return s
}
