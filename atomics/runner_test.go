package atomics

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

var (
	resultsPath = flag.String("atomics.results", "../docs/atomic-results.md", "file the runner writes its results table to (empty: none)")
	getPrereqs  = flag.Bool("atomics.get-prereqs", false, "run an atomic's get_prereq_command when its prerequisite is not met")
	keepOutput  = flag.Bool("atomics.keep", false, "keep the sensor's output and log (the directory is logged)")
	serviceUnit = flag.String("atomics.service", "", "run against this running systemd service (e.g. argus-sensor.service) instead of building and starting a sensor; needs -atomics.output")
	serviceOut  = flag.String("atomics.output", "", "with -atomics.service: the service's configured file output")
)

const (
	// commandTimeout bounds each command, as Invoke-AtomicTest's
	// default timeout does.
	commandTimeout = 120 * time.Second
	// signalTimeout is how long the runner waits for an atomic's
	// telemetry before running its cleanup.
	signalTimeout = 30 * time.Second
	sensorTimeout = 90 * time.Second
	// throwawayHome is the home directory the hidden-directory payload
	// goes in: the sensor's hidden_dir class covers /home/*, and the
	// runner's own HOME is left alone.
	throwawayHome = "/home/argus-atomic"
)

// caseRun is one atomic: its definition, the arguments it ran with, and
// what happened.
type caseRun struct {
	spec   *caseSpec
	atomic *Atomic
	number int // its number in its file, as Invoke-AtomicTest counts
	folder string
	args   map[string]string

	ran        bool
	skipped    string // a prerequisite was not met outside CI
	prereqErr  string // a prerequisite was not met in CI
	shell      uint32 // pid of the executor's shell
	start, end time.Time
	cmdErr     error
	output     []byte
	cleanErr   error
	leftovers  []string
	digests    map[string]string
	keyID      string
	collectErr []string
	checks     []check
}

// command is a command of the atomic, ready to hand to its shell.
func (r *caseRun) command(s string) string { return Expand(s, r.args, r.folder) }

// expand turns a path template with #{arguments} into a path; $HOME in
// an argument's default is the runner's.
func (r *caseRun) expand(s string) string { return os.ExpandEnv(Expand(s, r.args, r.folder)) }

// hash records the sha256 of the file a template names.
func (r *caseRun) hash(tmpl string) {
	p := r.expand(tmpl)
	b, err := os.ReadFile(p)
	if err != nil {
		r.collectErr = append(r.collectErr, fmt.Sprintf("hash %s: %v", p, err))
		return
	}
	sum := sha256.Sum256(b)
	r.digests[p] = hex.EncodeToString(sum[:])
}

// certKeyID records the key id evmctl gives the certificate's key: the
// last four bytes of the SHA-1 of its subjectPublicKey.
func (r *caseRun) certKeyID(tmpl string) {
	p := r.expand(tmpl)
	b, err := os.ReadFile(p)
	if err != nil {
		r.collectErr = append(r.collectErr, fmt.Sprintf("read certificate: %v", err))
		return
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		r.collectErr = append(r.collectErr, "read certificate: no PEM block in "+p)
		return
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		r.collectErr = append(r.collectErr, fmt.Sprintf("parse certificate: %v", err))
		return
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		r.collectErr = append(r.collectErr, fmt.Sprintf("parse public key: %v", err))
		return
	}
	sum := sha1.Sum(spki.PublicKey.RightAlign())
	r.keyID = hex.EncodeToString(sum[16:])
}

