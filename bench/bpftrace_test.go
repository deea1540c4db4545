package main

import (
	"strings"
	"testing"
)

// TestCountBpftrace: exec lines count by filename, connect lines by
// destination port, AF_INET only and not the restarted attempts; losses
// are summed; everything else (the attach banner, other programs, lines
// cut short) is ignored, and a comm with spaces or tabs does not confuse
// the fields before it.
func TestCountBpftrace(t *testing.T) {
	const out = "Attaching 4 probes...\n" +
		"exec\t100\t/bin/true\ttrue\n" +
		"exec\t101\t/bin/true\ttrue\n" +
		"exec\t102\t/usr/bin/true\ttrue\n" +
		"exec\t103\t/bin/sh\tsh\n" +
		"exec\t104\t/bin/true\n" + // cut short
		"connect\t200\t0\t2\t127.0.0.1\t4000\tbench\n" +
		"connect\t200\t-111\t2\t127.1.2.3\t4001\tweird comm\twith tab\n" +
		"connect\t200\t-512\t2\t127.1.2.4\t4000\tbench\n" + // ERESTARTSYS: restarted
		"connect\t200\t-115\t2\t10.0.0.1\t5000\tbench\n" + // another port
		"connect\t201\t0\t10\t\t\tbench\n" + // AF_INET6: no address
		"connect\t201\t0\t1\t\t\tbench\n" + // AF_UNIX
		"\n" +
		"Lost 7 events\n" +
		"Lost 3 events\n"
	m := bpftraceMatch{exec: func(f string) bool { return f == "/bin/true" }, ports: []uint16{4000, 4001}}
	execs, conns, lost, err := countBpftrace(strings.NewReader(out), m)
	if err != nil {
		t.Fatal(err)
	}
	if execs != 2 || conns != 2 || lost != 10 {
		t.Errorf("execs %d connects %d lost %d: want 2, 2, 10", execs, conns, lost)
	}
	// No exec matcher (the connect workloads) and no ports (the exec
	// workloads): nothing of the other kind counts.
	execs, conns, _, _ = countBpftrace(strings.NewReader(out), bpftraceMatch{ports: []uint16{4000}})
	if execs != 0 || conns != 1 {
		t.Errorf("connects only: execs %d connects %d: want 0, 1", execs, conns)
	}
	execs, conns, _, _ = countBpftrace(strings.NewReader(out), bpftraceMatch{exec: m.exec})
	if execs != 2 || conns != 0 {
		t.Errorf("execs only: execs %d connects %d: want 2, 0", execs, conns)
	}
}

// TestBpftraceMatcher: each workload counts the kind of event it makes.
func TestBpftraceMatcher(t *testing.T) {
	k := &kit{mixed: "/tmp/b/mixed-tool", hashPool: []string{"/tmp/b/hash-pool/bin-0"}}
	r := workloadResult{Ports: []uint16{4000}}
	for _, c := range []struct {
		name, file string
		exec, conn bool
	}{
		{"exec", "/bin/true", true, false},
		{"exec-script", "/bin/sh", true, false},
		{"hash", "/tmp/b/hash-pool/bin-7", true, false},
		{"mixed", "/tmp/b/mixed-tool", true, true},
		{"connect", "/bin/true", false, true},
		{"connect-distinct", "/bin/true", false, true},
		{"udp-many", "/bin/true", false, false},
	} {
		m := bpftraceMatcher(c.name, k, r)
		if got := m.exec != nil && m.exec(c.file); got != c.exec {
			t.Errorf("%s: exec of %s matched %v, want %v", c.name, c.file, got, c.exec)
		}
		if got := len(m.ports) > 0; got != c.conn {
			t.Errorf("%s: connects matched %v, want %v", c.name, got, c.conn)
		}
	}
}
