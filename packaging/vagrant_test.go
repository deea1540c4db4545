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
// (vagrant-libvirt). It boots nothing and needs no box. Vagrant's state
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
}
