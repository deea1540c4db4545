package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one row of the matrix, run or not.
type result struct {
	sc      scenario
	pkg     string // Debian package and version, "" for the host
	tr      transcript
	log     string // cleaned console log
	logPath string
	elapsed time.Duration
	err     error  // nil: pass
	skipped string // set when the row did not run, and why
}

func (r result) status() string {
	switch {
	case r.skipped != "":
		return "SKIP"
	case r.err != nil:
		return "FAIL"
	}
	return "PASS"
}

func stepCell(tr transcript, name string) string {
	s := tr.step(name)
	switch {
	case s == nil:
		return "-"
	case !s.Ended:
		return "unfinished"
	case s.RC != 0:
		return fmt.Sprintf("exit %d, %.1fs", s.RC, s.Secs)
	}
	return fmt.Sprintf("ok %.1fs", s.Secs)
}

// printReport writes the table, then the reasons for every failure and
// the console log of every failed guest.
func printReport(w io.Writer, results []result, total time.Duration) {
	fmt.Fprintf(w, "\nkernel matrix (%s)\n\n", total.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tARCH\tKERNEL\tCONNECT HOOKS\tCHECK\tSENSOR TESTS\tCMD TESTS\tTOTAL\tRESULT")
	for _, r := range results {
		kernel := r.tr.Kernel
		if kernel == "" {
			kernel = "-"
		}
		check, sensor, cmd := stepCell(r.tr, "check"), stepCell(r.tr, "sensor-tests"), stepCell(r.tr, "cmd-tests")
		if r.sc.Mode == "refuse" {
			check, sensor, cmd = refusalCell(r.tr, "check"), refusalCell(r.tr, "run"), "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.sc.Name, r.sc.Arch, kernel, r.tr.connectHooks(),
			check, sensor, cmd, r.elapsed.Round(100*time.Millisecond), r.status())
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results {
		if r.pkg != "" {
			fmt.Fprintf(w, "%s: %s\n", r.sc.Name, r.pkg)
		}
	}
	for _, r := range results {
		for _, n := range r.tr.Notes {
			fmt.Fprintf(w, "%s: %s\n", r.sc.Name, n)
		}
		if skips := skippedTests(r.tr); len(skips) > 0 {
			fmt.Fprintf(w, "%s: skipped tests: %s\n", r.sc.Name, strings.Join(skips, ", "))
		}
		if r.sc.Mode == "refuse" {
			if s := r.tr.step("check"); s != nil {
				if l := firstContaining(s.Output, "cannot run:"); l != "" {
					fmt.Fprintf(w, "%s: %s\n", r.sc.Name, l)
				}
			}
		}
		if r.skipped != "" {
			fmt.Fprintf(w, "%s: not run: %s\n", r.sc.Name, r.skipped)
		}
	}
	for _, r := range results {
		if r.err == nil {
			continue
		}
		fmt.Fprintf(w, "\n=== %s FAILED: %v\n", r.sc.Name, r.err)
		if r.log != "" {
			fmt.Fprintf(w, "--- console of %s (also in %s)\n%s\n--- end of console of %s\n", r.sc.Name, r.logPath, r.log, r.sc.Name)
		}
	}
}

func refusalCell(tr transcript, name string) string {
	s := tr.step(name)
	switch {
	case s == nil:
		return "-"
	case !s.Ended:
		return "unfinished"
	case s.RC == 1:
		return fmt.Sprintf("%s refused %.1fs", name, s.Secs)
	}
	return fmt.Sprintf("%s exit %d", name, s.RC)
}
