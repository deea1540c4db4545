package packaging

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// testVersion is stamped into the packages the tests build. It is a tag
// followed by commits, the form that most needs package.sh's reshaping.
const (
	testVersion    = "v0.9.1-4-gabc1234"
	testPkgVersion = "0.9.1+git4.gabc1234"
)

// The paths every package must install.
var packagedFiles = []string{
	"/usr/bin/argus-sensor",
	"/usr/lib/systemd/system/argus-sensor.service",
	"/usr/lib/sysusers.d/argus-sensor.conf",
	"/usr/lib/sysctl.d/50-argus-sensor.conf",
	"/etc/argus-sensor/config.yaml",
	"/usr/share/doc/argus-sensor/README.md",
	"/usr/share/doc/argus-sensor/operations.md",
	"/usr/share/doc/argus-sensor/copyright",
}

// The architectures make package builds, with the rpm name of each.
var pkgArches = []struct{ goarch, rpmarch string }{
	{"amd64", "x86_64"},
	{"arm64", "aarch64"},
}

// built is one package.sh run: the .deb and .rpm of one architecture.
type built struct {
	once     sync.Once
	deb, rpm string
	err      error
}

var (
	pkgDir   string
	pkgDirMu sync.Mutex
	pkgBuilt sync.Map // GOARCH -> *built
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pkgDir != "" {
		os.RemoveAll(pkgDir)
	}
	os.Exit(code)
}

// packages builds the host architecture's .deb and .rpm once per test
// binary: the ones the container tests install.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	return packagesFor(t, runtime.GOARCH)
}

// packagesFor builds the .deb and .rpm for goarch once per test binary
// with package.sh, as `make package` does.
func packagesFor(t *testing.T, goarch string) (deb, rpm string) {
	t.Helper()
	v, _ := pkgBuilt.LoadOrStore(goarch, &built{})
	b := v.(*built)
	b.once.Do(func() {
		pkgDirMu.Lock()
		if pkgDir == "" {
			pkgDir, b.err = os.MkdirTemp("", "argus-packages-")
		}
		dir := pkgDir
		pkgDirMu.Unlock()
		if b.err != nil {
			return
		}
		cmd := exec.Command("./package.sh", dir)
		cmd.Env = append(os.Environ(), "VERSION="+testVersion, "GOARCH="+goarch, "PATH="+goPath())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.err = fmt.Errorf("package.sh for %s: %w\n%s", goarch, err, stderr.Bytes())
			return
		}
		for _, p := range strings.Fields(string(out)) {
			switch filepath.Ext(p) {
			case ".deb":
				b.deb = p
			case ".rpm":
				b.rpm = p
			}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.deb, b.rpm
}

// goPath is PATH with the go command on it: under `make test` as a
// non-root user the tests run through sudo, whose secure_path usually
// leaves out Go's directory.
func goPath() string {
	path := os.Getenv("PATH")
	if _, err := exec.LookPath("go"); err == nil {
		return path
	}
	return filepath.Join(runtime.GOROOT(), "bin") + string(os.PathListSeparator) + path
}

// need returns the path of a program, skipping the test when it is
// missing outside CI and failing it in CI, where it must be installed.
func need(t *testing.T, prog, aptPackage string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (apt-get install %s)", prog, aptPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": CI must have it")
	}
	t.Skip("skipping: " + msg)
	return ""
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPackageNames(t *testing.T) {
	for _, a := range pkgArches {
		deb, rpm := packagesFor(t, a.goarch)
		if got, want := filepath.Base(deb), "argus-sensor_"+testPkgVersion+"_"+a.goarch+".deb"; got != want {
			t.Errorf("deb is %s, want %s", got, want)
		}
		if got, want := filepath.Base(rpm), "argus-sensor-"+testPkgVersion+"-1."+a.rpmarch+".rpm"; got != want {
			t.Errorf("rpm is %s, want %s", got, want)
		}
	}
}

func TestDeb(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	trees := map[string]string{}
	for _, a := range pkgArches {
		root := t.TempDir() // outlives the subtest, for sameFiles
		if t.Run(a.goarch, func(t *testing.T) { checkDeb(t, a.goarch, root) }) {
			trees[a.goarch] = root
		}
	}
	sameFiles(t, trees)
}

// checkDeb inspects the .deb of goarch and unpacks it into root.
func checkDeb(t *testing.T, goarch, root string) {
	deb, _ := packagesFor(t, goarch)

	fields := map[string]string{}
	for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Section", "Depends"} {
		fields[f] = strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, f))
	}
	want := map[string]string{"Package": "argus-sensor", "Version": testPkgVersion, "Architecture": goarch, "Section": "admin", "Depends": ""}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s = %q, want %q", k, fields[k], v)
		}
	}
	if fields["Maintainer"] == "" {
		t.Error("no Maintainer")
	}

	listing := run(t, "dpkg-deb", "--contents", deb)
	modes := map[string]string{}
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 {
			modes[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
		}
	}
	for _, p := range packagedFiles {
		if _, ok := modes[p]; !ok {
			t.Errorf("%s is not in the deb", p)
		}
	}
	if m := modes["/usr/bin/argus-sensor"]; m != "-rwxr-xr-x root/root" {
		t.Errorf("/usr/bin/argus-sensor is %q, want -rwxr-xr-x root/root", m)
	}
	// The configuration may hold tokens: never world-readable, whether
	// installed fresh or replaced on upgrade.
	if m := modes["/etc/argus-sensor/config.yaml"]; m != "-rw-r----- root/argus-sensor" {
		t.Errorf("/etc/argus-sensor/config.yaml is %q, want -rw-r----- root/argus-sensor", m)
	}

	control := t.TempDir()
	run(t, "dpkg-deb", "--control", deb, control)
	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(conffiles)) != "/etc/argus-sensor/config.yaml" {
		t.Errorf("conffiles = %q, want only /etc/argus-sensor/config.yaml", conffiles)
	}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		st, err := os.Stat(filepath.Join(control, s))
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("maintainer script %s missing or not executable: %v", s, err)
		}
	}

	run(t, "dpkg-deb", "--extract", deb, root)
	checkTree(t, root, goarch)
}

