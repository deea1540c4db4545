package enrich

import (
	"os"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// The records of a batch of events leave in order, and Full says when too
// many wait.
func TestOrderAndBackPressure(t *testing.T) {
	e, err := New(Options{Hostname: "lab1", BootID: "0123456789abcdef", ProcRoot: t.TempDir(), QueueLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Handle(&sensor.Exec{Header: sensor.Header{TGID: 10, TID: 10, BootNs: 1}, Task: sensor.Task{StartNs: 1}, Path: "/tmp/a"})
	if e.Full() {
		t.Fatal("full at one record of two")
	}
	e.Handle(&sensor.Fork{Header: sensor.Header{TGID: 11}, StartNs: 2, ParentStartNs: 1, PPID: 10})
	e.Handle(connectEv(11, 2, "192.0.2.1:443"))
	if !e.Full() || e.Stats().Queued != 2 {
		t.Fatalf("two records waiting: full %v, stats %+v", e.Full(), e.Stats())
	}
	out, wait, _ := e.Ready(time.Now())
	if len(out) != 2 || out[0].Rec.Kind != event.KindProcessLaunch || out[1].Rec.Kind != event.KindNetworkConnection {
		t.Fatalf("ready: %+v", out)
	}
	for _, o := range out {
		if !o.Send || !o.Observe {
			t.Errorf("%s without a hash to wait for: send %v observe %v", o.Rec.Kind, o.Send, o.Observe)
		}
	}
	if wait != nil || e.Full() || e.Stats().Queued != 0 {
		t.Errorf("after ready: wait %v, full %v, stats %+v", wait, e.Full(), e.Stats())
	}
}

// Drain lets go what is still held: an interrupted connect no restarted
// call followed.
func TestDrainSendsHeldConnects(t *testing.T) {
	e := newEnricher(t, t.TempDir())
	intr := connectEv(400, 1e9, "192.0.2.1:4444")
	intr.Result = -512
	e.Handle(intr)
	if out, _, _ := e.Ready(time.Now()); len(out) != 0 {
		t.Fatalf("held connect went out at once: %+v", out[0].Rec.Network)
	}
	out := e.Drain()
	if len(out) != 1 || out[0].Rec.Network.Result != "interrupted" || !out[0].Send || !out[0].Observe {
		t.Fatalf("drain: %+v", out)
	}
}

// A record whose hash is late holds the records behind it until HashWait,
// goes out pending and kept from the rules, and comes back for the rules,
// after its hash_update, once the hash is known.
func TestPendingHashHoldsOrderThenFollowsUp(t *testing.T) {
	e, bigF, tool, ev := lateHash(t)
	e.Handle(ev)
	e.Handle(connectEv(ev.TGID, ev.Task.StartNs, "192.0.2.1:443"))

	out, wait, _ := e.Ready(time.Now())
	if wait == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the hash finished before the first look: the pending path went untested")
		}
		t.Skip("the hash finished before the first look; the machine is faster than this test assumes")
	}
	if len(out) != 0 || e.Stats().Queued != 2 {
		t.Fatalf("records went out ahead of the pending hash: %d out, stats %+v", len(out), e.Stats())
	}
	// Past both records' deadlines.
	out, _, _ = e.Ready(time.Now().Add(e.opts.HashWait))
	if len(out) != 2 {
		t.Fatalf("past the deadline: %d records, want the launch and the connect", len(out))
	}
	launch := out[0].Rec
	if launch.Kind != event.KindProcessLaunch || launch.Process.Exe.HashStatus != "pending" || !out[0].Send || out[0].Observe {
		t.Fatalf("launch %+v exe %+v send %v observe %v", launch, launch.Process.Exe, out[0].Send, out[0].Observe)
	}
	if out[1].Rec.Kind != event.KindNetworkConnection || !out[1].Send || out[1].Observe {
		t.Fatalf("connect send %v observe %v exe %+v", out[1].Send, out[1].Observe, out[1].Rec.Process.Exe)
	}
	select {
	case <-wait:
	case <-time.After(30 * time.Second):
		t.Fatal("hash never completed")
	}
	<-bigF.Done()
	done := e.Tick(time.Now())
	if len(done) != 3 {
		t.Fatalf("follow-ups: %d, want the hash_update and the two completed records", len(done))
	}
	up := done[0].Rec
	if up.Kind != event.KindHashUpdate || up.RefID != launch.ID || up.Process.Exe.SHA256 != sha256File(t, tool) || !done[0].Send || done[0].Observe {
		t.Fatalf("hash_update %+v send %v observe %v", up, done[0].Send, done[0].Observe)
	}
	if done[1].Rec != launch || done[1].Send || !done[1].Observe || launch.Process.Exe.SHA256 == "" {
		t.Fatalf("completed launch: send %v observe %v exe %+v", done[1].Send, done[1].Observe, launch.Process.Exe)
	}
	if done[2].Rec.Kind != event.KindNetworkConnection || done[2].Send || !done[2].Observe || done[2].Rec.Process.Exe.SHA256 == "" {
		t.Fatalf("completed connect: send %v observe %v", done[2].Send, done[2].Observe)
	}
	if s := e.Stats(); s.Queued != 0 || s.LateDropped != 0 {
		t.Errorf("stats %+v", s)
	}
}
