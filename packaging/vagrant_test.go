package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestVagrantfile runs `vagrant validate` on the repository's Vagrantfile.
// It boots nothing and needs neither a box nor a provider. Vagrant's state
// and home go to a temporary directory, so no .vagrant directory is left
// in the checkout.
func TestVagrantfile(t *testing.T) {
	vagrant := need(t, "vagrant", "--no-install-recommends vagrant")
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
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vagrant validate: %v\n%s", err, out)
	}
}
