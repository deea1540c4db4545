package enrich

import (
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/pdns"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// dnsEv is the kernel's record of the answer c2.example A 192.0.2.1 (TTL
// 60) delivered to pid's socket at bootNs; owner says whether the kernel
// knew the socket's process.
func dnsEv(t *testing.T, pid uint32, start, bootNs uint64, owner bool) *sensor.DNS {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 9, Response: true})
	b.StartQuestions()
	name := dnsmessage.MustNewName("C2.Example.")
	b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	b.StartAnswers()
	b.AResource(dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	d := &sensor.DNS{
		Header: sensor.Header{Kind: sensor.KindDNS, BootNs: bootNs}, Protocol: unix.IPPROTO_UDP,
		Server: netip.MustParseAddrPort("10.0.0.53:53"), Client: netip.MustParseAddrPort("10.0.0.5:40000"),
		Message: msg, MsgLen: len(msg),
	}
	if owner {
		d.TID, d.TGID, d.Owner, d.OwnerStartNs, d.OwnerComm = pid, pid, true, start, "implant"
	}
	return d
}

// TestDNSNamesTheConnection: the answer a process received becomes a
// dns_query record naming that process, and its connection to the
// answered address carries the name, until the TTL runs out.
func TestDNSNamesTheConnection(t *testing.T) {
	cache, err := pdns.NewCache(16, 0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Hostname: "lab1", BootID: "0123456789abcdef", ProcRoot: t.TempDir(), DNSCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	e.handle(&sensor.Exec{Header: sensor.Header{Kind: sensor.KindExec, TID: 100, TGID: 100, BootNs: 6e9},
		Task: sensor.Task{StartNs: 6e9, UID: 1000, Comm: "implant"}, Path: "/tmp/implant", Args: []string{"implant"}}, nil)

	q := one(t, e.handle(dnsEv(t, 100, 6e9, 7e9, true), nil))
	d := q.DNS
	if q.Kind != event.KindDNSQuery || d == nil || d.Name != "c2.example" || d.Type != "A" || d.RCode != "NOERROR" ||
		d.ID != 9 || d.Transport != "udp" || d.ServerIP != "10.0.0.53" || d.ServerPort != 53 || d.ClientPort != 40000 ||
		len(d.Answers) != 1 || d.Answers[0] != (event.DNSAnswer{Name: "c2.example", Type: "A", TTL: 60, Data: "192.0.2.1"}) ||
		len(d.ResolvedIPs) != 1 || d.ResolvedIPs[0] != "192.0.2.1" {
		t.Fatalf("dns_query %+v", d)
	}
	if q.Process == nil || q.Process.PID != 100 || q.Process.Exe.Path != "/tmp/implant" {
		t.Errorf("querying process %+v", q.Process)
	}
	// connectEv connects at start + 5 s: 11 s, within the 60 s TTL.
	c := one(t, e.handle(connectEv(100, 6e9, "192.0.2.1:4444"), nil))
	if c.Network.DstHostname != "c2.example" {
		t.Errorf("connection within the TTL: dst_hostname %q", c.Network.DstHostname)
	}
	if c := one(t, e.handle(connectEv(100, 6e9, "192.0.2.9:4444"), nil)); c.Network.DstHostname != "" {
		t.Errorf("connection to another address: dst_hostname %q", c.Network.DstHostname)
	}
	late := connectEv(100, 6e9, "192.0.2.1:4444")
	late.BootNs = 68e9 // 61 s after the answer
	if c := one(t, e.handle(late, nil)); c.Network.DstHostname != "" {
		t.Errorf("connection past the TTL: dst_hostname %q", c.Network.DstHostname)
	}
	// Unknown owner: a record without process; garbage: counted only.
	if q := one(t, e.handle(dnsEv(t, 0, 0, 8e9, false), nil)); q.Process != nil {
		t.Errorf("unowned answer has process %+v", q.Process)
	}
	if out := e.handle(&sensor.DNS{Message: []byte{1, 2, 3}}, nil); len(out) != 0 {
		t.Errorf("garbage made %d records", len(out))
	}
	if st := e.Stats(); st.DNSResponses != 3 || st.DNSRecords != 2 || st.DNSParseErrors != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestDNSRecordsOff: without dns_query records the cache still learns.
func TestDNSRecordsOff(t *testing.T) {
	cache, _ := pdns.NewCache(16, 0)
	e, err := New(Options{Hostname: "lab1", ProcRoot: t.TempDir(), DNSCache: cache, NoDNSRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	if out := e.handle(dnsEv(t, 0, 0, 7e9, false), nil); len(out) != 0 {
		t.Fatalf("%d records with dns_query records off", len(out))
	}
	if c := one(t, e.handle(connectEv(100, 6e9, "192.0.2.1:4444"), nil)); c.Network.DstHostname != "c2.example" {
		t.Errorf("dst_hostname %q: another process's answer still names the address", c.Network.DstHostname)
	}
}