// loadRuns reads the technique files, validates them, and pairs every
// atomic in them with its caseSpec.
func loadRuns(t *testing.T, folder string) []*caseRun {
	t.Helper()
	files := map[string]*Technique{}
	var runs []*caseRun
	for i := range suite {
		spec := &suite[i]
		tech, ok := files[spec.file]
		if !ok {
			var err error
			if tech, err = Load(filepath.Join(folder, spec.file)); err != nil {
				t.Fatal(err)
			}
			if err := tech.Validate(); err != nil {
				t.Fatalf("%s: %v", spec.file, err)
			}
			files[spec.file] = tech
		}
		idx := slices.IndexFunc(tech.AtomicTests, func(a Atomic) bool { return a.Name == spec.name })
		if idx < 0 {
			t.Fatalf("%s has no atomic named %q (case %s)", spec.file, spec.name, spec.id)
		}
		r := &caseRun{spec: spec, atomic: &tech.AtomicTests[idx], number: idx + 1, folder: folder, digests: map[string]string{}}
		r.args = r.atomic.Args(nil)
		runs = append(runs, r)
	}
	for file, tech := range files {
		for _, a := range tech.AtomicTests {
			if !slices.ContainsFunc(suite, func(s caseSpec) bool { return s.file == file && s.name == a.Name }) {
				t.Fatalf("%s: atomic %q has no expectations in suite_test.go", file, a.Name)
			}
		}
	}
	return runs
}

// env is what the atomics run against: the sensor, the network
// namespaces, the test hosts.
type env struct {
	folder, root string
	dir          string // sensor binary, output, log
	scratch      string // the commands' working directory
	bin, log     string
	sensor       *exec.Cmd
	sensorDone   chan error
	out          *output
	pair         *testutil.NetPair
	overrides    map[string]string
	version      string
	unit         string // with -atomics.service: the service, which the runner does not start
}

// TestAtomicT1587 runs every atomic of atomics/T1587/T1587.yaml and of
// atomics/argus/*.yaml against the real argus-sensor binary and checks
// what the sensor reported; it writes docs/atomic-results.md.
func TestAtomicT1587(t *testing.T) {
	testutil.RequireRoot(t)
	folder, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	runs := loadRuns(t, folder)
	rep := &report{runs: runs, start: time.Now().UTC(), setupErr: "the runner stopped before the atomics ran (see the test log)"}
	defer func() {
		// A run of some atomics (-run TestAtomicT1587/V2) does not
		// replace the committed table unless asked to.
		explicit := false
		flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "atomics.results" })
		if !explicit && slices.ContainsFunc(runs, func(r *caseRun) bool { return !r.ran }) && rep.setupErr == "" {
			t.Logf("not all atomics ran: %s left as it was (set -atomics.results to write one anyway)", *resultsPath)
			return
		}
		rep.write(t, *resultsPath)
	}()

	e := &env{folder: folder, root: filepath.Dir(folder), unit: *serviceUnit}
	rep.unit, rep.output = e.unit, *serviceOut
	e.setup(t)
	for _, r := range runs {
		r.args = r.atomic.Args(e.overrides)
	}
	e.serve(t, runs)
	if e.unit != "" {
		e.attachService(t, *serviceOut)
	} else {
		e.startSensor(t)
	}
	rep.version = e.version
	rep.setupErr = ""

	for _, r := range runs {
		t.Run(r.spec.id, func(t *testing.T) { e.run(t, r) })
	}
	if e.unit != "" {
		e.stopService(t)
	} else {
		e.stopSensor(t)
	}
	rep.finish(e.out)

	for _, r := range runs {
		if msg := r.failure(); msg != "" {
			t.Errorf("%s %s (%s): FAIL\n%s", r.spec.id, r.spec.name, r.spec.file, msg)
		}
	}
	if st := e.out.stopped(); st != nil && (st.Health.EventsLost > 0 || st.Health.EventsDropped > 0) {
		t.Logf("the sensor lost %d and dropped %d events during the run: something else loaded the host",
			st.Health.EventsLost, st.Health.EventsDropped)
	}
}

// failure describes what failed, or "".
func (r *caseRun) failure() string {
	if !r.ran || r.skipped != "" {
		return ""
	}
	var b strings.Builder
	for _, c := range r.checks {
		if !c.ok {
			fmt.Fprintf(&b, "  - want %s\n    got  %s\n", c.want, c.got)
		}
	}
	if b.Len() > 0 && len(r.output) > 0 {
		fmt.Fprintf(&b, "  command output:\n%s", indent(r.output))
	}
	return b.String()
}

func indent(b []byte) string {
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		out.WriteString("    | " + l + "\n")
	}
	return out.String()
}