// sameFiles checks that the packages of every architecture carry the same
// files, byte for byte, except the binary itself.
func sameFiles(t *testing.T, trees map[string]string) {
	t.Helper()
	ref, ok := trees["amd64"]
	if !ok || len(trees) != len(pkgArches) {
		return // a per-architecture check failed already
	}
	list := func(root string) map[string][]byte {
		files := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			// checkTree lends the host's units to systemd-analyze.
			if strings.HasPrefix(rel, "usr/lib/systemd/system/") && rel != "usr/lib/systemd/system/argus-sensor.service" {
				return nil
			}
			b, err := os.ReadFile(p)
			files[rel] = b
			return err
		})
		return files
	}
	want := list(ref)
	if len(want) < len(packagedFiles) {
		t.Fatalf("the amd64 package unpacked to %d files, want at least %d", len(want), len(packagedFiles))
	}
	for arch, root := range trees {
		got := list(root)
		for name, b := range want {
			if name == "usr/bin/argus-sensor" {
				continue
			}
			if g, ok := got[name]; !ok || !bytes.Equal(g, b) {
				t.Errorf("%s: %s differs from the amd64 package's", arch, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s: %s is not in the amd64 package", arch, name)
			}
		}
	}
}

func TestRPM(t *testing.T) {
	need(t, "rpm", "rpm")
	for _, a := range pkgArches {
		t.Run(a.goarch, func(t *testing.T) { checkRPM(t, a.goarch, a.rpmarch) })
	}
}

func checkRPM(t *testing.T, goarch, rpmarch string) {
	_, rpm := packagesFor(t, goarch)
	info := run(t, "rpm", "-qp", "--queryformat", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}\n", rpm)
	if got, want := strings.TrimSpace(info), "argus-sensor|"+testPkgVersion+"|1|"+rpmarch+"|Apache-2.0 AND GPL-2.0-only"; got != want {
		t.Errorf("rpm header %q, want %q", got, want)
	}
	files := strings.Fields(run(t, "rpm", "-qlp", rpm))
	for _, p := range packagedFiles {
		if !slices.Contains(files, p) {
			t.Errorf("%s is not in the rpm", p)
		}
	}
	if got := strings.TrimSpace(run(t, "rpm", "-qp", "--configfiles", rpm)); got != "/etc/argus-sensor/config.yaml" {
		t.Errorf("config files %q, want only /etc/argus-sensor/config.yaml", got)
	}
	// %config(noreplace): an edited file survives an upgrade untouched.
	flags := run(t, "rpm", "-qp", "--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", rpm)
	if !strings.Contains(flags, "/etc/argus-sensor/config.yaml cn") {
		t.Errorf("config.yaml is not %%config(noreplace):\n%s", flags)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpm)
	for _, s := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, s) {
			t.Errorf("no %s in the rpm", s)
		}
	}
}

