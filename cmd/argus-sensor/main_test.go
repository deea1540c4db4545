package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/internal/schematest"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// The test binary is also the argus-sensor binary: with mainEnv set it
// runs main() with its arguments, so these tests drive the real command
// line, signal handling and exit codes.
const (
	mainEnv    = "ARGUS_SENSOR_TEST_MAIN"
	connectEnv = "ARGUS_SENSOR_TEST_CONNECT"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Args = append([]string{"argus-sensor"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	if addr := os.Getenv(connectEnv); addr != "" {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func sensorCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	return cmd
}

// startRun starts `argus-sensor run` with args and waits for its
// sensor_health "started" record in out. The process is killed when the
// test ends.
func startRun(t *testing.T, out string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	if !slices.Contains(args, "--state-dir") {
		args = append(args, "--state-dir", t.TempDir())
	}
	cmd := sensorCmd(t, append([]string{"run"}, args...)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, func() bool {
		b, _ := os.ReadFile(out)
		return bytes.Contains(b, []byte(`"state":"started"`))
	}, "sensor_health started")
	return cmd, stderr
}

// syncBuffer is a bytes.Buffer a running command writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readLines parses every line of path as a JSON object.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// get walks a decoded JSON object by dotted path.
func get(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$`)

func TestRunStreamsSchema(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out := filepath.Join(dir, "events.jsonl")
	cmd, stderr := startRun(t, out, "--output", "file:"+out, "--health-interval", "0", "--metrics-address", freePort(t))

	tool := filepath.Join(dir, "tool")
	testutil.WriteExitELF(t, tool, 0)
	run := exec.Command("./tool", "--flag", "value")
	run.Dir = dir
	if err := run.Run(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for c, err := l.Accept(); err == nil; c, err = l.Accept() {
			c.Close()
		}
	}()
	bin, _ := os.Executable()
	conn := exec.Command(bin)
	conn.Env = append(os.Environ(), connectEnv+"="+l.Addr().String())
	if err := conn.Run(); err != nil {
		t.Fatal(err)
	}
	port := float64(l.Addr().(*net.TCPAddr).Port)
	waitFor(t, func() bool {
		b, _ := os.ReadFile(out)
		return bytes.Contains(b, []byte(fmt.Sprintf(`"dst_port":%d`, int(port))))
	}, "network_connection")

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sensor exit: %v\n%s", err, stderr.String())
	}

	t.Logf("%d records match the argus.v1 schema", schematest.File(t, out))
	lines := readLines(t, out)
	var launch, connect map[string]any
	for i, m := range lines {
		for _, k := range []string{"schema", "id", "kind", "time", "host.hostname"} {
			if s, _ := get(m, k).(string); s == "" {
				t.Fatalf("line %d lacks %s: %v", i+1, k, m)
			}
		}
		if m["schema"] != "argus.v1" || !timeRE.MatchString(m["time"].(string)) {
			t.Fatalf("line %d: schema %v time %v", i+1, m["schema"], m["time"])
		}
		switch {
		case m["kind"] == "process_launch" && get(m, "process.exe.path") == tool:
			launch = m
		case m["kind"] == "network_connection" && get(m, "network.dst_port") == port:
			connect = m
		}
	}
	first, last := lines[0], lines[len(lines)-1]
	if first["kind"] != "sensor_health" || get(first, "health.state") != "started" {
		t.Errorf("first line %v, want sensor_health started", first)
	}
	if last["kind"] != "sensor_health" || get(last, "health.state") != "stopped" ||
		get(last, "health.events_lost") != 0.0 || get(last, "health.events_dropped") != 0.0 {
		t.Errorf("last line %v, want sensor_health stopped with nothing lost", last)
	}
	if launch == nil || connect == nil {
		t.Fatalf("launch %v, connect %v", launch != nil, connect != nil)
	}
	for path, want := range map[string]any{
		"process.pid": float64(run.Process.Pid), "process.ppid": float64(os.Getpid()), "process.uid": 0.0,
		"process.cwd": dir, "process.exe.memfd": false, "process.exe.deleted": false,
		"process.parent.pid": float64(os.Getpid()), "process.exe.invoked_as": "./tool",
	} {
		if got := get(launch, path); got != want {
			t.Errorf("launch %s = %v, want %v", path, got, want)
		}
	}
	if args := get(launch, "process.args").([]any); len(args) != 3 || args[2] != "value" {
		t.Errorf("launch args %v", args)
	}
	for _, k := range []string{"process.start_time_ns", "process.exe.device", "process.exe.inode", "process.exe.size", "process.exe.mtime_ns", "process.parent.exe.path"} {
		if get(launch, k) == nil {
			t.Errorf("launch lacks %s", k)
		}
	}
	for path, want := range map[string]any{
		"process.pid": float64(conn.Process.Pid), "process.exe.path": bin, "network.protocol": "tcp",
		"network.family": "ipv4", "network.dst_ip": "127.0.0.1",
		// Go's net.Dial connects non-blocking: the syscall says EINPROGRESS.
		"network.result": "EINPROGRESS", "network.result_code": -115.0,
	} {
		if got := get(connect, path); got != want {
			t.Errorf("connect %s = %v, want %v", path, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	testutil.RequireRoot(t)
	var stdout bytes.Buffer
	cmd := sensorCmd(t, "check", "--json")
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("check as root: %v\n%s", err, stdout.String())
	}
	var r struct {
		OK      bool              `json:"ok"`
		BTF     string            `json:"btf"`
		Hooks   map[string]string `json:"hooks"`
		Folding string            `json:"connect_folding"`
		Code    string            `json:"connect_code_origin"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.BTF != "yes" {
		t.Errorf("check report %+v", r)
	}
	want := []string{"exec", "exit", "fork", "connect"}
	_, legacy := r.Hooks["connect_enter"]
	if legacy {
		want = []string{"exec", "exit", "fork", "connect_enter", "connect_exit"}
	}
	// Folding needs lookup-and-delete on hash maps (5.14+, where the
	// single connect program is used too); an older kernel says why not.
	if !legacy && r.Folding != "yes" || legacy && r.Folding != "yes" && !strings.Contains(r.Folding, "5.14") {
		t.Errorf("connect folding %q", r.Folding)
	}
	// Where the calling code lives needs bpf_find_vma (5.17+) and the
	// single connect program.
	if m := r.Hooks["library_mprotect"]; !legacy && m == "yes" && r.Code != "yes" ||
		r.Code != "yes" && !strings.Contains(r.Code, "bpf_find_vma") && !strings.Contains(r.Code, "legacy") {
		t.Errorf("connect code origin %q (library_mprotect %q, legacy %v)", r.Code, m, legacy)
	}
	want = append(want, "cgroup_mkdir", "sockaddr_connect4", "sockaddr_connect6", "sockaddr_sendmsg4", "sockaddr_sendmsg6", "dns", "library_mmap")
	// The mprotect library hook needs bpf_find_vma (5.17+): elsewhere it
	// is listed as missing, with that reason.
	if m := r.Hooks["library_mprotect"]; m != "yes" && !strings.Contains(m, "bpf_find_vma") {
		t.Errorf("hook library_mprotect: %q", m)
	}
	if len(r.Hooks) != len(want)+1 {
		t.Errorf("hooks %v, want %v", r.Hooks, want)
	}
	for _, name := range want {
		if r.Hooks[name] != "yes" {
			t.Errorf("hook %s: %q", name, r.Hooks[name])
		}
	}
}

// TestCheckShowsMissingOptionalHook: a socket address hook that could not
// attach is a check line, and the sensor is still reported able to run.
func TestCheckShowsMissingOptionalHook(t *testing.T) {
	r := sensor.Report{Kernel: "5.4.0", Hooks: []sensor.Hook{
		{Name: "exec", Attach: "tp_btf/sched_process_exec", Attached: true},
		{Name: "sockaddr_connect4", Attach: "cgroup/connect4", Optional: true, Err: sensor.ErrNoCgroup2},
	}}
	var b bytes.Buffer
	printCheck(&b, r)
	out := b.String()
	for _, want := range []string{"hook sockaddr_connect4 no: " + sensor.ErrNoCgroup2.Error(), "ok, with 1 optional hook(s) missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	j := checkJSON(r)
	if !j.OK || !strings.Contains(j.Hooks["sockaddr_connect4"], "no cgroup v2") {
		t.Errorf("check --json %+v", j)
	}
}

func TestCheckWithoutPrivilegeExplains(t *testing.T) {
	testutil.RequireRoot(t) // to drop to nobody
	// A copy of the test binary where nobody can execute it.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, _ := os.Executable()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "argus-sensor")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "check")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("check as nobody: %v, want exit 1", err)
	}
	if msg := stderr.String(); !strings.Contains(msg, "missing CAP_BPF") || strings.Contains(msg, "goroutine") {
		t.Errorf("stderr %q: want a one-line reason naming CAP_BPF and no stack trace", msg)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"run", "--output", "kafka://x"}, {"run", "--log-level", "loud"}, {"bogus"}, {"run", "extra"}} {
		var stderr bytes.Buffer
		cmd := sensorCmd(t, args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); !ok || strings.Contains(stderr.String(), "goroutine") {
			t.Errorf("%v: err %v, stderr %q", args, err, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := sensorCmd(t, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "argus-sensor ") {
		t.Fatalf("version: %q, %v", out, err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	waitForWithin(t, 30*time.Second, cond, what)
}

// waitForWithin is waitFor with a longer wait, for what a slow machine
// under the race detector takes long to finish (it costs nothing when the
// condition comes sooner).
func waitForWithin(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(testutil.Patience(t, d))
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInspect(t *testing.T) {
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	cp := filepath.Join(dir, "true-copy")
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := sensorCmd(t, "inspect", "/usr/bin/true", filepath.Join(dir, "missing"), cp)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("inspect with a missing file: %v, want exit 1", err)
	}
	if !strings.Contains(stderr.String(), "missing") {
		t.Errorf("stderr %q does not name the bad path", stderr.String())
	}
	type out struct {
		Path        string   `json:"path"`
		Size        int64    `json:"size"`
		SHA256      string   `json:"sha256"`
		Inode       uint64   `json:"inode"`
		Device      uint64   `json:"device"`
		PathClasses []string `json:"path_classes"`
		Trust       *struct {
			Verdict, Severity, Package string
		} `json:"trust"`
		Error string `json:"error"`
	}
	var got []out
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var o out
		if err := dec.Decode(&o); err != nil {
			t.Fatal(err)
		}
		got = append(got, o)
	}
	if len(got) != 3 {
		t.Fatalf("%d objects, want one per file", len(got))
	}
	sum := sha256.Sum256(b)
	want := hex.EncodeToString(sum[:])
	if g := got[0]; g.Path != "/usr/bin/true" || g.SHA256 != want || g.Inode == 0 || g.Device == 0 || g.Size != int64(len(b)) ||
		g.Trust == nil || g.Trust.Verdict != "package_verified" || g.Trust.Package != "coreutils" || len(g.PathClasses) != 0 {
		t.Errorf("/usr/bin/true: %+v trust %+v", g, g.Trust)
	}
	if g := got[1]; g.Error == "" || g.SHA256 != "" {
		t.Errorf("missing file: %+v", g)
	}
	if g := got[2]; g.SHA256 != want || g.Trust == nil || g.Trust.Verdict != "unowned" || strings.Join(g.PathClasses, ",") != "tmp" {
		t.Errorf("copy: %+v trust %+v", g, g.Trust)
	}
}

func TestReplay(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	lines := []string{
		`{"schema":"argus.v1","id":"l1","kind":"process_launch","time":"2026-11-26T10:00:00.000000000Z","host":{"hostname":"h"},` +
			`"process":{"pid":1,"ppid":0,"uid":0,"gid":0,"euid":0,"egid":0,"start_time_ns":1,"args":["/tmp/x"],"cwd":"/",` +
			`"exe":{"path":"/tmp/x","device":1,"inode":1,"size":1,"mtime_ns":1,"ctime_ns":1,"nlink":1,"mode":1,"uid":0,"memfd":false,"deleted":false,"sha256":"` + sha + `"}}}`,
		`{not json`,
		`{"schema":"argus.v1","id":"c1","kind":"network_connection","time":"2026-11-26T10:01:00.000000000Z","host":{"hostname":"h"},` +
			`"process":{"pid":1,"ppid":0,"uid":0,"gid":0,"euid":0,"egid":0,"start_time_ns":1,"args":null,"cwd":"/",` +
			`"exe":{"path":"/tmp/x","device":1,"inode":1,"size":1,"mtime_ns":1,"ctime_ns":1,"nlink":1,"mode":1,"uid":0,"memfd":false,"deleted":false,"sha256":"` + sha + `"}},` +
			`"network":{"protocol":"tcp","family":"ipv4","dst_ip":"192.0.2.1","dst_port":4444,"result":"success","result_code":0}}`,
	}
	path := filepath.Join(t.TempDir(), "telemetry.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := sensorCmd(t, "replay", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	var det map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &det); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if get(det, "detection.rule") != "t1587_develop_capabilities_unsigned_exec" || get(det, "detection.sha256") != sha {
		t.Errorf("detection %v", det)
	}
	if !strings.Contains(stderr.String(), "line 2:") || !strings.Contains(stderr.String(), "3 lines, 2 records, 1 bad, 1 detections") {
		t.Errorf("stderr %q", stderr.String())
	}
	schematest.Lines(t, stdout.Bytes())

	// The same detection, one line of text; a bad format is a usage error.
	stdout.Reset()
	cmd = sensorCmd(t, "replay", "--format", "compact", path)
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay --format compact: %v", err)
	}
	want := "DETECT  t1587_develop_capabilities_unsigned_exec HIGH T1587 x[1] /tmp/x [tmp] sha256=" + sha + " -> 192.0.2.1:4444/tcp external success"
	if got := strings.TrimSpace(stdout.String()); strings.Count(got, "\n") != 0 || !strings.Contains(got, want) {
		t.Errorf("replay --format compact:\n got %q\nwant a line containing %q", got, want)
	}
	if err := sensorCmd(t, "replay", "--format", "xml", path).Run(); err == nil {
		t.Error("replay --format xml succeeded")
	}
}

// TestReplayOutputMatchesSchema replays records of every kind with every
// optional member filled, and validates the detections replay writes,
// with the records they embed, against the argus.v1 schema.
func TestReplayOutputMatchesSchema(t *testing.T) {
	var in []byte
	for _, r := range schematest.Rich() {
		in = append(r.AppendJSON(in), '\n')
	}
	path := filepath.Join(t.TempDir(), "rich.jsonl")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := sensorCmd(t, "replay", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	if n := schematest.Lines(t, stdout.Bytes()); n == 0 {
		t.Fatalf("replay wrote no detection; stderr %q", stderr.String())
	}
	if strings.Contains(stderr.String(), "skipped") {
		t.Errorf("replay skipped records: %s", stderr.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConfigReloadMetricsHealth runs the sensor from a config file, checks
// /healthz and /metrics, then reloads it with SIGHUP: a good file moves the
// output, a bad one is refused and the running configuration kept.
func TestConfigReloadMetricsHealth(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	first, second := filepath.Join(dir, "first.jsonl"), filepath.Join(dir, "second.jsonl")
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	writeCfg := func(out, extra string) {
		t.Helper()
		cfg := fmt.Sprintf("outputs:\n  - spec: file:%s\nspool: {dir: %s}\nmetrics: {address: %q}\nhealth_interval: 0s\n%s",
			out, filepath.Join(dir, "spool"), addr, extra)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(first, "")
	cmd, stderr := startRun(t, first, "--config", cfgPath)

	waitFor(t, func() bool { code, _ := httpGet(t, "http://"+addr+"/healthz"); return code == 200 }, "healthz 200")
	tool := filepath.Join(dir, "tool")
	testutil.WriteExitELF(t, tool, 0)
	if err := exec.Command(tool).Run(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, m := httpGet(t, "http://"+addr+"/metrics")
		return strings.Contains(m, `argus_events_read_total{kind="exec"}`) && !strings.Contains(m, `argus_events_read_total{kind="exec"} 0`)
	}, "exec counted in /metrics")
	// The pipeline hands every event it takes back to the sensor's size
	// bound: once idle, nothing is counted as queued.
	waitFor(t, func() bool {
		_, m := httpGet(t, "http://"+addr+"/metrics")
		return strings.Contains(m, "\nargus_sensor_queue_bytes 0\n")
	}, "argus_sensor_queue_bytes back to 0")
	_, m := httpGet(t, "http://"+addr+"/metrics")
	for _, want := range []string{`argus_hook_attached{attach="tp_btf/sched_process_exec",hook="exec"} 1`, "argus_events_lost_total",
		"argus_hash_cache_hits_total", "argus_trust_verdicts_total", "argus_output_sent_total",
		fmt.Sprintf("argus_ring_buffer_size_bytes %g", float64(sensor.DefaultRingBytes()))} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Idle, the daemon's lean collector target, unless GOGC overrides it.
	if _, set := os.LookupEnv("GOGC"); !set && !strings.Contains(m, "\ngo_gc_gogc_percent 50\n") {
		t.Error("/metrics does not show the idle sensor's collector target of 50 (go_gc_gogc_percent)")
	}

	// A good reload moves the output.
	writeCfg(second, "")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "configuration reloaded") }, "reload")
	exec.Command(tool, "after-reload").Run()
	waitFor(t, func() bool {
		b, _ := os.ReadFile(second)
		return bytes.Contains(b, []byte(`"after-reload"`))
	}, "exec after the reload in the new output")

	// A bad one is refused, with its line, and the sensor carries on.
	writeCfg(second, "detect:\n  allow:\n    - name: x\n      destinations: [not-a-cidr]\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "reload refused") }, "refused reload")
	if !strings.Contains(stderr.String(), "detect.allow[0]") {
		t.Errorf("refusal does not name the key: %s", stderr.String())
	}
	exec.Command(tool, "after-refusal").Run()
	waitFor(t, func() bool {
		b, _ := os.ReadFile(second)
		return bytes.Contains(b, []byte(`"after-refusal"`))
	}, "exec after the refused reload")

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
}

// TestBadInputOneLine: each failure is one clear line and a non-zero exit.
func TestBadInputOneLine(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	garbled := filepath.Join(dir, "garbled.yaml")
	os.WriteFile(garbled, []byte("outputs:\n  - spec: stdout\n    colour: blue\n"), 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"run", "--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"garbled config", []string{"run", "--config", garbled}, "line 3: field colour is not a known key"},
		{"check garbled config", []string{"check", "--config", garbled}, "line 3"},
		{"unwritable state directory", []string{"run", "--output", "syslog+tcp://127.0.0.1:1", "--spool-dir", "/proc/argus-spool",
			"--metrics-address", ""}, "spool"},
		{"unwritable prevalence store", []string{"run", "--output", "file:" + filepath.Join(dir, "y.jsonl"), "--state-dir", "/proc/argus-state",
			"--metrics-address", ""}, "prevalence"},
		{"port in use", []string{"run", "--output", "file:" + filepath.Join(dir, "x.jsonl"), "--metrics-address", busy.Addr().String()},
			"address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := sensorCmd(t, tc.args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("err %v, want a non-zero exit", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "argus-sensor: ") || !strings.Contains(last, tc.want) || strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr %q: want a last line naming %q", stderr.String(), tc.want)
			}
		})
	}
	var stdout bytes.Buffer
	cmd := sensorCmd(t, "check", "--config", "../../packaging/config.yaml")
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), ": ok") {
		t.Errorf("check of the shipped example: %v %q", err, stdout.String())
	}
}
