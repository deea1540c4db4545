package sensor

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestQueueBytes: records with long command lines fill the Events channel
// by size long before its length. Past QueueBytes a record is dropped and
// counted (DroppedForBytes, within Dropped); every record is either in the
// channel or counted; Release gives the bytes back, once.
func TestQueueBytes(t *testing.T) {
	const n, bound = 1000, 64 << 10
	args := strings.Repeat("A", 2000) + "\x00"
	feed := func(s *Sensor) {
		for i := range n {
			s.handle(execRecord(fmt.Sprintf("/tmp/tool%d", i), "/", args, "/tmp/tool", 0))
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	s := &Sensor{opts: Options{QueueLen: n, QueueBytes: bound}, out: make(chan Event, n), log: log}
	feed(s)
	st := Stats{Dropped: s.dropped.Load(), DroppedForBytes: s.droppedBytes.Load(), QueueBytes: s.queuedBytes.Load()}
	if st.DroppedForBytes == 0 || st.Dropped != st.DroppedForBytes {
		t.Fatalf("dropped %d, for bytes %d: want drops, all for bytes", st.Dropped, st.DroppedForBytes)
	}
	if st.QueueBytes > bound || st.QueueBytes <= bound-int64(len(args))-2*EventOverhead-512 {
		t.Errorf("queued %d bytes, want just under %d", st.QueueBytes, bound)
	}
	if got := uint64(len(s.out)) + st.Dropped; got != n {
		t.Errorf("%d queued + %d dropped = %d, want %d", len(s.out), st.Dropped, got, n)
	}
	t.Logf("%d queued in %d bytes, %d dropped for bytes", len(s.out), st.QueueBytes, st.DroppedForBytes)
	// Full by size with the channel mostly empty: the fill is the size's.
	if f := s.QueueFill(); f < 0.9 || f > 1 || len(s.out) > n/10 {
		t.Errorf("queue fill %.3f with %d of %d bytes and %d of %d records, want the bytes' share", f, st.QueueBytes, bound, len(s.out), n)
	}
	for len(s.out) > 0 {
		ev := <-s.out
		s.Release(ev)
		s.Release(ev) // a second release gives nothing back
	}
	if q := s.queuedBytes.Load(); q != 0 {
		t.Errorf("%d bytes queued after every record was released", q)
	}
	// With room again, records queue again.
	s.handle(execRecord("/tmp/again", "/", args, "/tmp/again", 0))
	if len(s.out) != 1 || s.droppedBytes.Load() != st.DroppedForBytes {
		t.Errorf("after release: %d queued, %d dropped for bytes", len(s.out), s.droppedBytes.Load())
	}

	// No size bound: only the length bounds the channel.
	s = &Sensor{opts: Options{QueueLen: n}, out: make(chan Event, n), log: log}
	feed(s)
	if len(s.out) != n || s.dropped.Load() != 0 || s.queuedBytes.Load() != 0 {
		t.Errorf("unbounded: %d queued, %d dropped, %d bytes counted", len(s.out), s.dropped.Load(), s.queuedBytes.Load())
	}
	// Full by length: the fill is the length's.
	if f := s.QueueFill(); f != 1 {
		t.Errorf("queue fill %.3f with the channel full, want 1", f)
	}
	<-s.out
	if f, want := s.QueueFill(), float64(n-1)/n; f != want {
		t.Errorf("queue fill %.4f, want %.4f", f, want)
	}
}

// connectRecordTo is a connect record of process tgid to dst.
func connectRecordTo(tgid uint32, dst netip.Addr) []byte {
	var r connectConnectEvent
	r.Hdr.Type, r.Hdr.Tgid, r.Hdr.Tid = uint32(KindConnect), tgid, tgid
	r.Family, r.Dport, r.Result = unix.AF_INET, 4444, 0
	r.Daddr = netip.AddrFrom16(dst.As16()).As16()
	if dst.Is4() {
		a := dst.As4()
		r.Daddr = [16]byte{}
		copy(r.Daddr[:], a[:])
	}
	return raw(&r)
}

// TestQueueShedsFlood is the evasion of hiding a beacon in a flood: one
// process connects to new internal destinations faster than the pipeline
// drains them, while another makes one connect. Past three quarters of
// the queue, the flooding process's connects to non-public addresses are
// shed (counted, within Dropped) once it holds a quarter of the queue, so
// another process's connect is still queued, and so is a connect to a
// public address by the flooding process itself. Release gives shares
// back. Without a consumer that releases (no QueueBytes), nothing is shed.
func TestQueueShedsFlood(t *testing.T) {
	const n = 1024
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Sensor{opts: Options{QueueLen: n, QueueBytes: 1 << 30}, out: make(chan Event, n), log: log, shareSeed: 12345}
	const flooder, other = 1000, 2000
	if s.shareSlot(flooder) == s.shareSlot(other) {
		t.Fatal("test processes share a slot: pick other pids")
	}
	for i := range 2 * n {
		s.handle(connectRecordTo(flooder, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})))
	}
	shed := s.droppedShare.Load()
	if shed == 0 || s.dropped.Load() != shed || len(s.out) == n {
		t.Fatalf("after the flood: %d queued of %d, %d dropped, %d shed; want shedding before the queue is full", len(s.out), n, s.dropped.Load(), shed)
	}
	s.handle(connectRecordTo(other, netip.MustParseAddr("10.9.9.9")))
	s.handle(connectRecordTo(flooder, netip.MustParseAddr("192.0.2.1")))
	s.handle(connectRecordTo(flooder, netip.MustParseAddr("10.2.2.2")))
	var sawOther, sawPublic, sawLate bool
	for len(s.out) > 0 {
		ev := <-s.out
		c := ev.(*Connect)
		sawOther = sawOther || c.TGID == other
		sawPublic = sawPublic || c.Dst.Addr() == netip.MustParseAddr("192.0.2.1")
		sawLate = sawLate || c.Dst.Addr() == netip.MustParseAddr("10.2.2.2")
		s.Release(ev)
		s.Release(ev) // a second release gives nothing back
	}
	if !sawOther || !sawPublic || sawLate {
		t.Errorf("queued: the other process's connect %v, the flooder's public one %v (want both); its internal one after the flood %v (want shed)", sawOther, sawPublic, sawLate)
	}
	for i := range s.shares {
		if v := s.shares[i].Load(); v != 0 {
			t.Fatalf("slot %d holds %d after every record was released", i, v)
		}
	}
	t.Logf("%d shed of %d", shed, 2*n)

	// No Release: the queue fills and drops, nothing is shed.
	s = &Sensor{opts: Options{QueueLen: n}, out: make(chan Event, n), log: log}
	for i := range 2 * n {
		s.handle(connectRecordTo(flooder, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})))
	}
	if len(s.out) != n || s.droppedShare.Load() != 0 {
		t.Errorf("without release: %d queued, %d shed; want a full queue, none shed", len(s.out), s.droppedShare.Load())
	}
}

