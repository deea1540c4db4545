package sensor

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// answer builds the response to query: one A record (192.0.2.1) per name,
// or for a name starting "big." 60 of them, which makes the message longer
// than the hook copies.
func answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	n := 1
	if strings.HasPrefix(q.Name.String(), "big.") {
		n = 60
	}
	for i := range n {
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300},
			dnsmessage.AResource{A: [4]byte{192, 0, 2, byte(1 + i)}})
	}
	return b.Finish()
}

// dnsServerAddr is where serveDNS answers: a loopback address of its own
// (127.0.0.0/8 is all local), so it takes port 53 from no resolver the
// host runs, and the test needs no network namespace (the kernel matrix
// guests have no ip netns; the agent tests cover namespaces).
const dnsServerAddr = "127.83.0.53"

// serveDNS answers queries on dnsServerAddr:53 over UDP and TCP (each TCP
// answer written in one segment, its length prefix included).
func serveDNS(t *testing.T) {
	t.Helper()
	pc, err := net.ListenPacket("udp", dnsServerAddr+":53")
	if err != nil {
		t.Fatalf("DNS server: %v", err)
	}
	l, err := net.Listen("tcp", dnsServerAddr+":53")
	if err != nil {
		pc.Close()
		t.Fatalf("DNS server: %v", err)
	}
	t.Cleanup(func() { pc.Close(); l.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := answer(buf[:k]); err == nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	go serveTCPDNS(l, false)
}

// serveTCPDNS answers each DNS query on l's connections, its length prefix
// and message in one segment, or with split in two (the prefix alone,
// then the message 50 ms later), until l is closed.
func serveTCPDNS(l net.Listener, split bool) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var pfx [2]byte
			if _, err := io.ReadFull(c, pfx[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(pfx[:]))
			if _, err := io.ReadFull(c, q); err != nil {
				return
			}
			resp, err := answer(q)
			if err != nil {
				return
			}
			prefix := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
			if split {
				c.(*net.TCPConn).SetNoDelay(true) // Go's default, said: no Nagle merging
				c.Write(prefix)
				time.Sleep(50 * time.Millisecond) // a segment of its own
				c.Write(resp)
			} else {
				c.Write(append(prefix, resp...))
			}
			io.Copy(io.Discard, c)
		}()
	}
}

// TestDNSResponses: answers delivered to a process are copied with the
// querying process, over a connected UDP socket, an unconnected one and
// TCP; a long answer is cut at the bound and says so.
func TestDNSResponses(t *testing.T) {
	s, h := startSensor(t)
	if on, err := s.DNSCapture(); !on {
		t.Fatalf("DNS response hook not attached: %v", err)
	}
	serveDNS(t)
	bin, _ := testBinary(t)
	server := netip.MustParseAddrPort(dnsServerAddr + ":53")
	for _, tc := range []struct {
		mode, name string
		proto      uint16
		truncated  bool
	}{
		{"udp", "c2.argus.test", unix.IPPROTO_UDP, false},
		{"udp-sendto", "sendto.argus.test", unix.IPPROTO_UDP, false},
		{"tcp", "tcp.argus.test", unix.IPPROTO_TCP, false},
		{"udp", "big.argus.test", unix.IPPROTO_UDP, true},
	} {
		t.Run(tc.mode+"/"+tc.name, func(t *testing.T) {
			w := h.subscribe(func(ev Event) bool {
				d, ok := ev.(*DNS)
				return ok && d.Server == server && strings.Contains(string(d.Message), strings.Split(tc.name, ".")[0])
			})
			defer w.stop()
			cmd := helperCmd(bin, "dns-query", tc.mode, server.String(), tc.name)
			cmd.Stderr = nil
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("query: %v: %s", err, out)
			}
			d := w.next(t, "DNS response for "+tc.name).(*DNS)
			if !d.Owner || d.TGID != uint32(cmd.Process.Pid) {
				t.Errorf("owner %v tgid %d comm %q, want the helper's pid %d", d.Owner, d.TGID, d.OwnerComm, cmd.Process.Pid)
			}
			if d.Protocol != tc.proto || !d.Client.Addr().IsLoopback() || d.Client.Port() == 0 {
				t.Errorf("protocol %d client %s", d.Protocol, d.Client)
			}
			var p dnsmessage.Parser
			hdr, err := p.Start(d.Message)
			if err != nil || hdr.ID != 0x4242 || !hdr.Response {
				t.Fatalf("message header %+v: %v", hdr, err)
			}
			q, err := p.Question()
			if err != nil || q.Name.String() != tc.name+"." {
				t.Errorf("question %v: %v", q.Name, err)
			}
			if d.Truncated != tc.truncated || (tc.truncated && (len(d.Message) != DNSPayloadMax || d.MsgLen <= DNSPayloadMax)) ||
				(!tc.truncated && len(d.Message) != d.MsgLen) {
				t.Errorf("truncated %v, %d bytes copied of %d", d.Truncated, len(d.Message), d.MsgLen)
			}
		})
	}
}

// TestDNSSplitTCPAnswerCounted: an implant author's resolver can write a
// TCP answer in two segments (the length prefix, then the message), which
// the hook does not reassemble. That answer gives no DNS record, so the
// connection that follows has no dst_hostname; but it is not silent:
// both segments are counted in DNSSkipped (argus_dns_skipped_total).
func TestDNSSplitTCPAnswerCounted(t *testing.T) {
	s, h := startSensor(t)
	if on, err := s.DNSCapture(); !on {
		t.Fatalf("DNS response hook not attached: %v", err)
	}
	const addr = "127.83.0.54:53"
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("DNS server: %v", err)
	}
	defer l.Close()
	go serveTCPDNS(l, true)
	before, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	w := h.subscribe(func(ev Event) bool {
		d, ok := ev.(*DNS)
		return ok && strings.Contains(string(d.Message), "split")
	})
	defer w.stop()
	bin, _ := testBinary(t)
	cmd := helperCmd(bin, "dns-query", "tcp", addr, "split.argus.test")
	cmd.Stderr = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("query: %v: %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if after.DNSSkipped-before.DNSSkipped >= 2 {
			t.Logf("skipped %d segments", after.DNSSkipped-before.DNSSkipped)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DNSSkipped went from %d to %d, want both segments of the split answer counted", before.DNSSkipped, after.DNSSkipped)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case ev := <-w.ch:
		t.Errorf("a split answer was copied: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}
