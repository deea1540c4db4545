package atomics

import (
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/event"
)

// caseSpec ties one atomic, found by file and name, to what the sensor
// must report when it runs.
type caseSpec struct {
	id   string // the report's name for it
	file string // technique file, relative to the atomics folder
	name string // the atomic's name in that file
	// collect runs after the command and before the cleanup, to take
	// what the expectations compare with (digests of the files the
	// command made, the signing certificate's key id).
	collect func(r *caseRun)
	// created are the paths (with #{arguments}) the atomic creates; its
	// cleanup must leave none of them.
	created []string
	expect  func(x *expect)
	// degraded: the atomic makes the sensor lose events on purpose, so
	// its detections may be marked degraded. Every other atomic fails on
	// a degraded detection: the run was not the clean one it claims.
	degraded bool
}

// suite is every atomic the runner drives, in order: the seed's three
// tests (atomics/T1587/T1587.yaml), six more ways the named groups
// deploy their tools, and the seed's false positives as controls.
var suite = []caseSpec{
	{
		id: "T1587-1", file: "T1587/T1587.yaml", name: "Execute self-signed binary from a user-writable path",
		collect: func(r *caseRun) {
			r.hash("#{work_dir}/custom_capability_test")
			r.certKeyID("#{work_dir}/signing.pem")
		},
		created: []string{"#{work_dir}"},
		expect: func(x *expect) {
			bin := x.arg("work_dir") + "/custom_capability_test"
			l := x.launch(exePath(bin), trust("signed_untrusted"), signer(x.run.keyID), classes("tmp"), sha(x.digest(bin), bin))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(bin), bin), names(l, c))
		},
	},
	{
		id: "T1587-2", file: "T1587/T1587.yaml", name: "Malicious npm post-install script",
		created: []string{"#{project_dir}"},
		expect: func(x *expect) {
			pkg := x.arg("project_dir") + "/node_modules/argus-atomic-postinstall"
			x.launch(exeName("sh", "dash", "bash"), argv("/bin/sh", "-c", "id"), nodeAncestor(), cwd(pkg))
			x.launch(exeName("id"), nodeAncestor(), cwd(pkg))
			x.detection(detect.RuleNPM, firstEventCwd(pkg))
		},
	},
	{
		id: "T1587-3", file: "T1587/T1587.yaml", name: "Compile and execute a custom ELF binary with a network connection",
		collect: func(r *caseRun) { r.hash("#{tool_path}") },
		created: []string{"#{tool_path}"},
		expect: func(x *expect) {
			tool := x.arg("tool_path")
			l := x.launch(exePath(tool), parentShell(x.run.shell), trust("unowned"), classes("tmp"), sha(x.digest(tool), tool))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(tool), tool), names(l, c))
		},
	},
	{
		id: "V1", file: "argus/T1587-variants.yaml", name: "Custom ELF run from /dev/shm",
		collect: func(r *caseRun) { r.hash("#{tool_path}") },
		created: []string{"#{tool_path}"},
		expect: func(x *expect) {
			tool := x.arg("tool_path")
			l := x.launch(exePath(tool), classes("shm"), trust("unowned"), sha(x.digest(tool), tool))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(tool), tool), names(l, c))
		},
	},
	{
		id: "V2", file: "argus/T1587-variants.yaml", name: "Fileless ELF executed from a memfd by a Python loader",
		collect: func(r *caseRun) { r.hash("#{payload_path}") },
		created: []string{"#{payload_path}"},
		expect: func(x *expect) {
			payload := x.arg("payload_path")
			l := x.launch(memfd(), classes("memfd"), argv("[kworker/0:1]", "-w", "2", x.arg("c2_host"), x.arg("c2_port")),
				sha(x.digest(payload), "the payload "+payload))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(payload), "the payload"), names(l, c))
		},
	},
	{
		id: "V3", file: "argus/T1587-variants.yaml", name: "Implant that deletes its own file, then connects",
		created: []string{"#{drop_dir}"},
		expect: func(x *expect) {
			tool := x.arg("drop_dir") + "/update-agent"
			l := x.launch(exePath(tool), noClasses(), hashed())
			c := x.connect(by(l), deleted(), classes("deleted"), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(exeSHA(l), "the launched tool"), eventClass("deleted"), names(c))
		},
	},
	{
		id: "V4", file: "argus/T1587-variants.yaml", name: "Python payload in a hidden home directory (~/.n2/pay)",
		collect: func(r *caseRun) { r.hash("#{payload_dir}/pay") },
		created: []string{"#{payload_dir}"},
		expect: func(x *expect) {
			pay := x.arg("payload_dir") + "/pay"
			l := x.launch(interpreter("python"), trust("package_verified"), script(pay), scriptClasses("hidden_dir"),
				scriptSHA(x.digest(pay), pay))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(pay), "the payload"), names(l, c))
		},
	},
	escapeCase("V5", "32-bit static implant connects from /tmp", "connect32", 1),
	escapeCase("V6", "32-bit implant connects through i386 socketcall", "socketcall32", 1),
	escapeCase("V7", "io_uring connect, submitted inline", "io_uring_connect", 1),
	escapeCase("V8", "io_uring connect forced to an io-wq worker (IOSQE_ASYNC)", "io_uring_connect", 1),
	escapeCase("V9", "io_uring connect from an SQPOLL ring", "io_uring_connect", 1),
	escapeCase("V10", "UDP beacon with sendto on an unconnected socket", "sendmsg", 2),
	escapeCase("V11", "UDP beacon with sendmsg on an unconnected socket", "sendmsg", 2),
	escapeCase("V12", "UDP beacon with sendmmsg on an unconnected socket", "sendmsg", 2),
	escapeCase("V13", "TCP Fast Open connect through sendto(MSG_FASTOPEN)", "fastopen", 1),
	escapeCase("V14", "TCP Fast Open connect with TCP_FASTOPEN_CONNECT", "connect", 1),
	{
		id: "V15", file: "argus/T1587-variants.yaml", name: "Implant that touches its own binary, then connects",
		collect: func(r *caseRun) { r.hash("#{tool_path}") },
		created: []string{"#{tool_path}"},
		expect: func(x *expect) {
			tool := x.arg("tool_path")
			l := x.launch(exePath(tool), trust("unowned"), classes("tmp"), sha(x.digest(tool), tool))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(tool), tool), names(l, c))
		},
	},
	{
		id: "V16", file: "argus/T1587-variants.yaml", name: "Custom ELF run from a btrfs subvolume",
		collect: func(r *caseRun) { r.hash("#{mount_dir}/sub/tool") },
		created: []string{"#{mount_dir}", "#{mount_dir}.img"},
		expect: func(x *expect) {
			tool := x.arg("mount_dir") + "/sub/tool"
			l := x.launch(exePath(tool), trust("unowned"), classes("tmp"), sha(x.digest(tool), tool))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(tool), tool), names(l, c))
		},
	},
	{
		id: "V17", file: "argus/T1587-variants.yaml", name: "Shared library preloaded into a packaged program (LD_PRELOAD)",
		collect: func(r *caseRun) { r.hash("#{lib_path}") },
		created: []string{"#{lib_path}"},
		expect: func(x *expect) {
			lib, prog := x.arg("lib_path"), x.arg("program")
			l := x.launch(exePath(prog), trust("package_verified"), loaderEnv("LD_PRELOAD", lib, "tmp"))
			ll := x.library(by(l), libraryAt(lib), libraryTrust("unowned"), libraryClasses("tmp"), preloadedBy("LD_PRELOAD"),
				librarySHA(x.digest(lib), lib))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(lib), lib), names(ll, c))
		},
	},
	{
		id: "V18", file: "argus/T1587-variants.yaml", name: "Native library from /dev/shm loaded by Python (dlopen), then a connection",
		collect: func(r *caseRun) { r.hash("#{lib_path}") },
		created: []string{"#{lib_path}"},
		expect: func(x *expect) {
			lib := x.arg("lib_path")
			ll := x.library(libraryAt(lib), libraryTrust("unowned"), libraryClasses("shm"), librarySHA(x.digest(lib), lib))
			c := x.connect(by(ll), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(lib), lib), names(ll, c))
		},
	},
	{
		id: "V19", file: "argus/T1587-variants.yaml", name: "Python payload that unlinks itself, then connects",
		collect: func(r *caseRun) { r.hash("#{drop_dir}/copy.py") },
		created: []string{"#{drop_dir}"},
		expect: func(x *expect) {
			pay := x.arg("drop_dir") + "/vanish.py"
			copy := x.arg("drop_dir") + "/copy.py"
			l := x.launch(interpreter("python"), trust("package_verified"), script(pay), scriptClasses("tmp"),
				scriptSHA(x.digest(copy), "the payload"))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(copy), "the payload"), names(l, c))
		},
	},
	{
		id: "V20", file: "argus/T1587-variants.yaml", name: "Static implant dropped into a running container's /usr/local/bin",
		collect: func(r *caseRun) { r.hash("#{tool_path}") },
		created: []string{"#{tool_path}"},
		expect: func(x *expect) {
			tool, name := x.arg("tool_path"), x.arg("container_name")
			l := x.launch(exePath("/usr/local/bin/argus-atomic-implant"), inContainer(name, "podman"), trust("unowned"),
				classes("container_upper"), sha(x.digest(tool), tool))
			c := x.connect(by(l), inContainer(name, "podman"), dst(x.arg("c2_host"), x.port("c2_port")), external(true))
			x.detection(detect.RuleT1587, keyedOn(x.digest(tool), tool), names(l, c))
		},
	},
	{
		id: "C1", file: "argus/T1587-controls.yaml", name: "Build artifact in /tmp calls an internal registry",
		collect: func(r *caseRun) { r.hash("#{build_dir}/out/fetch-deps") },
		created: []string{"#{build_dir}"},
		expect: func(x *expect) {
			bin := x.arg("build_dir") + "/out/fetch-deps"
			l := x.launch(exePath(bin), trust("unowned"), classes("tmp"), sha(x.digest(bin), bin))
			x.connect(by(l), dst(x.arg("registry_host"), x.port("registry_port")), external(false))
			x.noDetection()
		},
	},
	{
		id: "C2", file: "argus/T1587-controls.yaml", name: "Packaged curl calls the external test host",
		expect: func(x *expect) {
			host, port := hostPort(x.arg("test_url"))
			l := x.launch(exeName("curl"), trust("package_verified"), severity("INFORMATIONAL"))
			x.connect(by(l), dst(host, port), external(true))
			x.noDetection()
		},
	},
	{
		id: "C3", file: "argus/T1587-controls.yaml", name: "Test framework binary in /tmp calls loopback",
		collect: func(r *caseRun) { r.hash("#{test_root}/b001/pkg.test") },
		created: []string{"#{test_root}"},
		expect: func(x *expect) {
			bin := x.arg("test_root") + "/b001/pkg.test"
			l := x.launch(exePath(bin), trust("unowned"), classes("tmp"), sha(x.digest(bin), bin))
			x.connect(by(l), dst("127.0.0.1", x.port("test_port")), external(false))
			x.noDetection()
		},
	},
	{
		id: "C4", file: "argus/T1587-controls.yaml", name: "Monitoring agent in /opt sends telemetry to an external host",
		collect: func(r *caseRun) { r.hash("#{agent_dir}/bin/telemetry-agent") },
		created: []string{"#{agent_dir}"},
		expect: func(x *expect) {
			bin := x.arg("agent_dir") + "/bin/telemetry-agent"
			l := x.launch(exePath(bin), trust("unowned"), noClasses(), sha(x.digest(bin), bin))
			x.connect(by(l), dst(x.arg("telemetry_host"), x.port("telemetry_port")), external(true))
			x.noDetection()
		},
	},
}

