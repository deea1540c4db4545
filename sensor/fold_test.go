package sensor

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// startFolding runs a sensor of its own that folds connects over interval.
// stop cancels it and waits for Run to return: every record it made,
// summaries of the final flush included, has then reached the hub.
func startFolding(t *testing.T, interval time.Duration, legacy bool) (s *Sensor, h *hub, stop func()) {
	t.Helper()
	testutil.RequireRoot(t)
	s, err := New(Options{FoldInterval: interval, LegacyConnect: legacy})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() {
		stop()
		s.Close()
	})
	return s, newHub(s.Events()), stop
}

// collect gathers the connects a watch delivers until quiet has passed
// without one, or until ok says enough arrived.
func collect(w *watch, quiet time.Duration, ok func([]*Connect) bool) []*Connect {
	var got []*Connect
	for {
		select {
		case ev := <-w.ch:
			got = append(got, ev.(*Connect))
			if ok != nil && ok(got) {
				return got
			}
		case <-time.After(quiet):
			return got
		}
	}
}

// attempts is how many connect attempts records stand for: one each, or
// a summary's count. A call a signal interrupted (a restart code, never
// folded) is not an attempt of its own: the kernel restarts it as the same
// call, whose record, or fold, counts it. (Go's runtime preempts with
// SIGURG, so a helper's storm has some.)
func attempts(cs []*Connect) (records, summaries int, n uint64) {
	for _, c := range cs {
		if IsRestart(c.Result) {
			continue
		}
		if c.Folded > 0 {
			summaries++
			n += c.Folded
		} else {
			records++
			n++
		}
	}
	return records, summaries, n
}

// withoutRestarts drops the records of calls a signal interrupted: the
// kernel restarts such a call, and the restarted one has its own record.
func withoutRestarts(cs []*Connect) []*Connect {
	var out []*Connect
	for _, c := range cs {
		if !IsRestart(c.Result) {
			out = append(out, c)
		}
	}
	return out
}

