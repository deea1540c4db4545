package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestInspectPID: inspect --pid on processes of a podman container
// (--network none): its packaged sleep is package_verified by the
// container's dpkg, a copy of it dropped into /usr/local/bin is unowned
// and container_upper, both named by the container; a host process is
// judged by the host.
func TestInspectPID(t *testing.T) {
	image := testutil.PodmanDebian(t)
	name, id := testutil.PodmanRun(t, image, "")
	testutil.Podman(t, "exec", name, "cp", "/usr/bin/sleep", "/usr/local/bin/dropped")
	testutil.Podman(t, "exec", "-d", name, "/usr/local/bin/dropped", "infinity")
	// The container's init (sleep infinity) and the dropped copy, as host
	// pids.
	initPID := testutil.Podman(t, "inspect", "-f", "{{.State.Pid}}", name)
	var dropped string
	out := testutil.Podman(t, "top", name, "hpid,args")
	for _, l := range bytes.Split([]byte(out), []byte("\n")) {
		f := bytes.Fields(l)
		if len(f) >= 2 && string(f[1]) == "/usr/local/bin/dropped" {
			dropped = string(f[0])
		}
	}
	if dropped == "" {
		t.Fatalf("no dropped process in podman top:\n%s", out)
	}
	host := exec.Command("sleep", "60")
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })

	var stdout, stderr bytes.Buffer
	cmd := sensorCmd(t, "inspect", "--pid", initPID, "--pid", dropped, "--pid", strconv.Itoa(host.Process.Pid))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("inspect --pid: %v\n%s", err, stderr.String())
	}
	type result struct {
		PID         uint32           `json:"pid"`
		Path        string           `json:"path"`
		SHA256      string           `json:"sha256"`
		Container   *event.Container `json:"container"`
		PathClasses []string         `json:"path_classes"`
		Trust       *event.Trust     `json:"trust"`
	}
	var got []result
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var r result
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("%d results, want 3: %s", len(got), stdout.String())
	}
	ctr := func(r result) bool {
		return r.Container != nil && r.Container.ID == id && r.Container.Name == name && r.Container.Runtime == "podman"
	}
	if r := got[0]; !ctr(r) || r.Path != "/usr/bin/sleep" || r.Trust == nil || r.Trust.Verdict != "package_verified" ||
		r.Trust.Package != "coreutils" || len(r.PathClasses) != 0 || r.SHA256 == "" {
		t.Errorf("container's sleep: %+v trust %+v", r, r.Trust)
	}
	if r := got[1]; !ctr(r) || r.Path != "/usr/local/bin/dropped" || r.Trust == nil || r.Trust.Verdict != "unowned" ||
		!slices.Equal(r.PathClasses, []string{"container_upper"}) || r.SHA256 != got[0].SHA256 {
		t.Errorf("dropped copy: %+v trust %+v", r, r.Trust)
	}
	if r := got[2]; r.Container != nil || r.Trust == nil || r.Trust.Verdict != "package_verified" {
		t.Errorf("host sleep: %+v trust %+v", r, r.Trust)
	}
}
