package forward

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/forward/format"
	"github.com/argus-sensor/argus-sensor/forward/spool"
	"github.com/argus-sensor/argus-sensor/internal/recordtest"
)

var rsyslogInstall struct {
	once sync.Once
	err  error
	out  string
}

// requireRsyslog makes sure Debian's rsyslog, its GnuTLS driver and RELP are
// installed, installing them with apt-get if needed. It never touches the
// system rsyslog service: tests run private instances.
func requireRsyslog(t *testing.T) string {
	t.Helper()
	have := func() (string, bool) {
		p, err := exec.LookPath("rsyslogd")
		if err != nil {
			if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr != nil {
				return "", false
			}
			p = "/usr/sbin/rsyslogd"
		}
		gtls, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so")
		relp, _ := filepath.Glob("/usr/lib/*/rsyslog/imrelp.so")
		return p, len(gtls) > 0 && len(relp) > 0
	}
	if p, ok := have(); ok {
		return p
	}
	skip := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("rsyslog needed under CI: %s", why)
		}
		t.Skip(why)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		skip("rsyslogd is not installed and apt-get is unavailable")
	}
	if os.Geteuid() != 0 {
		skip("rsyslogd is not installed and installing it needs root")
	}
	rsyslogInstall.once.Do(func() {
		install := func() error {
			cmd := exec.Command("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300",
				"--no-install-recommends", "rsyslog", "rsyslog-gnutls", "rsyslog-relp")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			rsyslogInstall.out = string(out)
			return err
		}
		if rsyslogInstall.err = install(); rsyslogInstall.err != nil {
			upd := exec.Command("apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300")
			upd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			upd.Run()
			rsyslogInstall.err = install()
		}
	})
	p, ok := have()
	if !ok {
		t.Fatalf("installing rsyslog failed: %v\n%s", rsyslogInstall.err, rsyslogInstall.out)
	}
	return p
}

// rsyslogd is a private rsyslog instance on loopback that writes every
// argus-sensor message to out as "HOSTNAME APP-NAME PROCID MSGID MSG".
type rsyslogd struct {
	t      *testing.T
	bin    string
	dir    string
	conf   string
	out    string
	cmd    *exec.Cmd
	exited chan struct{}
}

type tlsFiles struct{ ca, cert, key string }

func startRsyslog(t *testing.T, proto string, port int, tf *tlsFiles) *rsyslogd {
	t.Helper()
	r := &rsyslogd{t: t, bin: requireRsyslog(t), dir: t.TempDir()}
	os.Mkdir(filepath.Join(r.dir, "work"), 0o700)
	r.out = filepath.Join(r.dir, "out.log")
	var c strings.Builder
	fmt.Fprintf(&c, "global(workDirectory=%q maxMessageSize=\"64k\" processInternalMessages=\"on\"", filepath.Join(r.dir, "work"))
	if tf != nil {
		fmt.Fprintf(&c, " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=%q"+
			" defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q", tf.ca, tf.cert, tf.key)
	}
	// processInternalMessages keeps rsyslog's own messages in this
	// instance instead of sending them to the system's /dev/log.
	c.WriteString(")\n")
	switch proto {
	case "udp":
		fmt.Fprintf(&c, "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"%d\" rcvbufSize=\"8m\")\n", port)
	case "tcp":
		fmt.Fprintf(&c, "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\")\n", port)
	case "relp":
		fmt.Fprintf(&c, "module(load=\"imrelp\")\ninput(type=\"imrelp\" address=\"127.0.0.1\" port=\"%d\")\n", port)
	case "tls":
		fmt.Fprintf(&c, "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n"+
			"input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\")\n", port)
	}
	c.WriteString("template(name=\"argus\" type=\"string\" string=\"%hostname% %app-name% %procid% %msgid% %msg%\\n\")\n")
	fmt.Fprintf(&c, "if $app-name == \"argus-sensor\" then action(type=\"omfile\" file=%q template=\"argus\")\n", r.out)
	fmt.Fprintf(&c, "if $programname == \"rsyslogd\" then action(type=\"omfile\" file=%q)\n", filepath.Join(r.dir, "internal.log"))
	r.conf = filepath.Join(r.dir, "rsyslog.conf")
	if err := os.WriteFile(r.conf, []byte(c.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	r.start()
	return r
}

func (r *rsyslogd) start() {
	r.t.Helper()
	internal := filepath.Join(r.dir, "internal.log")
	before, _ := os.ReadFile(internal)
	cmd := exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(internal)
		if len(b) > len(before) && bytes.Contains(b[len(before):], []byte("start")) {
			break
		}
		select {
		case <-exited:
			r.cmd = nil
			r.t.Fatalf("rsyslogd exited: %v\n%s\nconfig:\n%s", cmd.ProcessState, stderr.String(), mustRead(r.conf))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			r.t.Fatalf("rsyslogd did not start\n%s", stderr.String())
		}
	}
	// rsyslog reports start before every listener is bound.
	time.Sleep(200 * time.Millisecond)
}

func mustRead(p string) string { b, _ := os.ReadFile(p); return string(b) }

// stop ends the instance this test started, and waits until it is gone.
func (r *rsyslogd) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
	r.cmd = nil
}

