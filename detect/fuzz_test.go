package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// FuzzReplay runs generated telemetry, classified as live, through the
// engine and checks its detections against an oracle: a brute-force check
// over every pair of records that says, record by record, whether the
// t1587 rule fires there, and whether the detection is degraded.
//
// Each three input bytes make one record, in time order: a launch or a
// connection of one of two hosts and three digests (one in upper case),
// from a path that does or does not qualify, with a trust that does or does
// not, to an external or internal destination, or a health record with
// loss counters; the third byte picks the step in time from a list of
// boundary values (the window, a nanosecond either side, and halves).
func FuzzReplay(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 0, 3})                      // launch, connect a minute later
	f.Add([]byte{1, 0, 0, 0, 0, 7})                      // connect, launch a window later
	f.Add([]byte{0, 0, 0, 0, 0, 5, 1, 0, 5})             // launches 0 and 50 minutes, connect at 105
	f.Add([]byte{2, 0, 0, 2, 0, 6, 2, 0, 1})             // a deleted binary's connections
	f.Add([]byte{3, 1, 0, 0, 0, 1, 3, 2, 2, 1, 0, 3})    // loss, then a detection
	f.Add([]byte{0, 4, 0, 1, 8, 7, 0, 4, 8, 1, 0, 2})    // two hosts, a trusted launch
	f.Add([]byte{0, 1, 0, 1, 2, 0, 1, 0x20, 0, 1, 2, 8}) // upper-case digest, internal destination
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 3*200 {
			b = b[:3*200]
		}
		recs := genRecords(b)
		var in strings.Builder
		for _, r := range recs {
			in.Write(r.rec.AppendJSON(nil))
			in.WriteByte('\n')
		}
		e, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := Replay(strings.NewReader(in.String()), e, fill(t), &out)
		if err != nil || st.BadLines != 0 || st.Records != len(recs) {
			t.Fatalf("replay: %v, stats %+v", err, st)
		}
		index := map[string]int{}
		for i, r := range recs {
			index[r.rec.ID] = i
		}
		got := map[int]event.Record{} // by the index of the record that fired it: the later of its events
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l == "" {
				continue
			}
			var d event.Record
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("detection %q: %v", l, err)
			}
			if d.Detection == nil || d.Detection.Rule != RuleT1587 || len(d.Detection.Events) == 0 {
				t.Fatalf("unexpected detection %s", l)
			}
			trigger := -1
			for _, e := range d.Detection.Events {
				i, ok := index[e.ID]
				if !ok {
					t.Fatalf("detection holds %s, not an input record", e.ID)
				}
				trigger = max(trigger, i)
			}
			got[trigger] = d
		}
		want := oracle(recs)
		for i, r := range recs {
			d, fired := got[i]
			if fired != want[i].fire {
				t.Fatalf("record %d (%s): fired %v, oracle says %v\ninput:\n%s", i, r.rec.ID, fired, want[i].fire, in.String())
			}
			if !fired {
				continue
			}
			checkDetection(t, recs, i, d, want[i].degraded)
		}
		if len(got) != st.Detections {
			t.Fatalf("%d detections written, %d distinct triggers", st.Detections, len(got))
		}
	})
}

// gen is one generated record and what the oracle knows of it by
// construction (not from the engine's own classification).
type gen struct {
	rec  event.Record
	key  key  // host and lower-case digest
	half byte // 'l' qualifying launch, 'c' external connection, 'd' connection standing alone, 0 neither
	loss bool // a health record whose counters grew (or, first for its host, are not zero)
}

var (
	fuzzSteps  = []time.Duration{0, 1, m, 10 * m, 30 * m, 50 * m, w - 1, w, w + 1, 2 * w}
	fuzzDigest = []string{shaImplant, shaPayload, strings.ToUpper(shaImplant)}
)

func genRecords(b []byte) []gen {
	var out []gen
	at := time.Duration(0)
	seen := map[string][2]uint64{}
	for i := 0; i+2 < len(b); i += 3 {
		op, v := b[i], b[i+1]
		at += fuzzSteps[int(b[i+2])%len(fuzzSteps)]
		host := fmt.Sprintf("h%d", op>>2&1)
		sha := fuzzDigest[int(v)%len(fuzzDigest)]
		k := key{host, strings.ToLower(sha)}
		pid := uint32(100 + i)
		var line string
		g := gen{key: k}
		switch op % 4 {
		case 0: // launch: /tmp (tmp class) or /opt (none); unowned or package-verified
			path, trust := "/tmp/tool", unowned
			if v>>2&1 == 1 {
				path = "/opt/tool"
			}
			if v>>3&1 == 1 {
				trust = verified
			}
			line = launch(host, at, pid, path, sha, trust)
			if path == "/tmp/tool" && trust == unowned {
				g.half = 'l'
			}
		case 1, 2: // connection: external or not; case 2 from a deleted, unowned binary outside the system directories
			dst := []string{"192.0.2.1", "::ffff:198.51.100.7", "10.0.0.1", "fd00::1"}[v>>5&3]
			path := "/opt/tool"
			var opts []recOpt
			if op%4 == 2 {
				path = "/srv/app/tool"
				opts = append(opts, deletedAs(unownedDeleted))
			}
			line = connect(host, at, pid, path, sha, dst, opts...)
			if dst == "192.0.2.1" || dst == "::ffff:198.51.100.7" {
				g.half = 'c'
				if op%4 == 2 {
					g.half = 'd'
				}
			}
		case 3: // health: each counter grows or not
			c := seen[host]
			c[0] += uint64(v & 1)
			c[1] += uint64(v >> 1 & 1)
			prev, ok := seen[host]
			g.loss = (ok && (c[0] > prev[0] || c[1] > prev[1])) || (!ok && (c[0] > 0 || c[1] > 0))
			seen[host] = c
			line = healthDrop(host, at, c[0], c[1])
			g.key = key{}
		}
		if err := json.Unmarshal([]byte(line), &g.rec); err != nil {
			panic(err)
		}
		out = append(out, g)
	}
	return out
}