// port is an integer argument; 0 when it is not one.
func (x *expect) port(name string) int {
	n, _ := strconv.Atoi(x.arg(name))
	return n
}

func hostPort(raw string) (string, int) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, 0
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"http": 80, "https": 443}[u.Scheme]
	}
	return u.Hostname(), port
}

func exeSHA(r *event.Record) string {
	if r == nil || r.Process == nil {
		return ""
	}
	return r.Process.Exe.SHA256
}

// interpreter: the executable's name starts with prefix (python3.11).
func interpreter(prefix string) cond {
	return cond{"exe " + prefix + "*", func(r *event.Record) string {
		return unless(strings.HasPrefix(path.Base(r.Process.Exe.Path), prefix), r.Process.Exe.Path)
	}}
}

// firstEventCwd: the detection's first event ran in dir.
func firstEventCwd(dir string) cond {
	return cond{"in " + dir, func(r *event.Record) string {
		ev := r.Detection.Events
		if len(ev) == 0 || ev[0].Process == nil {
			return "no event"
		}
		return unless(ev[0].Process.Cwd == dir, ev[0].Process.Cwd)
	}}
}

// escapeCase is an argus_escape.c variant: a tool in /tmp that reaches the
// test host a way the connect syscall hook does not see. It must give
// conns network_connection records (one per destination) made the way
// via names, and exactly one T1587 detection.
func escapeCase(id, name, via string, conns int) caseSpec {
	return caseSpec{
		id: id, file: "argus/T1587-variants.yaml", name: name,
		collect: func(r *caseRun) { r.hash("#{tool_path}") },
		created: []string{"#{tool_path}"},
		expect: func(x *expect) {
			tool := x.arg("tool_path")
			l := x.launch(exePath(tool), classes("tmp"), trust("unowned"), sha(x.digest(tool), tool))
			c := x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port")), external(true), madeVia(via))
			if conns > 1 {
				x.connect(by(l), dst(x.arg("c2_host"), x.port("c2_port2")), external(true), madeVia(via))
			}
			x.connectionCount(conns)
			x.detection(detect.RuleT1587, keyedOn(x.digest(tool), tool), names(l, c))
			x.detectionCount(detect.RuleT1587, 1)
		},
	}
}
