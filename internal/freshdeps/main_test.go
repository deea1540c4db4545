package main

import (
	"reflect"
	"strings"
	"testing"
)

func progs(uses []use) []string {
	var out []string
	for _, u := range uses {
		out = append(out, u.Prog+":"+u.String())
	}
	return out
}

func TestShellCommands(t *testing.T) {
	src := `#!/bin/sh
# a comment naming notreal
set -eu
x=$(dirname "$0") # trailing comment: nothere
command -v clang-19 >/dev/null || need+=(clang-19)
[ -e /f ] && sudo env A=1 rsyslogd -n 2>&1 | tee out.log
mything() { :; }
mything arg
case $arch in
amd64) rpmarch=x86_64 ;;
esac
cat <<'EOF2'
inside-heredoc-not-a-command
EOF2
GOOS=linux go build \
	-o out ./cmd
echo 'qemu-in-quotes' "$(qemu-img --version)"
stage() { :; }
stage "words (in a string) are not commands"
`
	got := progs(shellCommands(src, "s.sh", 1, false))
	want := []string{
		"dirname:s.sh:4", "clang-19:s.sh:5", "rsyslogd:s.sh:6", "tee:s.sh:6",
		"cat:s.sh:12", "go:s.sh:15", "qemu-img:s.sh:17",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shellCommands:\n got %v\nwant %v", got, want)
	}
}

func TestMakefileRecipes(t *testing.T) {
	src := "GO ?= go\nbuild:\n\t$(GO) build -o bin/x ./cmd\nlint:\n\t@out=$$(gofmt -l .); echo $$out\n\t$(SUDO) kernelmatrix/run.sh\n"
	got := progs(shellCommands(src, "Makefile", 1, true))
	want := []string{"go:Makefile:3", "gofmt:Makefile:5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Makefile:\n got %v\nwant %v", got, want)
	}
}

func TestGoCalls(t *testing.T) {
	src := `package p
import "os/exec"
func f(t T, ctx C, name string) {
	exec.Command("ip", "link")
	exec.CommandContext(ctx, "nsenter", "-t")
	exec.LookPath("rsyslogd")
	exec.Command(name)
	exec.Command("./tool")
	need(t, "vagrant", "--no-install-recommends vagrant")
	requireTool(t, "rpm", "rpmbuild")
	other("notaprog")
}
`
	uses, err := goCalls("p.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := progs(uses)
	want := []string{"ip:p.go:4", "nsenter:p.go:5", "rsyslogd:p.go:6", "vagrant:p.go:9", "rpm:p.go:10", "rpmbuild:p.go:10"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("goCalls:\n got %v\nwant %v", got, want)
	}
}

func TestYAMLCommands(t *testing.T) {
	src := `atomic_tests:
- name: x
  dependencies:
  - prereq_command: command -v evmctl >/dev/null
  executor:
    command: |
      cc -o #{tool} #{src}
      #{netns_exec} #{tool} 192.0.2.1
    cleanup_command: rm -f #{tool}
`
	uses, err := yamlCommands("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := progs(uses)
	want := []string{"evmctl:a.yaml:4", "cc:a.yaml:7", "rm:a.yaml:9"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("yamlCommands:\n got %v\nwant %v", got, want)
	}
}

type fakeLookup map[string][2]string // prog -> path, package; package "base:" prefix marks a base package

func (f fakeLookup) Path(p string) string { return f[p][0] }
func (f fakeLookup) Base(path string) (string, bool) {
	for _, v := range f {
		if v[0] == path {
			return strings.TrimPrefix(v[1], "base:"), strings.HasPrefix(v[1], "base:")
		}
	}
	return "", false
}

func TestCheckUses(t *testing.T) {
	entries, err := parseManifest(strings.NewReader("# c\nvagrant vagrant .ci/run norec\n\nqemu-system-x86_64 qemu-system-x86 kernelmatrix/run.sh\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || !entries[0].NoRec || entries[1].Line != 4 {
		t.Fatalf("parseManifest: %+v", entries)
	}
	lk := fakeLookup{
		"tar":     {"/usr/bin/tar", "base:tar"},
		"bpftool": {"/usr/sbin/bpftool", "bpftool"},
		"mybin":   {"/usr/local/bin/mybin", ""},
	}
	uses := []use{
		{"vagrant", "a_test.go", 1}, // listed, even though not installed here
		{"tar", "a.sh", 2},          // base system
		{"bpftool", "b_test.go", 3}, // installed by hand, not listed
		{"mybin", "c_test.go", 4},   // not from a package
		{"btrfs", "d_test.go", 5},   // not installed, not listed
		{"btrfs", "d_test.go", 9},
	}
	got := checkUses(entries, uses, lk)
	want := []string{
		"bpftool (package bpftool, not in every Debian system) is called at b_test.go:3 and is not in .ci/tools",
		"btrfs is called at d_test.go:5 (and 1 more), is not installed here and is not in .ci/tools",
		"mybin (/usr/local/bin/mybin, from no Debian package) is called at c_test.go:4 and is not in .ci/tools",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("checkUses:\n got %q\nwant %q", got, want)
	}
}

func TestParseManifestErrors(t *testing.T) {
	for _, in := range []string{"onlyone\n", "a b c norecs\n", "a b c d e\n"} {
		if _, err := parseManifest(strings.NewReader(in)); err == nil {
			t.Errorf("parseManifest(%q): no error", in)
		}
	}
}

// TestRepositoryManifest runs the real check over this repository: every
// program the tests call is listed or part of the base system.
func TestRepositoryManifest(t *testing.T) {
	problems, err := run("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
