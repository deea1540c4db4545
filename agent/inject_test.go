package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
)

// TestT1055Injected: an injector from a temp dir starts sleep, writes a
// payload over its text with ptrace and lets the payload connect out; the
// injector itself never connects. The connection is sleep's (its path,
// package-verified), so T1587 has nothing to join; it must say the code
// came from written program text and fire connect_from_injected_code.
func TestT1055Injected(t *testing.T) {
	testutil.RequireRoot(t)
	if err := features.HaveProgramHelper(ebpf.TracePoint, asm.FnFindVma); err != nil {
		t.Skipf("skipping: connect records carry no code origin here: %v", err)
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	bin, _ := testutil.BuildInject(t, dir, "injector")
	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	out, stop := startAgent(t, dir)
	defer stop()
	c := n.Command(bin, "/usr/bin/sleep", testutil.ServerV4, "4444")
	if b, err := c.CombinedOutput(); err != nil || !strings.Contains(string(b), "injected") {
		t.Fatalf("injector: %v: %s", err, b)
	}
	conn := out.await(t, "sleep's connection", func(r *event.Record) bool {
		return connTo(testutil.ServerV4+":4444")(r) && r.Process.Comm == "sleep"
	})
	if p := conn.Process; p.Exe.Path != "/usr/bin/sleep" || p.CodeOrigin != "written_file_text" {
		t.Errorf("connection: exe %s code_origin %q, want /usr/bin/sleep and written_file_text", p.Exe.Path, p.CodeOrigin)
	}
	out.await(t, detect.RuleInjected+" detection", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.Rule == detect.RuleInjected && r.Detection.Events[0].Process.PID == conn.Process.PID
	})
}

// TestT1055AnonymousDatagram: code running from memory no file backs sends
// a datagram (a UDP beacon, seen only by the socket address hooks, which
// cannot look at the mapping in the kernel): the record gives the call's
// address, the pipeline finds it in anonymous memory, and
// connect_from_injected_code fires.
func TestT1055AnonymousDatagram(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	bin, _ := testutil.BuildRelabel(t, dir, "udp-beacon")
	n := testutil.NewNetPair(t)
	out, stop := startAgent(t, dir)
	defer stop()
	// Lingers 3 s after the send, as a beacon would: its memory is still
	// there when the record is read.
	c := n.Command(bin, "/usr/bin/true", testutil.ServerV4, "53", "3000")
	c.Env = append(os.Environ(), "RELABEL_NONE=1", "RELABEL_UDP=1")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("beacon: %v: %s", err, b)
	}
	rec := out.await(t, "the beacon's datagram", func(r *event.Record) bool {
		return connTo(testutil.ServerV4+":53")(r) && r.Process.Comm == "udp-beacon"
	})
	if p := rec.Process; p.CodeOrigin != "anonymous_memory" || rec.Network.Protocol != "udp" {
		t.Errorf("datagram: code_origin %q protocol %s, want anonymous_memory over udp", p.CodeOrigin, rec.Network.Protocol)
	}
	out.await(t, detect.RuleInjected+" detection", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && r.Detection.Rule == detect.RuleInjected && r.Detection.Events[0].Process.PID == rec.Process.PID
	})
}
