package agent

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
	"github.com/argus-sensor/argus-sensor/internal/testutil"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// startDNSServer runs dnsmasq on 10.9.0.1:53 (an internal address, as a
// LAN resolver is: the queries are not external connections) in the pair's server
// namespace, answering from its own records only (no upstream, no hosts
// file): c2.argus.test A 192.0.2.1; www -> cdn -> edge.argus.test, edge
// with A 192.0.2.1 and AAAA 2001:db8::1; and <a-b-c-d>.storm.argus.test
// for every address of 198.18.0.0/16. It makes the client namespace's
// resolv.conf (ip netns exec puts /etc/netns/<name>/ files over /etc/)
// point at it, with a hosts file that knows only localhost.
func startDNSServer(t *testing.T, n *testutil.NetPair) {
	t.Helper()
	dnsmasq := testutil.LookTool(t, "dnsmasq", "dnsmasq-base", "")
	if dnsmasq == "" {
		t.Skip("skipping: needs dnsmasq (apt-get install dnsmasq-base)")
	}
	etc := filepath.Join("/etc/netns", n.Client)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	for name, body := range map[string]string{
		"resolv.conf": "nameserver " + testutil.ServerPrivateV4 + "\noptions attempts:2 timeout:2\n",
		"hosts":       "127.0.0.1 localhost\n::1 localhost\n",
	} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runDnsmasq(t, n.Server, dnsmasq, "--listen-address="+testutil.ServerPrivateV4, "--no-resolv", "--local-ttl=300",
		"--host-record=c2.argus.test,192.0.2.1",
		"--host-record=edge.argus.test,192.0.2.1,2001:db8::1",
		"--cname=cdn.argus.test,edge.argus.test",
		"--cname=www.argus.test,cdn.argus.test",
		"--synth-domain=storm.argus.test,198.18.0.0/16")
}