// TestConnectFolding: a storm of identical connects gives its first record
// at once and a summary that counts the rest, on both connect hook builds:
// the current build's sensor folds over an hour, so its summary can only
// come from the flush at stop (what is folded then is reported, not lost
// with the map); the legacy build's folds over 300 ms, so its summaries
// come from the periodic flush. Nothing an implant changes (another
// process, an exec in the same pid) is folded into another's record.
// Each build is one sensor: loading one takes half a minute under TCG.
func TestConnectFolding(t *testing.T) {
	for _, tc := range []struct {
		legacy   bool
		interval time.Duration
	}{{false, time.Hour}, {true, 300 * time.Millisecond}} {
		t.Run("legacy="+strconv.FormatBool(tc.legacy), func(t *testing.T) {
			s, h, stop := startFolding(t, tc.interval, tc.legacy)
			bin, _ := testBinary(t)
			dst := listen(t, "tcp", "127.0.0.1")
			w := h.subscribe(connectTo(dst.Port()))
			defer w.stop()
			if _, off := s.Folding(); off != nil {
				// Folding is off on this kernel: every attempt has
				// its own record.
				t.Logf("folding off: %v", off)
				checkUnfolded(t, w, bin, dst.String(), 200)
				return
			}
			before, err := s.Stats()
			if err != nil {
				t.Fatal(err)
			}

			storm := 2000
			if tc.interval == time.Hour {
				storm = 300
			}
			// Pinned to one CPU: a repeat whose twin ran on the other
			// CPU is sent on its own (documented), so only a storm on
			// one CPU has exactly one record before its entry.
			cmd := helperCmd(bin, "connect-storm", dst.String(), strconv.Itoa(storm), "pinned")
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			pid := uint32(cmd.Process.Pid)
			var got []*Connect
			if tc.interval == time.Hour {
				// Within the hour only the first attempt's record
				// comes (and those of interrupted calls).
				got = collect(w, testutil.Patience(t, 500*time.Millisecond), nil)
				if records, summaries, _ := attempts(got); records != 1 || summaries != 0 {
					t.Fatalf("%d records and %d summaries before the interval passed, want the first record alone", records, summaries)
				}
			} else {
				got = collect(w, testutil.Patience(t, 5*time.Second), func(cs []*Connect) bool {
					_, _, n := attempts(cs)
					return n >= uint64(storm)
				})
			}

			// Another process to the same destination, inside the
			// interval of a fresh entry: its own record.
			for range 2 {
				cmd := helperCmd(bin, "connect", "tcp", dst.String())
				if err := cmd.Run(); err != nil {
					t.Fatal(err)
				}
				c := nextAttempt(t, w, "connect of a second process")
				if c.TGID != uint32(cmd.Process.Pid) || c.Folded != 0 {
					t.Errorf("record pid %d folded %d, want the new process %d on its own", c.TGID, c.Folded, cmd.Process.Pid)
				}
			}

			// The same pid after an exec is another program: both of its
			// connects have their own record, within one interval.
			cmd = helperCmd(bin, "connect-exec", dst.String())
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			exec := withoutRestarts(collect(w, testutil.Patience(t, 2*time.Second), func(cs []*Connect) bool {
				return len(withoutRestarts(cs)) >= 2
			}))
			if len(exec) != 2 || exec[0].Folded != 0 || exec[1].Folded != 0 ||
				exec[0].TGID != uint32(cmd.Process.Pid) || exec[1].TGID != exec[0].TGID {
				for _, c := range exec {
					t.Logf("pid %d result %d folded %d exe %d", c.TGID, c.Result, c.Folded, c.Exe.Ino)
				}
				t.Fatalf("%d records for connect, exec, connect in pid %d: want two on their own", len(exec), cmd.Process.Pid)
			}
			checkSpread(t, s, h, bin)
			after := assertNoLoss(t, s)

			if tc.interval == time.Hour {
				// At stop, the storm's summary; the single attempts
				// above have nothing folded to report.
				stop()
				got = append(got, collect(w, testutil.Patience(t, 2*time.Second), nil)...)
				if after, err = s.Stats(); err != nil {
					t.Fatal(err)
				}
			}
			records, summaries, n := attempts(got)
			if n != uint64(storm) {
				for _, c := range got {
					t.Logf("pid %d tid %d fd %d src %s result %d folded %d boot %d first %d last %d", c.TGID, c.TID, c.FD, c.Src, c.Result, c.Folded, c.BootNs, c.FoldFirstNs, c.FoldLastNs)
				}
				t.Fatalf("%d records and %d summaries stand for %d attempts, want %d", records, summaries, n, storm)
			}
			if summaries == 0 || records >= storm/10 {
				t.Errorf("%d records and %d summaries for %d identical connects: not folded", records, summaries, storm)
			}
			first := got[0]
			if first.Folded != 0 {
				t.Errorf("first record is a summary (%d folded): the first attempt must be sent on its own", first.Folded)
			}
			for _, c := range got {
				if c.TGID != pid || c.Dst != dst || (c.Result != 0 && !IsRestart(c.Result)) {
					t.Errorf("record pid %d dst %s result %d, want %d %s 0", c.TGID, c.Dst, c.Result, pid, dst)
				}
				if c.Folded == 0 {
					continue
				}
				if c.FoldFirstNs == 0 || c.FoldFirstNs > c.FoldLastNs || c.BootNs != c.FoldLastNs {
					t.Errorf("summary times first %d last %d record %d", c.FoldFirstNs, c.FoldLastNs, c.BootNs)
				}
				if c.FoldFirstNs < first.BootNs {
					t.Errorf("summary's first folded attempt %d before the reported one %d", c.FoldFirstNs, first.BootNs)
				}
				if c.Task.StartNs != first.Task.StartNs || c.Exe.Ino != first.Exe.Ino {
					t.Errorf("summary task %+v exe %+v, want the reported record's", c.Task, c.Exe)
				}
			}
			if d := after.ConnectsFolded - before.ConnectsFolded; d < uint64(storm-records) {
				t.Errorf("kernel counted %d folded, want at least %d", d, storm-records)
			}
			if after.FoldSummaries-before.FoldSummaries < uint64(summaries) {
				t.Errorf("%d summaries counted, %d seen", after.FoldSummaries-before.FoldSummaries, summaries)
			}
		})
	}
}

