package classify

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

func TestPathClasses(t *testing.T) {
	c, err := NewPaths(DefaultPathRules())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path           string
		memfd, deleted bool
		want           []string
	}{
		{"/tmp/atomic_custom_tool", false, false, []string{"tmp"}},
		{"/var/tmp/x/y", false, false, []string{"tmp"}},
		{"/tmpfoo/x", false, false, nil},
		{"/dev/shm/.x", false, false, []string{"shm"}},
		{"/run/user/1000/payload", false, false, []string{"run_user"}},
		{"/run/user", false, false, nil},
		{"/home/alice/Downloads/tool", false, false, []string{"downloads"}},
		{"/home/alice/Downloads", false, false, nil}, // a file named Downloads, not in one
		{"/srv/app/node_modules/.bin/x", false, false, []string{"node_modules"}},
		{"/home/bob/proj/node_modules/evil/install.js", false, false, []string{"node_modules"}},
		{"/home/bob/.n2/pay", false, false, []string{"hidden_dir"}},
		{"/root/.cache/x/tool", false, false, []string{"hidden_dir"}},
		{"/home/bob/.payload", false, false, []string{"hidden_dir"}},
		{"/home/bob/bin/tool", false, false, nil},
		{"/opt/.hidden/tool", false, false, nil}, // not below a home
		{"/tmp/node_modules/x", false, false, []string{"tmp", "node_modules"}},
		{"/home/bob/Downloads/.x/y", false, true, []string{"downloads", "hidden_dir", "deleted"}},
		{"/usr/bin/python3", false, false, nil},
		{"/usr/lib/node_modules/npm/bin/npm-cli.js", false, false, nil},
		{"/lib64/ld-linux-x86-64.so.2", false, false, nil},
		{"/usr/sbin/chronyd", false, true, []string{"deleted"}},
		{"/memfd:payload", true, true, []string{"memfd", "deleted"}},
	} {
		if got := c.Classes(tc.path, tc.memfd, tc.deleted); !slices.Equal(got, tc.want) {
			t.Errorf("Classes(%q, memfd=%v, deleted=%v) = %q, want %q", tc.path, tc.memfd, tc.deleted, got, tc.want)
		}
	}
}