type verdictAt struct{ fire, degraded bool }

// oracle says where the t1587 rule fires: at a record of one half, not
// within a window after the key's last detection, when a record of the
// other half of the same key since that detection, itself not within a
// window after an earlier one, is at most a window away; or at a deleted
// binary's connection when no such launch is. Brute force over all pairs.
func oracle(recs []gen) []verdictAt {
	out := make([]verdictAt, len(recs))
	type state struct {
		fired   bool
		firedAt time.Time
		since   int // index of the last detection
	}
	keys := map[key]*state{}
	quiet := map[int]bool{}
	for j, r := range recs {
		if r.half == 0 {
			continue
		}
		s := keys[r.key]
		if s == nil {
			s = &state{since: -1}
			keys[r.key] = s
		}
		t := r.rec.Time
		if s.fired && t.Sub(s.firedAt) < w {
			quiet[j] = true
			continue
		}
		partner := false
		for i := s.since + 1; i < j; i++ {
			o := recs[i]
			if o.key != r.key || quiet[i] || absDur(t.Sub(o.rec.Time)) > w {
				continue
			}
			if (r.half == 'l' && (o.half == 'c' || o.half == 'd')) || (r.half != 'l' && o.half == 'l') {
				partner = true
			}
		}
		if partner || r.half == 'd' {
			out[j].fire = true
			s.fired, s.firedAt, s.since = true, t, j
			for i := 0; i <= j; i++ {
				if recs[i].loss && t.Sub(recs[i].rec.Time) <= w {
					out[j].degraded = true
				}
			}
		}
	}
	return out
}

// checkDetection checks the detection fired at record j: it holds input
// records of the right halves, of its key, at most a window apart.
func checkDetection(t *testing.T, recs []gen, j int, d event.Record, degraded bool) {
	t.Helper()
	byID := map[string]gen{}
	for _, r := range recs {
		byID[r.rec.ID] = r
	}
	dd := d.Detection
	if dd.Degraded != degraded {
		t.Fatalf("record %d: degraded %v, oracle says %v", j, dd.Degraded, degraded)
	}
	if dd.Hostname != recs[j].key.host || dd.SHA256 != recs[j].key.id {
		t.Fatalf("record %d: detection for %s %s, want %v", j, dd.Hostname, dd.SHA256, recs[j].key)
	}
	var halves []byte
	for _, e := range dd.Events {
		r, ok := byID[e.ID]
		if !ok || r.key != recs[j].key {
			t.Fatalf("record %d: detection holds %s, not a record of its key", j, e.ID)
		}
		halves = append(halves, r.half)
	}
	ok := string(halves) == "d" || (len(halves) == 2 && halves[0] == 'l' && (halves[1] == 'c' || halves[1] == 'd'))
	if !ok || absDur(dd.Events[0].Time.Sub(dd.Events[len(dd.Events)-1].Time)) > w {
		t.Fatalf("record %d: detection holds halves %q at %v and %v", j, halves, dd.Events[0].Time, dd.Events[len(dd.Events)-1].Time)
	}
}

// FuzzReplayLines feeds arbitrary bytes: a replay never fails on input,
// and accounts for every line.
func FuzzReplayLines(f *testing.F) {
	f.Add([]byte(launch("h1", 0, 10, "/tmp/implant", shaImplant, unowned) + "\n" + connect("h1", 1, 10, "/tmp/implant", shaImplant, "192.0.2.1")))
	f.Add([]byte("{}\n\x00\n{\"schema\":\"argus.v1\",\"kind\":\"network_connection\",\"network\":{}}"))
	f.Add([]byte("\n\n" + health("h1", 0, 3) + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := Replay(bytes.NewReader(b), e, fill(t), &out)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(b, []byte("\n"))
		if len(b) > 0 && b[len(b)-1] != '\n' {
			lines++
		}
		if st.Lines != lines || st.Records+st.BadLines > st.Lines {
			t.Fatalf("stats %+v for %d lines", st, lines)
		}
		if got := strings.Count(out.String(), "\n"); got != st.Detections {
			t.Fatalf("%d detection lines, %d counted", got, st.Detections)
		}
	})
}
