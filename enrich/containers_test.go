package enrich

import (
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// TestCgroupCreationFeedsResolver: the kernel's record of a new cgroup
// reaches the container resolver, unless its path was cut: its leaf, the
// innermost container's id, is what was lost, and what is left would name
// the container around it (here, docker in an nspawn machine would be
// named as the machine).
func TestCgroupCreationFeedsResolver(t *testing.T) {
	root := t.TempDir()
	r, err := container.New(container.Options{ProcRoot: root, CgroupRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Hostname: "lab1", ProcRoot: root, Containers: r})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("ab", 32)
	e.Handle(&sensor.Cgroup{Header: sensor.Header{Kind: sensor.KindCgroup}, ID: 7, Path: "/libpod_parent/libpod-" + id})
	e.Handle(&sensor.Cgroup{Header: sensor.Header{Kind: sensor.KindCgroup}, ID: 8, Path: "/machine.slice/machine-box.scope/docker/" + id[:20], PathTruncated: true})
	if got := r.Stats().Created; got != 1 {
		t.Fatalf("%d container cgroups remembered, want 1 (the whole path, not the cut one)", got)
	}
	if info := r.Lookup(4242, 7); info == nil || info.Container.ID != id {
		t.Fatalf("gone process in the remembered cgroup: %+v", info)
	}
	if info := r.Lookup(4242, 8); info != nil {
		t.Fatalf("gone process in the cut cgroup named %+v", info)
	}
}