// checkSpread makes a storm of connects to distinct destinations: nothing
// repeats, so every attempt has its own record and none makes a fold
// entry (the kernel makes one only for a repeat).
func checkSpread(t *testing.T, s *Sensor, h *hub, bin string) {
	t.Helper()
	const n = 200
	to := netip.MustParseAddr("127.0.0.2")
	w := h.subscribe(func(ev Event) bool {
		c, ok := ev.(*Connect)
		return ok && c.Dst.Addr() == to
	})
	defer w.stop()
	cmd := helperCmd(bin, "connect-spread", netip.AddrPortFrom(to, 20000).String(), strconv.Itoa(n))
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	got := withoutRestarts(collect(w, testutil.Patience(t, 2*time.Second), func(cs []*Connect) bool {
		return len(withoutRestarts(cs)) >= n
	}))
	ports := map[uint16]bool{}
	for _, c := range got {
		if c.Folded != 0 || c.TGID != uint32(cmd.Process.Pid) {
			t.Errorf("record pid %d port %d folded %d, want pid %d on its own", c.TGID, c.Dst.Port(), c.Folded, cmd.Process.Pid)
		}
		ports[c.Dst.Port()] = true
	}
	if len(got) != n || len(ports) != n {
		t.Fatalf("%d records for %d distinct ports of %d connects", len(got), len(ports), n)
	}
	var k connectConnectFoldKey
	var v connectConnectFold
	entries := 0
	for it := s.fold.m.Iterate(); it.Next(&k, &v); {
		if netip.AddrFrom16(k.Daddr).Unmap() == to || [4]byte(k.Daddr[:4]) == to.As4() {
			entries++
		}
	}
	if entries != 0 {
		t.Errorf("%d fold entries for %d attempts that never repeated, want none", entries, n)
	}
}

// checkUnfolded runs a storm of n connects and requires n records, none a
// summary: what a sensor whose kernel cannot fold reports.
func checkUnfolded(t *testing.T, w *watch, bin, dst string, n int) {
	t.Helper()
	if err := helperCmd(bin, "connect-storm", dst, strconv.Itoa(n)).Run(); err != nil {
		t.Fatal(err)
	}
	got := collect(w, testutil.Patience(t, 5*time.Second), func(cs []*Connect) bool {
		records, _, _ := attempts(cs)
		return records >= n
	})
	if records, summaries, _ := attempts(got); records != n || summaries != 0 {
		t.Fatalf("folding off: %d records and %d summaries for %d connects, want %d records", records, summaries, n, n)
	}
}

// TestFoldExpired: an entry made after the drain began (its record may
// still be in the ring) is never due, however the unsigned difference
// wraps; one an interval older than the drain is.
func TestFoldExpired(t *testing.T) {
	const sec = uint64(time.Second)
	for _, tc := range []struct {
		first, drained uint64
		want           bool
	}{
		{10 * sec, 11 * sec, true},
		{10 * sec, 11*sec - 1, false},
		{10 * sec, 10 * sec, false},
		{10*sec + 1, 10 * sec, false}, // made during the drain or the scan
		{^uint64(0), 5 * sec, false},
	} {
		if got := foldExpired(tc.first, tc.drained, time.Second); got != tc.want {
			t.Errorf("first %d drained %d: %v, want %v", tc.first, tc.drained, got, tc.want)
		}
	}
}
