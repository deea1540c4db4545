package enrich

import (
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/fileid"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/prevalence"
)

// storeKey is the prevalence key of a hashed file: its sha256, or its
// file identity when the hash could not be had; "" while it is pending.
func storeKey(res hasher.Result, dev, ino uint64, ctimeNs int64) (prevalence.Key, string) {
	switch {
	case res.SHA256 != "":
		return prevalence.SHA256Key(res.SHA256), ""
	case res.Status == hasher.StatusPending || ino == 0:
		return "", ""
	}
	return prevalence.FileKey(dev, ino, ctimeNs), "file"
}

// ageOf is a file's age at t from its birth, nil when unknown.
func ageOf(b fileid.Birth, t time.Time) (*int64, string) {
	if b.Source == "" {
		return nil, ""
	}
	a := b.AgeSeconds(t)
	return &a, b.Source
}

// notePrevalence fills an executable's or script's age and prevalence on
// a record, once: a launch counts as one execution in the store; any other
// record only reads it, and an external connection marks the binary as
// having connected outside (after reading, so the record says whether it
// had before).
func (e *Enricher) notePrevalence(rec *event.Record, key prevalence.Key, keyKind string, path string, birth fileid.Birth,
	agePtr **int64, ageSrc *string, prev **event.Prevalence) {
	if rec.Kind == event.KindProcessLaunch || rec.Kind == event.KindHashUpdate {
		if *agePtr == nil {
			*agePtr, *ageSrc = ageOf(birth, rec.Time)
		}
	}
	st := e.opts.Prevalence
	if st == nil || key == "" || *prev != nil {
		return
	}
	var res prevalence.Result
	switch rec.Kind {
	case event.KindProcessLaunch:
		parent := ""
		if rec.Process.Parent != nil {
			parent = rec.Process.Parent.Exe.Path
		}
		res = st.Observe(key, rec.Time, path, parent)
	default:
		var ok bool
		if res, ok = st.Lookup(key); !ok {
			break
		}
	}
	if res.Executions > 0 {
		*prev = &event.Prevalence{FirstSeen: res.FirstSeen, Executions: res.Executions, FirstExecution: res.First,
			ConnectedOutside: res.Connected, TrackedSince: st.TrackedSince, Key: keyKind}
	}
	if rec.Kind == event.KindNetworkConnection && rec.Network != nil && rec.Network.External != nil && *rec.Network.External {
		st.MarkConnected(key)
	}
}
