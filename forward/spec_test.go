package forward

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nxdomainResolver answers every query with NXDOMAIN from a DNS server on
// loopback, so the test of an unresolvable name sends nothing elsewhere.
func nxdomainResolver(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			resp := append([]byte(nil), buf[:n]...)
			resp[2] |= 0x80                   // QR: a response
			resp[3] = resp[3]&0x70 | 0x80 | 3 // RA, RCODE 3: name error
			for i := 6; i < 12; i++ {
				resp[i] = 0 // no answer, authority or additional records
			}
			pc.WriteTo(resp, from)
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func TestBadOutputsFailClearly(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	aFile := filepath.Join(dir, "file")
	os.WriteFile(aFile, nil, 0o600)
	cases := []struct {
		out  Output
		want []string // substrings: the output and the setting at fault
	}{
		{Output{Spec: "ftp://x"}, []string{`"ftp://x"`, "scheme"}},
		{Output{Spec: "nonsense"}, []string{"bad output spec"}},
		{Output{Spec: "file:"}, []string{"path"}},
		{Output{Spec: "file:/nonexistent-dir/x/events.jsonl"}, []string{"path", "no such file"}},
		{Output{Spec: "file:/tmp/x?max_size=lots"}, []string{"max_size"}},
		{Output{Spec: "stdout", Format: "cef"}, []string{"format", "cef"}},
		{Output{Spec: "stdout?format=xml"}, []string{"format"}},
		{Output{Spec: "syslog+tcp://127.0.0.1:99999"}, []string{"port"}},
		{Output{Spec: "syslog+tcp://:514"}, []string{"host"}},
		{Output{Spec: "syslog+tls://127.0.0.1:6514?ca_file=" + notPEM}, []string{"ca_file", "no PEM"}},
		{Output{Spec: "syslog+tls://127.0.0.1:6514?ca_file=/nonexistent.pem"}, []string{"ca_file"}},
		{Output{Spec: "syslog+tls://127.0.0.1:6514?cert_file=" + notPEM}, []string{"cert_file and key_file"}},
		{Output{Spec: "syslog+tls://127.0.0.1:6514?cert_file=" + notPEM + "&key_file=" + notPEM}, []string{"cert_file/key_file"}},
		{Output{Spec: "syslog+udp://127.0.0.1:514?facility=99"}, []string{"facility"}},
		{Output{Spec: "http://10.0.0.1/in"}, []string{"scheme", "loopback"}},
		{Output{Spec: "https://u:p@127.0.0.1/in"}, []string{"userinfo"}},
		{Output{Spec: "https://127.0.0.1/in?mode=chronicle"}, []string{"chronicle", "udm"}},
		{Output{Spec: "https://127.0.0.1/in?mode=splunk_hec"}, []string{"splunk_hec", "token"}},
		{Output{Spec: "https://127.0.0.1/in?mode=kafka"}, []string{"mode"}},
		{Output{Spec: "https://127.0.0.1/in?body=xml"}, []string{"body"}},
		{Output{Spec: "https://127.0.0.1/in?token_file=/nonexistent-token"}, []string{"token_file"}},
		{Output{Spec: "https://127.0.0.1/in?batch_records=0"}, []string{"batch_records"}},
		{Output{Spec: "https://127.0.0.1/in?spool_dir=" + aFile}, []string{"spool_dir", "not a directory"}},
		{Output{Spec: "syslog+tcp://siem.does-not-exist.example:514"}, []string{"host", "does not resolve"}},
		{Output{Spec: "https://siem.does-not-exist.example/in"}, []string{"host", "does not resolve"}},
	}
	res := nxdomainResolver(t)
	for _, c := range cases {
		f, err := New(Config{Outputs: []Output{c.out}, SpoolDir: t.TempDir(), Logger: quietLogger(), Resolver: res})
		if err == nil {
			f.Close(context.Background())
			t.Errorf("%s: no error", c.out.Spec)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.out.Spec, err, w)
			}
		}
		if !strings.HasPrefix(err.Error(), "output ") {
			t.Errorf("%s: error %q does not name the output", c.out.Spec, err)
		}
	}
}

func TestSecretsNotInErrorsOrNames(t *testing.T) {
	_, err := New(Config{Outputs: []Output{{Spec: "https://u:hunter2@127.0.0.1/in?token=hunter2&mode=bogus"}},
		SpoolDir: t.TempDir(), Logger: quietLogger()})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks a secret or is missing: %v", err)
	}
}

func TestDuplicateOutputRefused(t *testing.T) {
	_, err := New(Config{Outputs: []Output{{Spec: "syslog+tcp://127.0.0.1:5514"}, {Spec: "syslog+tcp://127.0.0.1:5514?format=native"}},
		SpoolDir: t.TempDir(), Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "same destination") {
		t.Fatalf("duplicate output: %v", err)
	}
}

// TestUnreachableReceiverDoesNotFailStart: a receiver that is down at
// start is an outage, not a configuration error: records spool.
func TestUnreachableReceiverDoesNotFailStart(t *testing.T) {
	port := freePort(t)
	f, err := New(Config{Outputs: []Output{
		{Spec: "syslog+tcp://127.0.0.1:" + strconv.Itoa(port), Syslog: SyslogOptions{DialTimeout: time.Second}},
		{Spec: "http://127.0.0.1:" + strconv.Itoa(port) + "/in", HTTP: HTTPOptions{Backoff: fastBackoff()}},
	}, SpoolDir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatalf("New with a receiver down: %v", err)
	}
	for i := 0; i < 10; i++ {
		f.Send(seqRecord(i))
	}
	waitFor(t, "delivery attempts", 10*time.Second, func() bool {
		st := f.Stats()
		return st[0].Errors > 0 && st[1].Errors > 0 && st[0].SpoolRecords == 10 && st[1].SpoolRecords == 10
	})
	st := f.Stats()
	if !strings.Contains(st[0].LastError, "refused") || st[0].Dropped() != 0 {
		t.Errorf("stats %+v", st[0])
	}
	err = closeForwarder(t, f, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with undeliverable records: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "1K": 1024, "100MB": 100 << 20, "1GiB": 1 << 30, "5m": 5 << 20, "1T": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "x", "-1", "1P"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{"stdout", "file:/tmp/x?max_size=1M&keep=2", "syslog+tls://h:1?ca_file=x",
		"https://h/p?mode=chronicle&format=udm", "http://[::1]:80/x?y=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := parseOutput(Output{Spec: spec})
		if err == nil && (p.name == "" || p.id == "") {
			t.Fatalf("%q parsed without a name or id", spec)
		}
	})
}
