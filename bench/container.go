package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// containerImage is the Debian image the container tests build
// (internal/testutil.DebianImage: debootstrap minbase, imported into
// podman). The bench uses it and does not build it: `go test ./agent -run
// TestContainer` as root makes it.
const containerImage = "localhost/argus-test/debian:bookworm-minbase-v1"

// benchContainer is a podman container (runc, no network) the
// exec-container workload runs in, with the bench binary bound in at
// /argus-bench so the same loop runs inside it.
type benchContainer struct {
	name string
}

// startContainer starts the workload container, or says why it cannot.
func startContainer() (*benchContainer, string) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, "podman is not installed"
	}
	if exec.Command("podman", "image", "exists", containerImage).Run() != nil {
		return nil, "no image " + containerImage + " (as root: go test ./agent -run TestContainer builds it)"
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err.Error()
	}
	name := fmt.Sprintf("argus-bench-%d", os.Getpid())
	out, err := exec.Command("podman", "run", "-d", "--runtime", "runc", "--ulimit", "nofile=1024:1024",
		"--ulimit", "nproc=1024:1024", "--network", "none", "--name", name,
		"-v", self+":/argus-bench:ro", containerImage, "sleep", "infinity").CombinedOutput()
	if err != nil {
		return nil, fmt.Sprintf("podman run: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return &benchContainer{name: name}, ""
}

// command runs the bench binary's workload mode inside the container.
func (c *benchContainer) command(workload string, args ...string) *exec.Cmd {
	return exec.Command("podman", append([]string{"exec", "-e", workloadEnv + "=" + workload, c.name, "/argus-bench"}, args...)...)
}

func (c *benchContainer) stop() {
	exec.Command("podman", "rm", "-f", "-t", "0", c.name).Run()
}