// TestPublic: what counts as an internet address for shedding.
func TestPublic(t *testing.T) {
	for a, want := range map[string]bool{
		"192.0.2.1": true, "8.8.8.8": true, "2001:db8::1": true, "::ffff:1.1.1.1": true,
		"10.0.0.1": false, "172.16.0.1": false, "192.168.1.1": false, "127.0.0.1": false, "100.64.0.1": false,
		"169.254.0.1": false, "224.0.0.1": false, "0.0.0.0": false, "::1": false, "fd00::1": false, "fe80::1": false,
	} {
		if got := public(netip.MustParseAddr(a)); got != want {
			t.Errorf("public(%s) = %v, want %v", a, got, want)
		}
	}
}

// TestQueueShedsTrusted: a flood of connects to public addresses spread
// over sixteen processes of a trusted program must not fill the queue
// against the implant's beacon: past
// three quarters full, a trusted program's connects are shed first, and
// nothing that could be an implant's is: an untrusted executable, a
// trusted one with LD_PRELOAD set, or after it mapped an untrusted file,
// exec'd again, relabelled itself, or was modified; a connect made by code
// injected into it; nor a pid reused after an exit.
func TestQueueShedsTrusted(t *testing.T) {
	const n = 1024
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Sensor{opts: Options{QueueLen: n}, out: make(chan Event, n), log: log}
	curl := File{Dev: 1, Ino: 100, CtimeNs: 5}
	s.TrustExe(curl)
	exe := func(pid uint32, f File, execID uint64, env ...EnvVar) {
		s.queue(&Exec{Header: Header{Kind: KindExec, TGID: pid, TID: pid}, Task: Task{StartNs: uint64(pid), ExecID: execID}, Exe: f, LoaderEnv: env}, 200)
	}
	conn := func(pid uint32, execID uint64, i int) *Connect {
		c := &Connect{Header: Header{Kind: KindConnect, TGID: pid, TID: pid}, Task: Task{StartNs: uint64(pid), ExecID: execID},
			Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), 443)}
		s.queue(c, 150)
		return c
	}
	i := 0
	for pid := uint32(1000); pid < 1016; pid++ {
		exe(pid, curl, 1)
		for range 128 {
			conn(pid, 1, i)
			i++
		}
	}
	shed := s.droppedTrust.Load()
	if shed == 0 || s.dropped.Load() != shed || len(s.out) == n {
		t.Fatalf("after the flood: %d queued of %d, %d dropped, %d shed; want shedding before the queue is full", len(s.out), n, s.dropped.Load(), shed)
	}
	t.Logf("%d of %d trusted connects shed", shed, i)

	// Each of these must be queued while the flood's are shed.
	want := map[*Connect]string{}
	keep := func(c *Connect, why string) { want[c] = why }
	exe(5000, File{Dev: 1, Ino: 666, CtimeNs: 5}, 1)
	keep(conn(5000, 1, 1), "untrusted executable")
	exe(5001, curl, 1, EnvVar{Name: "LD_PRELOAD", Value: "/tmp/x.so"})
	keep(conn(5001, 1, 2), "LD_PRELOAD")
	exe(5002, curl, 1)
	s.queue(&Library{Header: Header{Kind: KindLibrary, TGID: 5002, TID: 5002}, Task: Task{StartNs: 5002, ExecID: 1}}, 200)
	keep(conn(5002, 1, 3), "after an untrusted mapping")
	exe(5003, curl, 1)
	keep(conn(5003, 2, 4), "after another exec")
	exe(5004, curl, 1)
	c := &Connect{Header: Header{Kind: KindConnect, TGID: 5004, TID: 5004}, Task: Task{StartNs: 5004, ExecID: 1},
		Dst: netip.MustParseAddrPort("198.51.100.9:443"), Relabeled: true}
	s.queue(c, 150)
	keep(c, "relabelled")
	exe(5008, curl, 1)
	c = &Connect{Header: Header{Kind: KindConnect, TGID: 5008, TID: 5008}, Task: Task{StartNs: 5008, ExecID: 1},
		Dst: netip.MustParseAddrPort("198.51.100.10:443"), Code: CodeWritten}
	s.queue(c, 150)
	keep(c, "code injected into it")
	exe(5005, File{Dev: 1, Ino: 100, CtimeNs: 6}, 1)
	keep(conn(5005, 1, 5), "modified since judged")
	exe(5006, curl, 1)
	s.queue(&Exit{Header: Header{Kind: KindExit, TGID: 5006, TID: 5006}, StartNs: 5006}, 50)
	keep(conn(5006, 1, 6), "pid after its exit")
	// And the control: a trusted process's connect is shed.
	exe(5007, curl, 1)
	shedBefore := s.droppedTrust.Load()
	conn(5007, 1, 7)
	if s.droppedTrust.Load() != shedBefore+1 {
		t.Errorf("a trusted process's connect was not shed at %.2f full", s.QueueFill())
	}
	for len(s.out) > 0 {
		if c, ok := (<-s.out).(*Connect); ok {
			delete(want, c)
		}
	}
	for _, why := range want {
		t.Errorf("connect (%s) shed or dropped, want queued", why)
	}
}