// lines parses what rsyslog wrote.
func (r *rsyslogd) lines() []syslogLine {
	b, err := os.ReadFile(r.out)
	if err != nil {
		return nil
	}
	// rsyslog may be writing as this reads: a last line without its
	// newline is not whole yet.
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	var out []syslogLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 5)
		if len(parts) != 5 {
			r.t.Fatalf("bad line %q", sc.Text())
		}
		out = append(out, syslogLine{host: parts[0], app: parts[1], procid: parts[2], msgid: parts[3],
			msg: []byte(strings.TrimSpace(parts[4]))})
	}
	return out
}

type syslogLine struct {
	host, app, procid, msgid string
	msg                      []byte
}

func (r *rsyslogd) seqs(t *testing.T) []int {
	var out []int
	for _, l := range r.lines() {
		if l.host != "vm1" || l.app != "argus-sensor" || l.msgid != "process_launch" || l.procid != fmt.Sprint(os.Getpid()) {
			t.Fatalf("header: host %q app %q procid %q msgid %q", l.host, l.app, l.procid, l.msgid)
		}
		recordtest.MustJSON(t, l.msg)
		out = append(out, idSeq(t, l.msg))
	}
	return out
}

func (r *rsyslogd) waitDistinct(t *testing.T, n int, d time.Duration) {
	waitFor(t, fmt.Sprintf("%d records at rsyslog", n), d, func() bool {
		seen := map[int]bool{}
		for _, s := range r.seqs(t) {
			seen[s] = true
		}
		return len(seen) >= n
	})
}

func TestSyslogUDP(t *testing.T) {
	port := freePort(t)
	rs := startRsyslog(t, "udp", port, nil)
	f := newTestForwarder(t, Output{Spec: fmt.Sprintf("syslog+udp://127.0.0.1:%d?max_size=4096", port)})
	const n = 300
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
		if i%50 == 49 {
			time.Sleep(5 * time.Millisecond) // UDP has no flow control
		}
	}
	big := seqRecord(n)
	big.Process.Args = []string{strings.Repeat("A", 5000)}
	f.Send(big)
	rs.waitDistinct(t, n, 20*time.Second)
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, rs.seqs(t), n)
	st := f.Stats()[0]
	if st.Oversize != 1 || st.Sent != n {
		t.Errorf("stats %+v: want the oversize record counted and %d sent", st, n)
	}
}

func TestSyslogTCPOutage(t *testing.T) {
	port := freePort(t)
	rs := startRsyslog(t, "tcp", port, nil)
	spoolDir := t.TempDir()
	out := Output{Spec: fmt.Sprintf("syslog+tcp://127.0.0.1:%d", port), Format: format.FormatUDM,
		Syslog: SyslogOptions{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}}}
	open := func() *Forwarder {
		f, err := New(Config{Outputs: []Output{out}, SpoolDir: spoolDir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	for i := 0; i < 1000; i++ {
		f.Send(seqRecord(i))
	}
	rs.waitDistinct(t, 1000, 20*time.Second)
	for _, l := range rs.lines()[:3] {
		m := recordtest.MustJSON(t, l.msg)
		if recordtest.Get(m, "metadata.event_type") != "PROCESS_LAUNCH" || recordtest.Get(m, "principal.hostname") != "vm1" {
			t.Fatalf("not UDM: %s", l.msg)
		}
	}

	// The receiver goes away; 10,000 records are sent meanwhile.
	rs.stop()
	for i := 1000; i < 11000; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "records spooled", 20*time.Second, func() bool { return f.Stats()[0].SpoolRecords >= 10000 })
	rs.start()
	rs.waitDistinct(t, 11000, 60*time.Second)

	// Again, but the sensor restarts during the outage.
	rs.stop()
	for i := 11000; i < 16000; i++ {
		f.Send(seqRecord(i))
	}
	closeForwarder(t, f, 300*time.Millisecond)
	f = open()
	for i := 16000; i < 21000; i++ {
		f.Send(seqRecord(i))
	}
	rs.start()
	rs.waitDistinct(t, 21000, 60*time.Second)
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	dups := checkComplete(t, rs.seqs(t), 21000)
	t.Logf("syslog over TCP through two outages: 21000 records, %d duplicates", dups)
}

func TestSyslogTLS(t *testing.T) {
	tf := writeTestPKI(t)
	port := freePort(t)
	rs := startRsyslog(t, "tls", port, &tf.tlsFiles)
	f := newTestForwarder(t, Output{
		Spec:   fmt.Sprintf("syslog+tls://127.0.0.1:%d?format=ecs&ca_file=%s", port, tf.ca),
		Syslog: SyslogOptions{TLS: TLSOptions{CertFile: tf.clientCert, KeyFile: tf.clientKey}},
	})
	const n = 2000
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
	}
	rs.waitDistinct(t, n, 30*time.Second)
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, rs.seqs(t), n)
	m := recordtest.MustJSON(t, rs.lines()[0].msg)
	if recordtest.Get(m, "event.kind") != "event" || recordtest.Get(m, "process.pid") != float64(8017) {
		t.Errorf("not ECS: %v", m)
	}

	// A receiver whose certificate the CA did not sign is refused, and
	// the records wait.
	other := writeTestPKI(t)
	f = newTestForwarder(t, Output{Spec: fmt.Sprintf("syslog+tls://127.0.0.1:%d?ca_file=%s", port, other.ca)})
	f.Send(seqRecord(0))
	waitFor(t, "a certificate error", 10*time.Second, func() bool {
		return strings.Contains(f.Stats()[0].LastError, "certificate")
	})
	if st := f.Stats()[0]; st.Sent != 0 || st.SpoolRecords != 1 {
		t.Errorf("untrusted receiver: %+v", st)
	}
	closeForwarder(t, f, 100*time.Millisecond)
}

