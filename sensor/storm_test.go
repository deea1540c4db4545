package sensor

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// stormScale lets a slow environment (the TCG kernel matrix) shrink the
// storms; every assertion still holds at any size.
func stormScale(t *testing.T, n int) int {
	if s := os.Getenv("ARGUS_STORM_SCALE"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			t.Fatalf("ARGUS_STORM_SCALE=%q: want a positive number", s)
		}
		return max(1, int(float64(n)*f))
	}
	return n
}

// assertNoLoss checks the sensor's lifetime counters: nothing lost in the
// kernel, nothing dropped in userspace, nothing undecodable.
func assertNoLoss(t *testing.T, s *Sensor) Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.KernelLost() != 0 || st.Dropped != 0 || st.DecodeErrors != 0 {
		t.Errorf("lost %d (by kind %v, pending full %d), dropped %d, decode errors %d (%s)",
			st.KernelLost(), st.Lost, st.PendingFull, st.Dropped, st.DecodeErrors, st.LastDecodeError)
	}
	return st
}

func TestExecStorm(t *testing.T) {
	s, h := startSensor(t)
	total := stormScale(t, 20000)
	tool := filepath.Join(realDir(t), "storm-tool")
	testutil.WriteExitELF(t, tool, 0)

	var mu sync.Mutex
	seen := map[uint32]bool{}
	w := h.each(execPath(tool), func(ev Event) {
		mu.Lock()
		seen[ev.Head().TGID] = true
		mu.Unlock()
	})
	defer w.stop()

	loops := runtime.NumCPU()
	pids := make([][]int, loops)
	var wg sync.WaitGroup
	start := time.Now()
	for l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := l; i < total; i += loops {
				pid, err := syscall.ForkExec(tool, []string{tool}, &syscall.ProcAttr{})
				if err != nil {
					t.Error(err)
					return
				}
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
				pids[l] = append(pids[l], pid)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	deadline := time.Now().Add(testutil.Patience(t, 30*time.Second))
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	missing := 0
	for _, ps := range pids {
		for _, pid := range ps {
			if !seen[uint32(pid)] {
				missing++
			}
		}
	}
	if missing != 0 || len(seen) != total {
		t.Errorf("%d execs, %d reported, %d missing", total, len(seen), missing)
	}
	st := assertNoLoss(t, s)
	t.Logf("%d execs in %v (%.0f/s); sensor lifetime: read %v, lost %d", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), st.Read, st.KernelLost())
}

func TestConnectStorm(t *testing.T) {
	s, h := startSensor(t)
	total := stormScale(t, 100000)
	bin, _ := testBinary(t)
	dst := listen(t, "tcp", "127.0.0.1")

	var mu sync.Mutex
	count, restarts := 0, 0
	ports := map[uint16]int{}
	var odd []*Connect
	cmd := helperCmd(bin, "connect-storm", dst.String(), strconv.Itoa(total))
	w := h.each(connectTo(dst.Port()), func(ev Event) {
		c := ev.(*Connect)
		mu.Lock()
		defer mu.Unlock()
		if IsRestart(c.Result) {
			// Interrupted by the helper's own runtime signals and then
			// restarted: the restarted call brings the final record.
			restarts++
			return
		}
		count++
		if c.Result == 0 {
			ports[c.Src.Port()]++
		} else if len(odd) < 20 {
			odd = append(odd, c)
		}
	})
	defer w.stop()

	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	deadline := time.Now().Add(testutil.Patience(t, 30*time.Second))
	for {
		mu.Lock()
		n := count
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if count != total {
		t.Errorf("%d connects, %d reported", total, count)
		for _, c := range odd {
			t.Logf("unexpected: pid %d result %d src %s dst %s", c.TGID, c.Result, c.Src, c.Dst)
		}
	}
	succeeded := 0
	for _, n := range ports {
		succeeded += n
	}
	if succeeded != total {
		t.Errorf("%d of %d connects reported as successful", succeeded, total)
	}
	st := assertNoLoss(t, s)
	t.Logf("%d connects in %v (%.0f/s), %d interrupted and restarted; sensor lifetime: read %v, lost %d", total,
		elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), restarts, st.Read, st.KernelLost())
}
