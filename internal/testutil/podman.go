package testutil

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Debian image container tests run: a debootstrap minbase root
// (about 200 MB, 30 s to two minutes to build from the mirror apt uses),
// kept under the test cache and imported into podman once.
const (
	containerRootfsDir   = "container-rootfs"
	containerRootfsStamp = ".argus-container-rootfs-bookworm-minbase-v1"
	// DebianImage is the podman image name of that root.
	DebianImage = "localhost/argus-test/debian:bookworm-minbase-v1"
)

// Podman runs podman with args and returns its trimmed stdout; a failure
// fails t.
func Podman(t testing.TB, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := exec.Command("podman", args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// PodmanDebian returns DebianImage, building the root filesystem with
// debootstrap and importing it into podman when either is missing. Both
// are kept for later runs. It needs root, podman, runc and debootstrap.
func PodmanDebian(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	SkipInMatrixGuest(t, "it needs podman, runc and a Debian image")
	for _, p := range [][2]string{{"podman", "podman"}, {"runc", "runc"}, {"debootstrap", "debootstrap"}} {
		if LookTool(t, p[0], p[1], "the container test is skipped") == "" {
			t.Skip("skipping: needs " + p[0])
		}
	}
	cache := os.Getenv("ARGUS_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/argus-sensor-test"
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, "container.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if exec.Command("podman", "image", "exists", DebianImage).Run() == nil {
		return DebianImage
	}
	rootfs := filepath.Join(cache, containerRootfsDir)
	if _, err := os.Stat(filepath.Join(rootfs, containerRootfsStamp)); err != nil {
		mirror := os.Getenv("ARGUS_DEBIAN_MIRROR")
		if mirror == "" {
			mirror = "http://deb.debian.org/debian"
		}
		tmp := rootfs + ".tmp"
		os.RemoveAll(tmp)
		os.RemoveAll(rootfs)
		start := time.Now()
		t.Logf("building %s (debootstrap bookworm minbase from %s; cached afterwards)", rootfs, mirror)
		if out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp, mirror).CombinedOutput(); err != nil {
			t.Fatalf("debootstrap: %v\n%s", err, out)
		}
		if err := os.WriteFile(filepath.Join(tmp, containerRootfsStamp), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, rootfs); err != nil {
			t.Fatal(err)
		}
		t.Logf("debootstrap took %v", time.Since(start).Round(time.Second))
	}
	start := time.Now()
	tar := exec.Command("tar", "-C", rootfs, "-c", ".")
	imp := exec.Command("podman", "import", "-", DebianImage)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		t.Fatalf("podman import: %v\n%s", err, out.String())
	}
	if err := tar.Wait(); err != nil {
		t.Fatalf("tar %s: %v", rootfs, err)
	}
	t.Logf("podman import took %v", time.Since(start).Round(time.Millisecond))
	return DebianImage
}

// PodmanRun starts a container of image running "sleep infinity" with
// runc (crun refuses a hybrid cgroup host) and the sandbox's ulimits, in
// the network namespace netns ("/run/netns/NAME") or with no network when
// netns is "". It returns the container's name and id, and removes it
// when t ends. Never give a test container the host's network.
func PodmanRun(t testing.TB, image, netns string) (name, id string) {
	t.Helper()
	name = fmt.Sprintf("argus-test-%06x", rand.Uint32()&0xffffff)
	network := "none"
	if netns != "" {
		network = "ns:" + netns
	}
	id = Podman(t, "run", "-d", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--network", network, "--name", name, image, "sleep", "infinity")
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
	return name, id
}