type testPKI struct {
	tlsFiles
	clientCert, clientKey string
}

// writeTestPKI makes a throwaway CA, a server certificate for 127.0.0.1
// and a client certificate, as PEM files.
func writeTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "argus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(name string, usage x509.ExtKeyUsage, serial int64) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
		os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
		return cp, kp
	}
	p := &testPKI{}
	p.ca = filepath.Join(dir, "ca.pem")
	os.WriteFile(p.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	p.cert, p.key = issue("server", x509.ExtKeyUsageServerAuth, 2)
	p.clientCert, p.clientKey = issue("client", x509.ExtKeyUsageClientAuth, 3)
	return p
}

// TestSyslogRELPFlapping: rsyslog's imrelp stopped and started again and
// again while records flow. RELP acknowledges each message once rsyslog
// has taken it, so every record arrives; the ones in flight when the
// receiver went away may arrive twice, identifiable by id.
func TestSyslogRELPFlapping(t *testing.T) {
	port := freePort(t)
	rs := startRsyslog(t, "relp", port, nil)
	f, err := New(Config{Outputs: []Output{{Spec: fmt.Sprintf("syslog+relp://127.0.0.1:%d", port),
		Syslog: SyslogOptions{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}}}},
		SpoolDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const rounds, per = 8, 250
	for k := 0; k < rounds; k++ {
		for i := k * per; i < (k+1)*per; i++ {
			f.Send(seqRecord(i))
		}
		// Stop while that round is in flight, and come back.
		rs.stop()
		rs.start()
	}
	rs.waitDistinct(t, rounds*per, 60*time.Second)
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	dups := checkComplete(t, rs.seqs(t), rounds*per)
	st := f.Stats()[0]
	t.Logf("RELP through %d receiver restarts: %d records, %d duplicates, %d retries", rounds, rounds*per, dups, st.Retries)
	if st.Dropped() != 0 || st.SpoolRecords != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSyslogSmallTmpfsSpoolOutage: the spool lives on a 4 MiB tmpfs and
// rsyslog is down while 50,000 records are produced. The sensor keeps
// going, the spool drops its oldest segments and counts them, and when
// rsyslog returns the rest is delivered: delivered + counted drops =
// produced, exactly.
func TestSyslogSmallTmpfsSpoolOutage(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mounting a tmpfs needs root under CI")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	port := freePort(t)
	rs := startRsyslog(t, "tcp", port, nil)
	rs.stop()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	f, err := New(Config{Outputs: []Output{{Spec: fmt.Sprintf("syslog+tcp://127.0.0.1:%d?spool_max_size=3M", port),
		Spool:  spool.Options{SegmentBytes: 256 << 10},
		Syslog: SyslogOptions{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}}}},
		SpoolDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50000
	for i := 0; i < n; i++ {
		f.Send(seqRecord(i))
		if i%2000 == 1999 {
			// Let the spooler keep up: this test is about the spool's
			// bound, not the memory queue's.
			waitFor(t, "queue drained", 20*time.Second, func() bool { return f.Stats()[0].QueueRecords == 0 })
		}
	}
	waitFor(t, "queue drained", 20*time.Second, func() bool { return f.Stats()[0].QueueRecords == 0 })
	st := f.Stats()[0]
	if st.SpoolDropped == 0 || st.SpoolBytes > 3<<20 {
		t.Fatalf("spool during the outage: %+v", st)
	}
	rs.start()
	waitFor(t, "spool drained", 60*time.Second, func() bool { return f.Stats()[0].SpoolRecords == 0 })
	if err := closeForwarder(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	rs.waitDistinct(t, int(f.Stats()[0].Sent), 30*time.Second)
	st = f.Stats()[0]
	seqs := rs.seqs(t)
	seen := map[int]bool{}
	for _, s := range seqs {
		seen[s] = true
	}
	if uint64(len(seen))+st.Dropped() != n {
		t.Fatalf("delivered %d + dropped %d != produced %d; stats %+v", len(seen), st.Dropped(), n, st)
	}
	if !seen[n-1] {
		t.Fatal("the newest record was not delivered")
	}
	t.Logf("4 MiB tmpfs, 3 MiB spool, rsyslog down for %d records: %d delivered, %d dropped and counted (%d by the spool, %d by the queue)",
		n, len(seen), st.Dropped(), st.SpoolDropped, st.QueueDropped)
}
