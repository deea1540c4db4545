package main

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// A console log as QEMU delivers it: firmware escapes glued to the first
// marker, carriage returns, kernel messages between steps.
const fullLog = "SeaBIOS (version 1.16.2)\r\nBooting from ROM..\x1bc\x1b[?7l\x1b[2JARGUS-KM kernel 5.10.0-46-cloud-amd64 mode=full cpus=2\r\n" +
	"ARGUS-KM begin check\r\n" +
	"hook exit            yes  tp_btf/sched_process_exit\r\n" +
	"hook connect_exit    yes  tracepoint/syscalls/sys_exit_connect\r\n" +
	"hook connect_enter   yes  tracepoint/syscalls/sys_enter_connect\r\n" +
	"ARGUS-KM end check rc=0 secs=1.02\r\n" +
	"ARGUS-KM begin sensor-tests\r\n" +
	"=== RUN   TestExecMemfd\r\n" +
	"--- SKIP: TestExecMemfd (0.00s)\r\n" +
	"--- PASS: TestConnectLoopback (1.64s)\r\n" +
	"[   12.345] random kernel line\r\n" +
	"PASS\r\n" +
	"ARGUS-KM end sensor-tests rc=0 secs=24.90\r\n" +
	"ARGUS-KM note TestInspect not run: reasons\r\n" +
	"ARGUS-KM begin cmd-tests\r\n" +
	"PASS\r\n" +
	"ARGUS-KM end cmd-tests rc=0 secs=6.70\r\n" +
	"ARGUS-KM done\r\n" +
	"[   40.1] reboot: Power down\r\n"

func TestParseTranscript(t *testing.T) {
	tr := parseTranscript(cleanLog([]byte(fullLog)))
	if tr.Kernel != "5.10.0-46-cloud-amd64" || !tr.Done || tr.Panic != "" {
		t.Fatalf("kernel %q done %v panic %q", tr.Kernel, tr.Done, tr.Panic)
	}
	var names []string
	for _, s := range tr.Steps {
		names = append(names, s.Name)
		if !s.Ended || s.RC != 0 {
			t.Errorf("step %+v", s)
		}
	}
	if !slices.Equal(names, []string{"check", "sensor-tests", "cmd-tests"}) {
		t.Errorf("steps %v", names)
	}
	if s := tr.step("sensor-tests"); s.Secs != 24.9 || len(s.Output) != 5 {
		t.Errorf("sensor-tests: %.2fs, %d lines", s.Secs, len(s.Output))
	}
	if got := tr.connectHooks(); got != "legacy enter/exit" {
		t.Errorf("connect hooks %q", got)
	}
	if !slices.Equal(tr.Notes, []string{"TestInspect not run: reasons"}) {
		t.Errorf("notes %q", tr.Notes)
	}
	if got := skippedTests(tr); !slices.Equal(got, []string{"TestExecMemfd"}) {
		t.Errorf("skipped %v", got)
	}
	if err := judge(scenario{Mode: "full"}, tr); err != nil {
		t.Errorf("judge: %v", err)
	}
}