// setup builds the sensor and makes the network namespaces and the
// throwaway home.
func (e *env) setup(t *testing.T) {
	if *keepOutput {
		d, err := os.MkdirTemp("", "argus-atomics-")
		if err != nil {
			t.Fatal(err)
		}
		e.dir = d
		t.Logf("sensor output and log kept in %s", d)
	} else {
		e.dir = t.TempDir()
	}
	e.scratch = t.TempDir()
	if e.unit == "" {
		e.bin = filepath.Join(e.dir, "argus-sensor")
		build := exec.Command(goTool(), "build", "-o", e.bin, "./cmd/argus-sensor")
		build.Dir = e.root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build argus-sensor: %v\n%s", err, out)
		}
		if out, err := exec.Command(e.bin, "version").Output(); err == nil {
			e.version = strings.TrimSpace(string(out))
		}
		describe := exec.Command("git", "describe", "--always", "--dirty")
		describe.Dir = e.root
		if out, err := describe.Output(); err == nil {
			e.version += " built from " + strings.TrimSpace(string(out))
		}
	}

	e.pair = testutil.NewNetPair(t)

	// A stale throwaway home is this runner's own, left by a run that
	// was killed.
	if err := os.RemoveAll(throwawayHome); err != nil {
		t.Fatalf("remove stale %s: %v", throwawayHome, err)
	}
	if err := os.MkdirAll(throwawayHome, 0o700); err != nil {
		t.Fatalf("make throwaway home: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(throwawayHome) })

	e.overrides = map[string]string{
		"netns_exec":  "ip netns exec " + e.pair.Client,
		"netns_path":  "/run/netns/" + e.pair.Client,
		"payload_dir": throwawayHome + "/.n2",
	}
	// The container atomic's image, built once and cached, where the
	// tools to build it are here (its prerequisite says what is missing
	// otherwise).
	if havePrograms("podman", "runc", "debootstrap") {
		testutil.PodmanDebian(t)
	}
}

func havePrograms(names ...string) bool {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return false
		}
	}
	return true
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// serve listens, inside the server namespace, on every test-host address
// the atomics connect to. A connection that sends an HTTP request gets a
// short 200 response; any other is read until the client closes it.
func (e *env) serve(t *testing.T, runs []*caseRun) {
	server := []string{testutil.ServerV4, testutil.ServerPrivateV4, testutil.ServerV6}
	var addrs []string
	add := func(host string, port int) {
		a := net.JoinHostPort(host, fmt.Sprint(port))
		if port > 0 && slices.Contains(server, host) && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	for _, r := range runs {
		x := &expect{run: r}
		for _, hp := range [][2]string{{"c2_host", "c2_port"}, {"registry_host", "registry_port"}, {"telemetry_host", "telemetry_port"}} {
			add(r.args[hp[0]], x.port(hp[1]))
		}
		if u, ok := r.args["test_url"]; ok {
			add(hostPort(u))
		}
	}
	ls, err := listenIn(e.pair.Server, addrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		t.Cleanup(func() { l.Close() })
		go acceptLoop(l)
	}
}

// listenIn opens listeners in network namespace ns, from a thread that
// switches there and back; sockets stay in the namespace they were made
// in. If the thread cannot switch back, its goroutine ends locked to it
// and the runtime retires it.
func listenIn(ns string, addrs []string) ([]net.Listener, error) {
	type result struct {
		ls  []net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("open own network namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("open network namespace %s: %w", ns, err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("enter %s: %w", ns, err)}
			return
		}
		var res result
		for _, a := range addrs {
			l, err := net.Listen("tcp", a)
			if err != nil {
				res.err = fmt.Errorf("listen on %s in %s: %w", a, ns, err)
				break
			}
			res.ls = append(res.ls, l)
		}
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			res.err = errors.Join(res.err, fmt.Errorf("return from %s: %w", ns, err))
			done <- res
			return // still locked: the thread goes with the goroutine
		}
		runtime.UnlockOSThread()
		done <- res
	}()
	res := <-done
	if res.err != nil {
		for _, l := range res.ls {
			l.Close()
		}
		return nil, res.err
	}
	return res.ls, nil
}

