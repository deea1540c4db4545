package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestCgroupRecords: a cgroup made in the v2 hierarchy is reported, before
// any process runs in it, with the id the records of its processes carry
// and its path from the hierarchy's root; a cgroup made in a v1 hierarchy
// (whose ids are not the ones records carry) is not.
func TestCgroupRecords(t *testing.T) {
	s, h := startSensor(t)
	if s.cgroupRoot == "" {
		t.Skip("skipping: no cgroup v2 hierarchy mounted")
	}
	for _, hk := range s.Hooks() {
		if hk.Name == "cgroup_mkdir" && !hk.Attached {
			t.Fatalf("cgroup_mkdir hook not attached: %v", hk.Err)
		}
	}
	name := fmt.Sprintf("argus-test-%d", os.Getpid())
	rel := "/" + name + "/libpod-" + strings.Repeat("ab", 32)
	dir := filepath.Join(s.cgroupRoot, rel)
	ours := h.subscribe(func(ev Event) bool {
		c, ok := ev.(*Cgroup)
		return ok && strings.Contains(c.Path, name)
	})
	defer ours.stop()
	// A v1 hierarchy's directory first: had it been reported, its record
	// would come before the v2 ones.
	if v1 := "/sys/fs/cgroup/memory"; s.cgroupRoot != "/sys/fs/cgroup" {
		if err := os.Mkdir(filepath.Join(v1, name), 0o755); err == nil {
			defer os.Remove(filepath.Join(v1, name))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filepath.Join(s.cgroupRoot, name))
	defer os.Remove(dir)

	parent, child := ours.next(t, "cgroup").(*Cgroup), ours.next(t, "cgroup").(*Cgroup)
	if parent.Path != "/"+name || parent.ID != statOf(t, filepath.Join(s.cgroupRoot, name)).Ino {
		t.Errorf("first cgroup record %+v, want path /%s (a v1 directory is not reported) and its inode number", parent, name)
	}
	if child.Path != rel || child.ID != statOf(t, dir).Ino || child.PathTruncated {
		t.Errorf("cgroup record %+v, want path %s, id %d", child, rel, statOf(t, dir).Ino)
	}
	if child.TGID != uint32(os.Getpid()) {
		t.Errorf("cgroup record made by %d, want this process %d", child.TGID, os.Getpid())
	}

	// A process in it: its exec record carries the same id.
	tool := filepath.Join(realDir(t), "incgroup")
	testutil.WriteExitELF(t, tool, 0)
	execs := h.subscribe(execPath(tool))
	defer execs.stop()
	cmd := exec.Command("/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2"`, "sh", dir, tool)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run in the cgroup: %v: %s", err, out)
	}
	if e := execs.next(t, "exec").(*Exec); e.Task.CgroupID != child.ID {
		t.Errorf("exec in the cgroup carries cgroup id %d, the cgroup record %d", e.Task.CgroupID, child.ID)
	}
}
