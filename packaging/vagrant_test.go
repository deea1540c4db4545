package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVagrantfile runs `vagrant validate` on the repository's Vagrantfile
// against the libvirt provider, the one this project boots it with
// (vagrant-libvirt), twice: as a user runs it (public box, KVM, NAT) and
// as make vagrant-atomics does (the offline box, TCG, an isolated
// network, a console file). It boots nothing and needs no box; make
// vagrant-atomics boots it (packaging/vagrant-atomics.sh). Vagrant's state
// and home go to a temporary directory, so no .vagrant directory is left
// in the checkout.
//
// Vagrant without any provider plugin refuses to validate ("No usable
// default provider could be found"), so a machine with only the vagrant
// package fails here: .ci/run installs vagrant-libvirt with it.
func TestVagrantfile(t *testing.T) {
	vagrant := need(t, "vagrant", "--no-install-recommends vagrant vagrant-libvirt")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	cmd := exec.Command(vagrant, "validate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"VAGRANT_CWD="+root,
		"VAGRANT_DOTFILE_PATH="+filepath.Join(state, "dotfile"),
		"VAGRANT_HOME="+filepath.Join(state, "home"),
		"VAGRANT_CHECKPOINT_DISABLE=1", // no version check over the network
		"VAGRANT_DEFAULT_PROVIDER=libvirt",
	)
	plugins := exec.Command(vagrant, "plugin", "list")
	plugins.Env = cmd.Env
	out, err := plugins.CombinedOutput()
	if err != nil {
		t.Fatalf("vagrant plugin list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "vagrant-libvirt") {
		msg := "the libvirt provider is not installed (apt-get install --no-install-recommends vagrant-libvirt); vagrant plugin list:\n" + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipping: " + msg)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vagrant validate: %v\n%s", err, out)
	}
	local := exec.Command(vagrant, "validate")
	local.Dir = root
	local.Env = append(cmd.Env,
		"ARGUS_VAGRANT_BOX=argus-sensor-bookworm-test",
		"ARGUS_VAGRANT_DRIVER=qemu",
		"ARGUS_VAGRANT_NETWORK=isolated",
		"ARGUS_VAGRANT_CONSOLE="+filepath.Join(state, "console.log"),
		"ARGUS_VAGRANT_BUILD=0",
	)
	if out, err := local.CombinedOutput(); err != nil {
		t.Fatalf("vagrant validate with the offline box's settings: %v\n%s", err, out)
	}
	// A wrong setting is refused, not ignored.
	bad := exec.Command(vagrant, "validate")
	bad.Dir = root
	bad.Env = append(cmd.Env, "ARGUS_VAGRANT_DRIVER=kvmm")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "ARGUS_VAGRANT_DRIVER") {
		t.Errorf("vagrant validate accepted ARGUS_VAGRANT_DRIVER=kvmm: %v\n%s", err, out)
	}
}