func acceptLoop(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			var req []byte
			buf := make([]byte, 4096)
			for !bytes.Contains(req, []byte("\r\n\r\n")) && len(req) < 64<<10 {
				n, err := c.Read(buf)
				req = append(req, buf[:n]...)
				if err != nil {
					return // the client closed, or went quiet: not HTTP
				}
			}
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
		}()
	}
}

// startSensor runs the real binary and waits for its "started" record.
func (e *env) startSensor(t *testing.T) {
	events := filepath.Join(e.dir, "events.jsonl")
	e.log = filepath.Join(e.dir, "sensor.log")
	logf, err := os.Create(e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	// No metrics listener: the atomics do not read it, and a fixed port
	// would tie the run to nothing else on the host holding 9462.
	e.sensor = exec.Command(e.bin, "run", "--output", "file:"+events, "--spool-dir", filepath.Join(e.dir, "spool"),
		"--state-dir", filepath.Join(e.dir, "state"), "--health-interval", "0", "--metrics-address", "")
	e.sensor.Stdout, e.sensor.Stderr = logf, logf
	if err := e.sensor.Start(); err != nil {
		t.Fatalf("start argus-sensor: %v", err)
	}
	e.sensorDone = make(chan error, 1)
	go func() { e.sensorDone <- e.sensor.Wait() }()
	t.Cleanup(func() {
		if e.sensorDone != nil {
			e.sensor.Process.Kill()
			<-e.sensorDone
		}
	})
	e.out = newOutput(events)
	t.Cleanup(e.out.close)
	deadline := time.Now().Add(sensorTimeout)
	for !e.out.started() {
		select {
		case err := <-e.sensorDone:
			e.sensorDone = nil
			t.Fatalf("argus-sensor exited before it started: %v\n%s", err, tail(e.log))
		case <-time.After(100 * time.Millisecond):
		}
		if err := e.out.poll(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("argus-sensor wrote no started record within %v\n%s", sensorTimeout, tail(e.log))
		}
	}
}

// stopSensor stops the sensor as an operator would (SIGINT) and reads
// the rest of its output: what it drained from the kernel on the way
// out, and its final health record.
func (e *env) stopSensor(t *testing.T) {
	if e.sensorDone == nil {
		return
	}
	e.sensor.Process.Signal(syscall.SIGINT)
	select {
	case err := <-e.sensorDone:
		if err != nil {
			t.Errorf("argus-sensor exited with %v\n%s", err, tail(e.log))
		}
	case <-time.After(30 * time.Second):
		e.sensor.Process.Kill()
		<-e.sensorDone
		t.Errorf("argus-sensor did not stop within 30s of SIGINT")
	}
	e.sensorDone = nil
	if err := e.out.poll(); err != nil {
		t.Error(err)
	}
	e.out.flushPart()
	if e.out.bad > 0 {
		t.Errorf("%d output lines did not decode; first: %s", e.out.bad, e.out.firstBad)
	}
	if e.out.invalid > 0 {
		t.Errorf("%d of %d output lines do not match the argus.v1 schema; first: %s", e.out.invalid, e.out.validated, e.out.firstInvalid)
	} else {
		t.Logf("%d output lines match the argus.v1 schema", e.out.validated)
	}
	if e.out.stopped() == nil {
		t.Errorf("no sensor_health stopped record in the output")
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// run runs one atomic: prerequisites, command, a wait for its telemetry,
// cleanup.
func (e *env) run(t *testing.T, r *caseRun) {
	a := r.atomic
	r.ran = true
	depExec := a.DependencyExecutorName
	if depExec == "" {
		depExec = a.Executor.Name
	}
	for _, d := range a.Dependencies {
		if e.prereqMet(t, r, depExec, d) {
			continue
		}
		msg := "prerequisite not met: " + d.Description
		if os.Getenv("CI") == "true" {
			r.prereqErr = msg
			r.checks = []check{{want: "prerequisites met", got: msg}}
			t.Error(msg + " (CI installs it: see .ci/run)")
			return
		}
		r.skipped = msg
		t.Skip("skipping: " + msg + " (or run with -atomics.get-prereqs)")
	}

	r.start = time.Now()
	pid, out, err := e.shell(a.Executor.Name, r.command(a.Executor.Command))
	r.end = time.Now()
	r.shell, r.output, r.cmdErr = pid, out, err
	t.Logf("command (shell pid %d): %v\n%s", pid, err, out)
	if r.spec.collect != nil {
		r.spec.collect(r)
	}
	e.await(r)

	if a.Executor.CleanupCommand != "" {
		_, out, err := e.shell(a.Executor.Name, r.command(a.Executor.CleanupCommand))
		r.cleanErr = err
		if err != nil {
			t.Logf("cleanup: %v\n%s", err, out)
		}
	}
	for _, c := range r.spec.created {
		if p := r.expand(c); exists(p) {
			r.leftovers = append(r.leftovers, p)
		}
	}
}

func (e *env) prereqMet(t *testing.T, r *caseRun, executor string, d Dependency) bool {
	if _, out, err := e.shell(executor, r.command(d.PrereqCommand)); err == nil {
		return true
	} else if !*getPrereqs {
		t.Logf("prerequisite %q: %v %s", d.Description, err, out)
		return false
	}
	if _, out, err := e.shell(executor, r.command(d.GetPrereqCommand)); err != nil {
		t.Logf("get prerequisite %q: %v\n%s", d.Description, err, out)
	}
	_, _, err := e.shell(executor, r.command(d.PrereqCommand))
	return err == nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// shell runs script with the executor's shell, as "sh -c SCRIPT", in its
// own process group so a timeout takes down everything it started.
func (e *env) shell(executor, script string) (uint32, []byte, error) {
	var name string
	switch executor {
	case "sh":
		name = "/bin/sh"
	case "bash":
		p, err := exec.LookPath("bash")
		if err != nil {
			return 0, nil, fmt.Errorf("executor bash: %w", err)
		}
		name = p
	default:
		return 0, nil, fmt.Errorf("executor %q: this runner runs sh and bash only", executor)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, "-c", script)
	cmd.Dir = e.scratch
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", name, err)
	}
	pid := uint32(cmd.Process.Pid)
	err := cmd.Wait()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", commandTimeout, err)
	}
	return pid, out.Bytes(), err
}

// await reads the sensor's output until the atomic's expected signals
// are there, or signalTimeout passes. Checks that can only be judged at
// the end (no detection, cleanup) are not waited for.
func (e *env) await(r *caseRun) {
	deadline := time.Now().Add(signalTimeout)
	for {
		e.out.poll()
		done := true
		for _, c := range evaluate(r, e.out) {
			done = done && (c.ok || c.final)
		}
		if done || time.Now().After(deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// evaluate judges an atomic against the output read so far.
func evaluate(r *caseRun, out *output) []check {
	x := &expect{run: r, w: &window{ids: map[string]bool{}}}
	var checks []check
	if r.ran && r.skipped == "" && r.prereqErr == "" {
		x.w = out.attribute(r.shell, r.start.Add(-time.Second), r.end.Add(time.Second))
		x.all = out.detections()
		c := check{want: "command exits 0", got: "exit 0", ok: r.cmdErr == nil}
		if r.cmdErr != nil {
			c.got = r.cmdErr.Error()
		}
		checks = append(checks, c)
		if len(r.collectErr) > 0 {
			checks = append(checks, check{want: "the files the command made can be read", got: strings.Join(r.collectErr, "; ")})
		}
	}
	r.spec.expect(x)
	x.onlyExpected()
	checks = append(checks, x.checks...)
	if len(r.spec.created) > 0 {
		var made []string
		for _, c := range r.spec.created {
			made = append(made, r.expand(c))
		}
		c := check{want: "cleanup removes " + strings.Join(made, ", "), final: true, ok: r.cleanErr == nil && len(r.leftovers) == 0, got: "removed"}
		switch {
		case r.cleanErr != nil:
			c.got = "cleanup failed: " + r.cleanErr.Error()
		case len(r.leftovers) > 0:
			c.got = "left " + strings.Join(r.leftovers, ", ")
		}
		checks = append(checks, c)
	}
	return checks
}