// checkTree checks an unpacked package of goarch: the binary is static,
// built for goarch, and reports the version, the shipped configuration
// validates, and the unit verifies. A binary for another architecture
// cannot run here: its build information is read instead, and the
// configuration is validated by the host architecture's package, which
// sameFiles proves identical.
func checkTree(t *testing.T, root, goarch string) {
	t.Helper()
	bin := filepath.Join(root, "usr/bin/argus-sensor")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("argus-sensor has an ELF interpreter: it is not static (CGO_ENABLED=0)")
		}
	}
	if want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]; f.Machine != want {
		t.Errorf("argus-sensor is built for %v, want %v", f.Machine, want)
	}
	f.Close()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("build information of argus-sensor: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOARCH"] != goarch || settings["CGO_ENABLED"] != "0" {
		t.Errorf("argus-sensor built with GOARCH=%q CGO_ENABLED=%q, want %s and 0", settings["GOARCH"], settings["CGO_ENABLED"], goarch)
	}
	// -trimpath leaves -ldflags out of the build information, so look for
	// the stamped version in the binary itself: only -X puts it there.
	if b, err := os.ReadFile(bin); err != nil || !bytes.Contains(b, []byte(testVersion)) {
		t.Errorf("argus-sensor does not carry the version %s (-X main.version): %v", testVersion, err)
	}
	if goarch == runtime.GOARCH {
		if out := run(t, bin, "version"); !strings.Contains(out, testVersion) {
			t.Errorf("argus-sensor version = %q, want it to contain %s", out, testVersion)
		}
		cfg := filepath.Join(root, "etc/argus-sensor/config.yaml")
		if out := run(t, bin, "check", "--config", cfg); !strings.Contains(out, "ok") {
			t.Errorf("shipped config does not validate: %s", out)
		}
	}

	// `systemd-analyze verify --root` resolves everything (ExecStart, the
	// targets the unit is ordered against) inside root, so lend it the
	// host's systemd units next to the package's.
	analyze := need(t, "systemd-analyze", "systemd")
	units := filepath.Join(root, "usr/lib/systemd/system")
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			dst := filepath.Join(units, e.Name())
			if _, err := os.Lstat(dst); err == nil || e.IsDir() {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				os.WriteFile(dst, b, 0o644)
			}
		}
	}
	cmd := exec.Command(analyze, "verify", "--man=no", "--root="+root, "argus-sensor.service")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// unitSettings returns every value of key in the unit file, in order.
func unitSettings(t *testing.T, key string) []string {
	t.Helper()
	f, err := os.Open("argus-sensor.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// TestUnitPrivileges keeps the unit's capabilities and the Privileges
// table in operations.md the same set.
func TestUnitPrivileges(t *testing.T) {
	bounding := unitSettings(t, "CapabilityBoundingSet")
	ambient := unitSettings(t, "AmbientCapabilities")
	if len(bounding) != 1 || len(ambient) != 1 || bounding[0] != ambient[0] {
		t.Fatalf("CapabilityBoundingSet %q and AmbientCapabilities %q differ: the user is not root, so only ambient capabilities reach the sensor", bounding, ambient)
	}
	granted := strings.Fields(bounding[0])
	if slices.Contains(granted, "CAP_SYS_ADMIN") {
		t.Error("the unit grants CAP_SYS_ADMIN")
	}
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if c, ok := strings.CutPrefix(line, "| `CAP_"); ok {
			if name, _, ok := strings.Cut(c, "`"); ok {
				table["CAP_"+name] = true
			}
		}
	}
	for _, c := range granted {
		if !table[c] {
			t.Errorf("%s is granted but not in the Privileges table of docs/operations.md", c)
		}
	}
	if len(unitSettings(t, "User")) != 1 || unitSettings(t, "User")[0] == "root" {
		t.Error("the unit must run as its own user")
	}
}

func TestScriptsParse(t *testing.T) {
	scripts, err := filepath.Glob("scripts/*.sh")
	if err != nil || len(scripts) != 4 {
		t.Fatalf("want 4 maintainer scripts, got %v (%v)", scripts, err)
	}
	sc := testutil.LookTool(t, "shellcheck", "shellcheck", "sh -n alone checks the scripts")
	for _, s := range append(scripts, "package.sh") {
		shell := "sh"
		if s == "package.sh" {
			shell = "bash"
		}
		if out, err := exec.Command(shell, "-n", s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
		if sc != "" {
			if out, err := exec.Command(sc, s).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", s, err, out)
			}
		}
	}
}