func TestJudgeFull(t *testing.T) {
	for _, tc := range []struct {
		name, log, want string
	}{
		{"test failure", strings.Replace(fullLog, "ARGUS-KM end sensor-tests rc=0", "--- FAIL: TestExecStorm (3.00s)\nARGUS-KM end sensor-tests rc=1", 1),
			"sensor-tests: exit 1: TestExecStorm"},
		{"hang", fullLog[:strings.Index(fullLog, "ARGUS-KM end cmd-tests")], "cmd-tests: never finished"},
		{"panic in a step", strings.Replace(fullLog, "PASS\r\nARGUS-KM end cmd-tests", "panic: runtime error\r\nARGUS-KM end cmd-tests", 1),
			"cmd-tests: panic: runtime error"},
		{"kernel panic", fullLog[:strings.Index(fullLog, "ARGUS-KM begin cmd")] + "[ 9.1] Kernel panic - not syncing: Attempted to kill init!\n",
			"Kernel panic - not syncing"},
		{"missing step", strings.Replace(fullLog, "begin check", "begin other", 1), "check: never ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := judge(scenario{Mode: "full"}, parseTranscript(cleanLog([]byte(tc.log))))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestJudgeRefusal(t *testing.T) {
	sc := scenario{Mode: "refuse", Expect: "no kernel BTF"}
	log := func(checkRC, runRC string, runOut string) string {
		return "ARGUS-KM kernel 5.10.0 mode=refuse\n" +
			"ARGUS-KM begin check\nresult               cannot run: no kernel BTF (...)\nargus-sensor: cannot run on this host: no kernel BTF\n" +
			"ARGUS-KM end check rc=" + checkRC + " secs=0.2\n" +
			"ARGUS-KM begin run\n" + runOut + "\nARGUS-KM end run rc=" + runRC + " secs=0.1\nARGUS-KM done\n"
	}
	if err := judge(sc, parseTranscript(log("1", "1", "argus-sensor: no kernel BTF (...)"))); err != nil {
		t.Errorf("clean refusal judged %v", err)
	}
	for _, tc := range []struct {
		name, log, want string
	}{
		{"check says ok", log("0", "1", "argus-sensor: no kernel BTF"), "check: exit 0, want 1"},
		{"run starts anyway", log("1", "143", `{"kind":"sensor_health"}`), "run: exit 143, want 1"},
		{"run crashes", log("1", "2", "panic: nil map\ngoroutine 1 [running]:"), "run: panic: nil map"},
		{"wrong reason", log("1", "1", "argus-sensor: load exec programs: invalid argument"), `run: no "no kernel BTF"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := judge(sc, parseTranscript(tc.log))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestScenarios(t *testing.T) {
	var names []string
	for _, sc := range scenarios(allSeries, true) {
		names = append(names, sc.Name)
		if sc.Mode == "refuse" && sc.Expect == "" {
			t.Errorf("%s: a refusal scenario must name the reason it expects", sc.Name)
		}
	}
	if want := []string{"5.10", "6.1", "6.12", "6.1-arm64", "6.12-arm64", "5.10 no BTF", "6.12 lockdown"}; !slices.Equal(names, want) {
		t.Errorf("rows %v, want %v", names, want)
	}
	for _, sc := range scenarios(allSeries, true) {
		if _, ok := guestArches[sc.Arch]; !ok {
			t.Errorf("%s: architecture %q has no guest setup", sc.Name, sc.Arch)
		}
		if _, ok := elfMachines[sc.Arch]; !ok {
			t.Errorf("%s: architecture %q has no ELF machine to check binaries against", sc.Name, sc.Arch)
		}
	}
	if got := scenarios(allSeries[1:2], true); len(got) != 1 {
		t.Errorf("6.1 alone: %d rows, want 1 (the refusals need 5.10 and 6.12)", len(got))
	}
}

func TestQemuArgs(t *testing.T) {
	c := vmConfig{accel: "tcg,thread=single", memMB: 1536, cpus: 2, timeout: 600e9, run: "TestExec", append: []string{"loglevel=7"},
		storm: map[string]float64{"amd64": 0.25, "arm64": 0.125}}
	args := strings.Join(c.qemuArgs(scenario{Arch: "amd64", Mode: "refuse", Append: []string{"argus.hidebtf=1"}}, "vmlinuz", "initrd"), " ")
	for _, want := range []string{"-accel tcg,thread=single", "-nic none", "-no-reboot", "-smp 2", "-m 1536",
		"console=ttyS0", "panic=-1", "argus.mode=refuse", "argus.storm=0.25", "argus.timeout=16m0s", "argus.hidebtf=1",
		"argus.run=TestExec", "loglevel=7", "argus.patience=2"} {
		if !strings.Contains(args, want) {
			t.Errorf("qemu args lack %q: %s", want, args)
		}
	}
	if strings.Contains(args, "-M ") {
		t.Errorf("x86-64 guests take QEMU's default board: %s", args)
	}

	// arm64: the virt board, its PL011 console, and its own storm scale.
	args = strings.Join(c.qemuArgs(scenario{Arch: "arm64", Mode: "full"}, "vmlinuz", "initrd"), " ")
	for _, want := range []string{"-M virt", "-cpu neoverse-n1", "-accel tcg,thread=single", "-nic none",
		"console=ttyAMA0", "argus.mode=full", "argus.storm=0.125", "argus.patience=3", "argus.timeout=24m0s"} {
		if !strings.Contains(args, want) {
			t.Errorf("arm64 qemu args lack %q: %s", want, args)
		}
	}
	if strings.Contains(args, "ttyS0") {
		t.Errorf("arm64 guest on the x86 console: %s", args)
	}
}

func TestRequireArch(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := requireArch(self, runtime.GOARCH); err != nil {
		t.Errorf("this test binary for its own architecture: %v", err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if err := requireArch(self, other); err == nil || !strings.Contains(err.Error(), other) {
		t.Errorf("this %s binary passed as %s: %v", runtime.GOARCH, other, err)
	}
	if err := requireArch(self, "mips"); err == nil {
		t.Error("an architecture without a known ELF machine passed")
	}
}

// Each architecture has its own apt state, told its architecture, so arm64
// packages come without dpkg --add-architecture on the host; amd64 keeps
// the directory it had before arm64 was added.
func TestAptState(t *testing.T) {
	a := &archive{dir: "/cache"}
	if got := a.aptDir(dist{"bookworm", "amd64"}); got != "/cache/apt/bookworm" {
		t.Errorf("amd64 apt state in %s, want /cache/apt/bookworm", got)
	}
	if got := a.aptDir(dist{"bookworm", "arm64"}); got != "/cache/apt/bookworm-arm64" {
		t.Errorf("arm64 apt state in %s, want /cache/apt/bookworm-arm64", got)
	}
	args := strings.Join(a.aptArgs(dist{"bookworm", "arm64"}), " ")
	for _, want := range []string{"APT::Architecture=arm64", "APT::Architectures=arm64", "Dir::State::Lists=/cache/apt/bookworm-arm64/lists"} {
		if !strings.Contains(args, want) {
			t.Errorf("arm64 apt arguments lack %q: %s", want, args)
		}
	}
	for _, s := range allSeries {
		if _, ok := guestArches[s.Arch]; !ok || !strings.HasSuffix(s.Meta, "-"+s.Arch) {
			t.Errorf("series %s: architecture %q and metapackage %s disagree", s.Name, s.Arch, s.Meta)
		}
	}
}
