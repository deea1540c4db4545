package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestBootAll: rows run at most -parallel at a time, every row runs once,
// and the results come back in the scenarios' order whatever order the
// guests finish in.
func TestBootAll(t *testing.T) {
	var scs []scenario
	for i := range 7 {
		scs = append(scs, scenario{Name: fmt.Sprint("row", i)})
	}
	for _, parallel := range []int{1, 2, 3} {
		var mu sync.Mutex
		running, peak, calls, finished := 0, 0, 0, 0
		// With room for two or more, the first row holds its slot
		// until every other row has finished (so results come back out
		// of order), and each other row holds its slot until the first
		// row and the row parallel-2 after it have started (so the
		// limit is reached even when the first row's goroutine is
		// scheduled last). bootAll takes rows' slots in order, so no
		// wait can block a row that needs the slot.
		started := make([]chan struct{}, len(scs))
		for i := range started {
			started[i] = make(chan struct{})
		}
		othersDone := make(chan struct{})
		boot := func(sc scenario) result {
			var i int
			fmt.Sscanf(sc.Name, "row%d", &i)
			mu.Lock()
			running++
			calls++
			peak = max(peak, running)
			mu.Unlock()
			close(started[i])
			if parallel > 1 {
				waits := []chan struct{}{othersDone}
				if i > 0 {
					waits = []chan struct{}{started[0], started[min(i+parallel-2, len(scs)-1)]}
				}
				for _, wait := range waits {
					select {
					case <-wait:
					case <-time.After(time.Minute):
						// bootAll ran fewer rows at once than asked.
						t.Errorf("parallel %d: row %d waited a minute for rows that never started", parallel, i)
					}
				}
			}
			mu.Lock()
			running--
			if i > 0 {
				if finished++; finished == len(scs)-1 {
					close(othersDone)
				}
			}
			mu.Unlock()
			return result{sc: sc}
		}
		got := bootAll(context.Background(), config{parallel: parallel}, scs, boot)
		if calls != len(scs) || len(got) != len(scs) {
			t.Fatalf("parallel %d: %d boots, %d results, want %d", parallel, calls, len(got), len(scs))
		}
		for i, r := range got {
			if r.sc.Name != scs[i].Name {
				t.Errorf("parallel %d: result %d is %q, want %q", parallel, i, r.sc.Name, scs[i].Name)
			}
		}
		if want := parallel; peak != want {
			t.Errorf("parallel %d: %d rows at once, want %d", parallel, peak, want)
		}
	}
}

// TestBootAllCancelled: once the run is cancelled no new guest boots.
func TestBootAllCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	scs := []scenario{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	var booted []string
	got := bootAll(ctx, config{parallel: 1}, scs, func(sc scenario) result {
		booted = append(booted, sc.Name)
		cancel()
		return result{sc: sc}
	})
	if len(booted) != 1 || len(got) != 1 || got[0].sc.Name != "a" {
		t.Fatalf("booted %v, results %d after cancelling in the first row", booted, len(got))
	}
}
