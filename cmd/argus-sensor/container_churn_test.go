package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// metric reads one unlabelled sample from a /metrics body.
func metric(t *testing.T, body, name string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// rssKiB is the resident set of process pid.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestContainerChurn: 200 short-lived podman containers (--network none),
// four at a time, under a sensor whose container cache holds 64 cgroups.
// Every container is named once; the cache never holds more than its
// bound; once they are gone the sweep leaves only the host's cgroups; and
// the sensor's resident memory ends within 16 MiB of where it was after
// the first ten.
func TestContainerChurn(t *testing.T) {
	image := testutil.PodmanDebian(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out := filepath.Join(dir, "events.jsonl")
	addr := freePort(t)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("outputs:\n  - spec: file:%s\nspool: {dir: %s}\nmetrics: {address: %q}\nhealth_interval: 0s\ncontainers: {max_cgroups: 64}\n",
		out, filepath.Join(dir, "spool"), addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startRun(t, out, "--config", cfg)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	scrape := func() string { _, m := httpGet(t, "http://"+addr+"/metrics"); return m }
	waitFor(t, func() bool { return strings.Contains(scrape(), "argus_container_cgroups ") }, "container metrics")
	hostCgroups := metric(t, scrape(), "argus_container_cgroups")

	run := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				b, err := exec.Command("podman", "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024",
					"--ulimit", "nproc=1024:1024", "--network", "none", "--name", fmt.Sprintf("argus-churn-%d-%d", os.Getpid(), i),
					image, "true").CombinedOutput()
				if err != nil {
					errs <- fmt.Errorf("podman run: %v: %s", err, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	run(10)
	// A machine slower than this one, under the race detector, takes
	// longer than waitFor's 30 s to catch up with a burst of containers.
	waitForWithin(t, 3*time.Minute, func() bool { return metric(t, scrape(), "argus_containers_resolved_total") >= 10 }, "the first ten containers named")
	baseline := rssKiB(t, cmd.Process.Pid)

	for range 19 {
		run(10)
		if c := metric(t, scrape(), "argus_container_cgroups"); c > 64 {
			t.Fatalf("%g cgroups cached, bound 64", c)
		}
	}
	waitForWithin(t, 3*time.Minute, func() bool { return metric(t, scrape(), "argus_containers_resolved_total") >= 200 }, "200 containers named")
	// Every container is gone: the next sweeps drop their cgroups.
	waitFor(t, func() bool { return metric(t, scrape(), "argus_container_cgroups") <= hostCgroups+2 }, "gone containers swept")
	m := scrape()
	resolved, swept := metric(t, m, "argus_containers_resolved_total"), metric(t, m, "argus_container_cgroups_swept_total")
	rss := rssKiB(t, cmd.Process.Pid)
	t.Logf("containers resolved %g (%g from a creation record, %g cgroups unresolved), cgroups swept %g, host cgroups %g; RSS %d KiB after 10 containers, %d KiB after 200",
		resolved, metric(t, m, "argus_containers_named_from_creation_total"), metric(t, m, "argus_container_cgroups_unresolved_total"),
		swept, hostCgroups, baseline, rss)
	if resolved > 210 {
		t.Errorf("%g containers resolved for 200 containers: a container is named more than once", resolved)
	}
	// 16 MiB of slack for the runtime; under the race detector (CI runs
	// the tests with -race, and this binary is the sensor) its shadow
	// memory grows with the work done, measured at 21 MiB here, so the
	// slack is four times that. The cache bound above holds either way.
	slack := int64(16 << 10)
	if raceEnabled {
		slack *= 4
	}
	if int64(rss) > int64(baseline)+slack {
		t.Errorf("RSS %d KiB after 200 containers, %d KiB after 10: more than %d MiB kept", rss, baseline, slack>>10)
	}
}

// TestContainerGoneBeforeRead: an implant author's way to run unnamed is a
// container that lasts milliseconds (podman run --rm), timed for when the
// sensor is behind. The sensor is stopped (SIGSTOP) while the container
// starts, runs and is removed with its cgroup; once it resumes, the exec
// record of the container's process names the container anyway, from the
// kernel's record of the cgroup's creation, which precedes it in the ring.
func TestContainerGoneBeforeRead(t *testing.T) {
	image := testutil.PodmanDebian(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out := filepath.Join(dir, "events.jsonl")
	cmd, _ := startRun(t, out, "--output", "file:"+out)
	stopped := false
	defer func() {
		if stopped {
			cmd.Process.Signal(syscall.SIGCONT)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	marker := fmt.Sprintf("argus-gone-%d", os.Getpid())
	cidfile := filepath.Join(dir, "cid")
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped = true
	b, err := exec.Command("podman", "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024",
		"--ulimit", "nproc=1024:1024", "--network", "none", "--name", marker, "--cidfile", cidfile,
		image, "/bin/sh", "-c", "exec /bin/true "+marker).CombinedOutput()
	if err != nil {
		t.Fatalf("podman run: %v: %s", err, b)
	}
	cid, err := os.ReadFile(cidfile)
	if err != nil || len(strings.TrimSpace(string(cid))) != 64 {
		t.Fatalf("container id %q: %v", cid, err)
	}
	id := strings.TrimSpace(string(cid))
	// The evasion's condition: nothing of the container is left to read.
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.Contains(d.Name(), id) {
				t.Fatalf("cgroup %s still exists after podman run --rm", p)
			}
			return nil
		})
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	var launch map[string]any
	waitForWithin(t, 3*time.Minute, func() bool {
		for _, r := range readLines(t, out) {
			if args, _ := get(r, "process.args").([]any); r["kind"] == "process_launch" && len(args) == 2 && args[1] == marker {
				launch = r
				return true
			}
		}
		return false
	}, "the container's launch record")
	if got := get(launch, "process.container.id"); got != id {
		t.Fatalf("launch of a container gone before the sensor read it: container.id %v, want %s\n%v", got, id, launch["process"])
	}
	if got := get(launch, "process.container.runtime"); got != "podman" {
		t.Errorf("container.runtime %v, want podman", got)
	}
}