func TestPathRulesConfigurable(t *testing.T) {
	r := DefaultPathRules()
	r.Prefixes["opt_drop"] = []string{"/opt/drop"}
	r.Homes = append(r.Homes, "/srv/home/*")
	c, err := NewPaths(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Classes("/opt/drop/x", false, false); !slices.Equal(got, []string{"opt_drop"}) {
		t.Errorf("custom prefix: %q", got)
	}
	if got := c.Classes("/srv/home/u/.x/y", false, false); !slices.Equal(got, []string{"hidden_dir"}) {
		t.Errorf("custom home: %q", got)
	}
	for _, bad := range []PathRules{
		{Prefixes: map[string][]string{"x": {"relative/dir"}}},
		{Prefixes: map[string][]string{"x": {"/a/../b"}}},
		{Components: map[string][]string{"x": {"a/b"}}},
		{Homes: []string{""}},
	} {
		if _, err := NewPaths(bad); err == nil {
			t.Errorf("NewPaths(%+v) accepted", bad)
		}
	}
}

func TestExternal(t *testing.T) {
	extra, err := ParsePrefixes([]string{"100.64.0.0/10", "198.18.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	n := NewNetworks(extra)
	n.SetHostAddrs([]netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")})
	for addr, want := range map[string]bool{
		"192.0.2.1": true, "198.51.100.7": true, "203.0.113.9": true, "8.8.8.8": true, "2001:db8::1": true,
		"2606:4700::1111": true, "::ffff:192.0.2.1": true, "172.32.0.1": true,
		"192.0.2.2": false, "2001:db8::2": false, "::ffff:192.0.2.2": false,
		"127.0.0.1": false, "127.8.9.10": false, "10.1.2.3": false, "172.16.0.1": false, "172.31.255.255": false,
		"192.168.1.1": false, "169.254.169.254": false, "0.0.0.0": false, "0.1.2.3": false, "224.0.0.251": false,
		"239.1.1.1": false, "255.255.255.255": false, "::1": false, "::": false, "fe80::1": false,
		"fd00::1": false, "fc00::1": false, "ff02::1": false, "::ffff:10.0.0.1": false, "::ffff:127.0.0.1": false,
		"100.64.0.1": false, "100.127.255.255": false, "100.128.0.1": true, "198.18.0.1": false, "198.18.0.2": true,
	} {
		if got := n.External(netip.MustParseAddr(addr)); got != want {
			t.Errorf("External(%s) = %v, want %v", addr, got, want)
		}
	}
	if n.External(netip.Addr{}) {
		t.Error("invalid address judged external")
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestScriptPath(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		args []string
		cwd  string
		want string
	}{
		{"/usr/bin/python3.11", []string{"python3", "/home/u/.n2/pay"}, "/", "/home/u/.n2/pay"},
		{"/usr/bin/python3.11", []string{"python3", "-u", "-W", "ignore", "pay.py", "--flag"}, "/home/u/.n2", "/home/u/.n2/pay.py"},
		{"/usr/bin/python3.11", []string{"python3", "-Wignore", "-B", "x.py"}, "/tmp", "/tmp/x.py"},
		{"/usr/bin/python3.11", []string{"python3", "-c", "import os"}, "/", ""},
		{"/usr/bin/python3.11", []string{"python3", "-uc", "import os"}, "/", ""},
		{"/usr/bin/python3.11", []string{"python3", "-m", "http.server"}, "/", ""},
		{"/usr/bin/python3.11", []string{"python3"}, "/", ""},
		{"/usr/bin/node", []string{"node", "/tmp/x.js"}, "/", "/tmp/x.js"},
		{"/usr/bin/node", []string{"node", "--require", "./hook.js", "install.js"}, "/app/node_modules/evil", "/app/node_modules/evil/install.js"},
		{"/usr/bin/node", []string{"node", "--inspect=9229", "app.js"}, "/srv", "/srv/app.js"},
		{"/usr/bin/node", []string{"node", "-e", "require('x')"}, "/", ""},
		{"/usr/bin/dash", []string{"sh", "-c", "id"}, "/", ""},
		{"/usr/bin/bash", []string{"bash", "-lc", "id"}, "/", ""},
		{"/usr/bin/bash", []string{"/bin/bash", "./run.sh", "arg"}, "/tmp/w", "/tmp/w/run.sh"},
		{"/usr/bin/bash", []string{"bash", "-o", "pipefail", "--", "s.sh"}, "/x", "/x/s.sh"},
		{"/usr/bin/bash", []string{"bash", "-"}, "/", ""},
		{"/usr/bin/perl", []string{"perl", "-MData::Dumper", "-w", "x.pl"}, "/t", "/t/x.pl"},
		{"/usr/bin/perl", []string{"perl", "-le", "print 1"}, "/", ""},
		{"/usr/bin/perl", []string{"perl", "-I", "lib", "x.pl"}, "/t", "/t/x.pl"},
		{"/usr/bin/php8.2", []string{"php", "-f", "shell.php"}, "/var/www", "/var/www/shell.php"},
		{"/usr/bin/php8.2", []string{"php", "-r", "system('id');"}, "/", ""},
		{"/usr/bin/ruby3.1", []string{"ruby", "-r", "socket", "rev.rb"}, "/tmp", "/tmp/rev.rb"},
		{"/usr/bin/curl", []string{"curl", "http://x"}, "/", ""},
		{"/tmp/implant", []string{"/tmp/implant", "x.js"}, "/", ""},
	} {
		if got := ScriptPath(tc.exe, tc.args, tc.cwd); got != tc.want {
			t.Errorf("ScriptPath(%s, %q, %s) = %q, want %q", tc.exe, tc.args, tc.cwd, got, tc.want)
		}
	}
}

func FuzzScriptPath(f *testing.F) {
	f.Add("/usr/bin/python3", "python3\x00-W\x00x\x00y.py", "/")
	f.Add("/usr/bin/perl", "perl\x00-Mx\x00-", "/")
	f.Fuzz(func(t *testing.T, exe, args, cwd string) {
		got := ScriptPath(exe, strings.Split(args, "\x00"), cwd)
		if got != "" && !strings.HasPrefix(got, "/") && cwd != "" && strings.HasPrefix(cwd, "/") {
			t.Fatalf("relative result %q for cwd %q", got, cwd)
		}
	})
}

func FuzzPathClasses(f *testing.F) {
	c, _ := NewPaths(DefaultPathRules())
	f.Add("/home/a/.b/c")
	f.Add("/usr/../tmp/x")
	f.Fuzz(func(t *testing.T, p string) {
		got := c.Classes(p, false, false)
		for i, x := range got {
			if slices.Contains(got[i+1:], x) {
				t.Fatalf("duplicate class %q in %q", x, got)
			}
		}
	})
}

// TestAddrWatcher follows address changes in a network namespace the test
// creates, never touching the host's own interfaces.
func TestAddrWatcher(t *testing.T) {
	testutil.RequireRoot(t)
	name := "argus-cls-" + strings.ReplaceAll(t.Name(), "/", "-")[:8]
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	exec.Command("ip", "netns", "del", name).Run()
	ip("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ip("-n", name, "link", "add", "dummy0", "type", "veth", "peer", "name", "peer0")
	ip("-n", name, "link", "set", "dummy0", "up")
	ip("-n", name, "link", "set", "peer0", "up")
	ip("-n", name, "addr", "add", "192.0.2.77/24", "dev", "dummy0")

	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nets := NewNetworks(nil)
	w, err := WatchAddrs(nets, int(f.Fd()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	a77, a88 := netip.MustParseAddr("192.0.2.77"), netip.MustParseAddr("2001:db8::88")
	if nets.External(a77) {
		t.Error("address present at start judged external")
	}
	// 192.0.2.255 is the interface's broadcast address: this host.
	if nets.External(netip.MustParseAddr("192.0.2.255")) {
		t.Error("interface broadcast address judged external")
	}
	if !nets.External(a88) {
		t.Error("address not yet added judged internal")
	}
	ip("-n", name, "addr", "add", "2001:db8::88/64", "dev", "dummy0", "nodad")
	waitUntil(t, func() bool { return !nets.External(a88) }, "added address to become internal")
	ip("-n", name, "addr", "del", "192.0.2.77/24", "dev", "dummy0")
	waitUntil(t, func() bool { return nets.External(a77) }, "removed address to become external")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not stop")
	}
}

func TestParseIfAddrRejectsShort(t *testing.T) {
	if _, _, err := parseIfAddr(make([]byte, unix.SizeofIfAddrmsg-1)); err == nil {
		t.Error("short ifaddrmsg accepted")
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