// startStub runs a second dnsmasq as a local stub resolver on 127.0.0.1
// in the client namespace, forwarding to the server's, and points the
// client's resolv.conf at it, as systemd-resolved on 127.0.0.53 does.
func startStub(t *testing.T, n *testutil.NetPair) {
	t.Helper()
	dnsmasq, _ := exec.LookPath("dnsmasq")
	runDnsmasq(t, n.Client, dnsmasq, "--listen-address=127.0.0.1", "--no-resolv", "--server="+testutil.ServerPrivateV4)
	conf := filepath.Join("/etc/netns", n.Client, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runDnsmasq runs dnsmasq in namespace ns, answering only from its
// arguments (no upstream unless given, no hosts file), until t ends.
func runDnsmasq(t *testing.T, ns, dnsmasq string, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, dnsmasq,
		"--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--no-poll", "--bind-interfaces", "--port=53",
		"--pid-file=", "--user=nobody", "--group=nogroup", "--log-facility=-"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// It has bound its socket once it logs that it started.
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "started, version") {
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	t.Fatalf("dnsmasq %s did not start: %v", strings.Join(args, " "), cmd.Wait())
}

// buildResolver compiles the getaddrinfo implant (testdata/resolve.c)
// into dir, once per salt appended, so each copy has its own digest.
func buildResolver(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	testutil.SkipInMatrixGuest(t, "a C compiler and dnsmasq")
	cc := testutil.LookTool(t, "gcc", "gcc", "")
	if cc == "" {
		t.Skip("skipping: needs gcc to build the getaddrinfo implant")
	}
	src, _ := filepath.Abs("testdata/resolve.c")
	base := filepath.Join(t.TempDir(), "resolve")
	if out, err := exec.Command(cc, "-O2", "-o", base, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(append([]byte(nil), b...), name...), 0o755); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestPassiveDNSLive: implants in /tmp resolve names with getaddrinfo
// against dnsmasq in the server namespace and connect. Each connection
// carries the name its process looked up (through a CNAME chain, over A
// and AAAA), the T1587 detection names it, and each answer is a dns_query
// record naming the implant as the querying process.
func TestPassiveDNSLive(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	bins := buildResolver(t, dir, "c2dropper", "cdnbeacon")
	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	n.Listen(t, "["+testutil.ServerV6+"]:4444")
	startDNSServer(t, n)

	out, stop := startAgent(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	run := func(bin, name string) int {
		t.Helper()
		c := n.Command(bin, name, "4444")
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), name, err, b)
		}
		t.Logf("%s %s: %s", filepath.Base(bin), name, strings.TrimSpace(string(b)))
		return c.Process.Pid
	}
	c2pid := run(bins[0], "c2.argus.test")
	cdnpid := run(bins[1], "www.argus.test")

	conn := func(pid int, dst string) *event.Record {
		t.Helper()
		host, port, _ := net.SplitHostPort(dst)
		return out.await(t, "connection of pid "+fmt.Sprint(pid)+" to "+dst, func(r *event.Record) bool {
			return r.Kind == event.KindNetworkConnection && r.Process.PID == uint32(pid) &&
				r.Network.DstIP == host && fmt.Sprint(r.Network.DstPort) == port
		})
	}
	for _, tc := range []struct {
		pid       int
		dst, name string
	}{
		{c2pid, testutil.ServerV4 + ":4444", "c2.argus.test"},
		{cdnpid, testutil.ServerV4 + ":4444", "www.argus.test"},
		{cdnpid, "[" + testutil.ServerV6 + "]:4444", "www.argus.test"},
	} {
		// The same address was looked up under two names: each process
		// gets its own.
		if c := conn(tc.pid, tc.dst); c.Network.DstHostname != tc.name {
			t.Errorf("connection of pid %d to %s: dst_hostname %q, want %q", tc.pid, tc.dst, c.Network.DstHostname, tc.name)
		}
	}

	det := out.await(t, "T1587 detection of c2dropper", func(r *event.Record) bool {
		return r.Kind == event.KindDetection && len(r.Detection.Events) == 2 && r.Detection.Events[0].Process.Exe.Path == bins[0]
	})
	if want := "connected to c2.argus.test (" + testutil.ServerV4 + "):4444"; !strings.Contains(det.Detection.Summary, want) ||
		det.Detection.Events[1].Network.DstHostname != "c2.argus.test" {
		t.Errorf("detection summary %q, want it to say %q", det.Detection.Summary, want)
	}

	query := func(pid int, name, typ string) *event.DNS {
		t.Helper()
		r := out.await(t, typ+" answer for "+name, func(r *event.Record) bool {
			return r.Kind == event.KindDNSQuery && r.DNS.Name == name && r.DNS.Type == typ &&
				r.Process != nil && r.Process.PID == uint32(pid)
		})
		if r.DNS.RCode != "NOERROR" || r.DNS.ServerIP != testutil.ServerPrivateV4 || r.DNS.ServerPort != 53 ||
			r.DNS.ClientIP != testutil.ClientPrivateV4 || r.DNS.Transport != "udp" {
			t.Errorf("%s %s: %+v", name, typ, r.DNS)
		}
		if p := filepath.Dir(r.Process.Exe.Path); p != dir {
			t.Errorf("%s %s: querying process %s", name, typ, r.Process.Exe.Path)
		}
		return r.DNS
	}
	if d := query(c2pid, "c2.argus.test", "A"); strings.Join(d.ResolvedIPs, ",") != testutil.ServerV4 ||
		len(d.Answers) != 1 || d.Answers[0] != (event.DNSAnswer{Name: "c2.argus.test", Type: "A", TTL: 300, Data: testutil.ServerV4}) {
		t.Errorf("c2.argus.test A: %+v", d)
	}
	if d := query(cdnpid, "www.argus.test", "A"); strings.Join(d.ResolvedIPs, ",") != testutil.ServerV4 ||
		len(d.Answers) != 3 || d.Answers[0].Type != "CNAME" || d.Answers[0].Data != "cdn.argus.test" ||
		d.Answers[1].Data != "edge.argus.test" {
		t.Errorf("www.argus.test A: %+v", d)
	}
	if d := query(cdnpid, "www.argus.test", "AAAA"); strings.Join(d.ResolvedIPs, ",") != testutil.ServerV6 {
		t.Errorf("www.argus.test AAAA: %+v", d)
	}

	stop()
	stopped = true
	var health *event.Health
	for _, r := range out.records(t) {
		if r.Kind == event.KindSensorHealth && r.Health.State == "stopped" {
			health = r.Health
		}
	}
	if health == nil || health.DNS == nil || health.DNS.Capture != "on" || health.DNS.Records < 4 || health.DNS.CacheEntries < 2 {
		t.Errorf("stopped health dns %+v", health.DNS)
	}
	t.Logf("%d records match the argus.v1 schema", schematest.File(t, out.path))
}

// TestPassiveDNSStorm: 10,000 answers for 10,000 different addresses,
// against a rate limit of a 1,000 burst with next to no refill (one
// response per 1,000 s) and a name cache of 100: the kernel hands over at
// most the burst and counts the rest, every response read makes a
// record, and the cache holds exactly its bound.
func TestPassiveDNSStorm(t *testing.T) {
	testutil.RequireRoot(t)
	buildResolver(t, t.TempDir()) // the same needs as the live test
	n := testutil.NewNetPair(t)
	startDNSServer(t, n)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	out, stop := startAgentWith(t, dir, func(c *Config) {
		c.Sensor.DNS = sensor.DNSOptions{Rate: 0.001, Burst: 1000}
		c.DNSCacheSize = 100
	})
	const queries = 10000
	self, _ := os.Executable()
	storm := n.Command(self, testutil.ServerPrivateV4+":53", fmt.Sprint(queries))
	storm.Env = append(os.Environ(), helperEnv+"=dns-storm")
	if b, err := storm.CombinedOutput(); err != nil {
		t.Fatalf("storm: %v\n%s", err, b)
	}
	stop()

	var d *event.DNSHealth
	stormRecords := 0
	for _, r := range out.records(t) {
		switch {
		case r.Kind == event.KindSensorHealth && r.Health.State == "stopped":
			d = r.Health.DNS
		case r.Kind == event.KindDNSQuery && r.Process != nil && r.Process.PID == uint32(storm.Process.Pid):
			stormRecords++
		}
	}
	if d == nil {
		t.Fatal("no stopped health record with dns")
	}
	t.Logf("dns health %+v; %d records from the storm", *d, stormRecords)
	if d.Responses > 1000 || d.Responses+d.RateLimited < queries {
		t.Errorf("%d responses read, %d rate limited: want at most the burst of 1000 read, and every one of the %d counted",
			d.Responses, d.RateLimited, queries)
	}
	if d.Records != d.Responses-d.ParseErrors || stormRecords == 0 || uint64(stormRecords) > d.Records {
		t.Errorf("%d records of %d responses (%d parse errors), %d of them the storm's", d.Records, d.Responses, d.ParseErrors, stormRecords)
	}
	if d.CacheMax != 100 || d.CacheEntries != 100 || d.CacheEvicted < uint64(stormRecords)-100 {
		t.Errorf("cache %d of %d, %d evicted; want exactly the bound held and at least %d evicted",
			d.CacheEntries, d.CacheMax, d.CacheEvicted, stormRecords-100)
	}
	schematest.File(t, out.path)
}

// TestPassiveDNSThroughStub: the implant asks a local stub resolver
// (dnsmasq on 127.0.0.1, as systemd-resolved on 127.0.0.53), which asks
// the server's. The answer the stub relays over loopback names the
// implant's connection and is the implant's dns_query; the stub's own
// upstream answer is the stub's.
func TestPassiveDNSThroughStub(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	bin := buildResolver(t, dir, "stubbed")[0]
	n := testutil.NewNetPair(t)
	n.Listen(t, testutil.ServerV4+":4444")
	startDNSServer(t, n)
	startStub(t, n)
	out, stop := startAgent(t, dir)
	defer stop()

	c := n.Command(bin, "c2.argus.test", "4444")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("implant: %v\n%s", err, b)
	}
	pid := uint32(c.Process.Pid)
	conn := out.await(t, "the implant's connection", func(r *event.Record) bool {
		return r.Kind == event.KindNetworkConnection && r.Process.PID == pid && r.Network.DstPort == 4444
	})
	if conn.Network.DstHostname != "c2.argus.test" {
		t.Errorf("dst_hostname %q through the stub", conn.Network.DstHostname)
	}
	q := out.await(t, "the implant's dns_query", func(r *event.Record) bool {
		return r.Kind == event.KindDNSQuery && r.Process != nil && r.Process.PID == pid && r.DNS.Type == "A"
	})
	if q.DNS.ServerIP != "127.0.0.1" || q.DNS.Name != "c2.argus.test" || strings.Join(q.DNS.ResolvedIPs, ",") != testutil.ServerV4 {
		t.Errorf("implant's answer from the stub: %+v", q.DNS)
	}
	up := out.await(t, "the stub's upstream answer", func(r *event.Record) bool {
		return r.Kind == event.KindDNSQuery && r.DNS.ServerIP == testutil.ServerPrivateV4 && r.DNS.Name == "c2.argus.test" &&
			r.DNS.Type == "A"
	})
	if up.Process == nil || !strings.HasSuffix(up.Process.Exe.Path, "/dnsmasq") {
		t.Errorf("upstream answer's process %+v", up.Process)
	}
}

// dnsStorm sends count A queries, one after another on one connected UDP
// socket, for count different names of storm.argus.test (each answered
// with its own address), and reads each answer.
func dnsStorm(server string, count int) error {
	c, err := net.Dial("udp", server)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for i := range count {
		addr := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		name := strings.ReplaceAll(addr.String(), ".", "-") + ".storm.argus.test."
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: uint16(i), RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		msg, err := b.Finish()
		if err != nil {
			return err
		}
		for try := 0; ; try++ {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write(msg); err != nil {
				return err
			}
			k, err := c.Read(buf)
			if err == nil {
				var p dnsmessage.Parser
				if h, err := p.Start(buf[:k]); err == nil && h.ID == uint16(i) {
					break
				}
			}
			if try == 3 {
				return fmt.Errorf("query %d (%s): no answer: %v", i, name, err)
			}
		}
	}
	return nil
}
