package pdns

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func mustName(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }

// response builds the answer to (qname, qtype) with the given records.
func response(t testing.TB, qname string, qtype dnsmessage.Type, build func(b *dnsmessage.Builder)) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true, RCode: dnsmessage.RCodeSuccess})
	b.EnableCompression()
	b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: mustName(qname), Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	b.StartAnswers()
	build(&b)
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func hdr(n string, ttl uint32) dnsmessage.ResourceHeader {
	return dnsmessage.ResourceHeader{Name: mustName(n), Class: dnsmessage.ClassINET, TTL: ttl}
}

// chainMsg is www -> cdn -> edge, edge A 192.0.2.1 and AAAA 2001:db8::1,
// and an A record for a name off the chain (which must not be believed).
func chainMsg(t testing.TB) []byte {
	return response(t, "WWW.Argus.Test.", dnsmessage.TypeA, func(b *dnsmessage.Builder) {
		b.CNAMEResource(hdr("www.argus.test.", 300), dnsmessage.CNAMEResource{CNAME: mustName("cdn.argus.test.")})
		b.CNAMEResource(hdr("cdn.argus.test.", 60), dnsmessage.CNAMEResource{CNAME: mustName("edge.argus.test.")})
		b.AResource(hdr("edge.argus.test.", 600), dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
		b.AAAAResource(hdr("edge.argus.test.", 30), dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::1").As16()})
		b.AResource(hdr("bank.example.", 600), dnsmessage.AResource{A: [4]byte{203, 0, 113, 9}})
	})
}

func TestParseChain(t *testing.T) {
	r, err := Parse(chainMsg(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 7 || r.Name != "www.argus.test" || r.Type != "A" || r.RCode != "NOERROR" || r.Partial || r.TC {
		t.Errorf("response %+v", r)
	}
	if len(r.Answers) != 5 || r.Answers[0] != (Answer{"www.argus.test", "CNAME", 300, "cdn.argus.test"}) ||
		r.Answers[3] != (Answer{"edge.argus.test", "AAAA", 30, "2001:db8::1"}) {
		t.Errorf("answers %+v", r.Answers)
	}
	want := []Resolved{{netip.MustParseAddr("192.0.2.1"), 60}, {netip.MustParseAddr("2001:db8::1"), 30}}
	if fmt.Sprint(r.Resolved) != fmt.Sprint(want) {
		t.Errorf("resolved %v, want %v (the chain's smallest TTL; bank.example is off the chain)", r.Resolved, want)
	}
}

func TestParseRefusals(t *testing.T) {
	q := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1})
	q.StartQuestions()
	q.Question(dnsmessage.Question{Name: mustName("a.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	query, _ := q.Finish()
	if _, err := Parse(query); !errors.Is(err, ErrNotResponse) {
		t.Errorf("query: %v", err)
	}
	nq := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1, Response: true})
	noQuestion, _ := nq.Finish()
	if _, err := Parse(noQuestion); !errors.Is(err, ErrNoQuestion) {
		t.Errorf("no question: %v", err)
	}
	for _, b := range [][]byte{nil, {0x12}, make([]byte, 11)} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
}

// TestParseBadInput: truncated answers, a compression pointer loop and an
// oversized label give a partial response or an error, never a panic.
func TestParseBadInput(t *testing.T) {
	full := chainMsg(t)
	// Cut in the middle of the answers, as the hook's copy bound does.
	r, err := Parse(full[:len(full)-20])
	if err != nil || !r.Partial || len(r.Answers) == 0 || len(r.Answers) >= 5 {
		t.Errorf("cut message: %+v %v", r, err)
	}
	// An answer whose name is a pointer to itself.
	loop := response(t, "a.test.", dnsmessage.TypeA, func(b *dnsmessage.Builder) {})
	loop[7] = 1 // ANCOUNT 1
	self := len(loop)
	loop = append(loop, 0xc0|byte(self>>8), byte(self), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
	if r, err := Parse(loop); err != nil || !r.Partial || len(r.Answers) != 0 {
		t.Errorf("pointer loop: %+v %v", r, err)
	}
	// A question whose label claims 70 bytes (the limit is 63).
	big := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 70}
	big = append(big, make([]byte, 80)...)
	if _, err := Parse(big); err == nil {
		t.Error("oversized label: no error")
	}
}

func TestParseBoundsAnswers(t *testing.T) {
	msg := response(t, "many.test.", dnsmessage.TypeA, func(b *dnsmessage.Builder) {
		for i := range 100 {
			b.AResource(hdr("many.test.", 60), dnsmessage.AResource{A: [4]byte{10, 0, byte(i >> 8), byte(i)}})
		}
	})
	r, err := Parse(msg)
	if err != nil || len(r.Answers) != MaxAnswers || len(r.Resolved) != MaxAnswers {
		t.Fatalf("%d answers, %d resolved: %v", len(r.Answers), len(r.Resolved), err)
	}
}

// FuzzParse: any bytes parse without a panic, and what parses keeps the
// bounds and the chain rule.
func FuzzParse(f *testing.F) {
	f.Add(chainMsg(f))
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1, 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 0xc0, 12})
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if r != nil {
				t.Fatal("a response with an error")
			}
			return
		}
		if len(r.Answers) > MaxAnswers || len(r.Resolved) > len(r.Answers) {
			t.Fatalf("%d answers, %d resolved", len(r.Answers), len(r.Resolved))
		}
		for _, res := range r.Resolved {
			if !res.Addr.IsValid() {
				t.Fatalf("invalid address in %+v", r.Resolved)
			}
		}
		c, _ := NewCache(4, 0)
		c.Add(r, 1, 1)
		if c.Len() > 4 {
			t.Fatalf("cache holds %d of 4", c.Len())
		}
	})
}

func TestCacheTTLAndProcess(t *testing.T) {
	c, err := NewCache(8, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Parse(chainMsg(t))
	const s = uint64(time.Second)
	c.Add(r, 100, 10*s)
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		addr netip.Addr
		at   uint64
		want string
	}{
		{v4, 10 * s, "www.argus.test"},
		{netip.MustParseAddr("::ffff:192.0.2.1"), 69 * s, "www.argus.test"}, // mapped, within 60 s
		{v4, 71 * s, ""},                                 // past the chain's 60 s
		{v6, 39 * s, "www.argus.test"},                   // AAAA's own 30 s
		{v6, 41 * s, ""},                                 // expired
		{netip.MustParseAddr("203.0.113.9"), 11 * s, ""}, // off the chain
	} {
		if got := c.Lookup(tc.addr, 0, tc.at); got != tc.want {
			t.Errorf("Lookup(%s at %ds) = %q, want %q", tc.addr, tc.at/s, got, tc.want)
		}
	}
	// Another process resolves another name to the same address: each
	// process gets its own; anyone else the most recent.
	other := response(t, "other.test.", dnsmessage.TypeA, func(b *dnsmessage.Builder) {
		b.AResource(hdr("other.test.", 300), dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
	})
	ro, _ := Parse(other)
	c.Add(ro, 200, 20*s)
	if got := c.Lookup(v4, 100, 21*s); got != "www.argus.test" {
		t.Errorf("process 100 gets %q", got)
	}
	if got := c.Lookup(v4, 200, 21*s); got != "other.test" {
		t.Errorf("process 200 gets %q", got)
	}
	if got := c.Lookup(v4, 300, 21*s); got != "other.test" {
		t.Errorf("another process gets %q, want the most recent", got)
	}
	// TTL 0: kept for the minimum.
	zero := response(t, "zero.test.", dnsmessage.TypeA, func(b *dnsmessage.Builder) {
		b.AResource(hdr("zero.test.", 0), dnsmessage.AResource{A: [4]byte{192, 0, 2, 77}})
	})
	rz, _ := Parse(zero)
	c.Add(rz, 0, 100*s)
	z := netip.MustParseAddr("192.0.2.77")
	if c.Lookup(z, 0, 100*s+s/2) != "zero.test" || c.Lookup(z, 0, 102*s) != "" {
		t.Error("a TTL 0 answer is not kept for exactly the minimum")
	}
}

func TestCacheBound(t *testing.T) {
	c, err := NewCache(100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		r := &Response{Name: fmt.Sprintf("h%d.test", i), Resolved: []Resolved{{netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 300}}}
		c.Add(r, 0, 1)
	}
	if c.Len() != 100 || c.Evicted() != 900 {
		t.Errorf("%d held, %d evicted; want 100 and 900", c.Len(), c.Evicted())
	}
	if got := c.Lookup(netip.AddrFrom4([4]byte{10, 1, 3, 231}), 0, 2); got != "h999.test" {
		t.Errorf("newest entry: %q", got)
	}
	// One address, many names: the four most recent stay.
	for i := range 10 {
		c.Add(&Response{Name: fmt.Sprintf("cdn%d.test", i), Resolved: []Resolved{{netip.MustParseAddr("10.2.0.1"), 300}}}, uint32(i+1), 1)
	}
	if c.Lookup(netip.MustParseAddr("10.2.0.1"), 2, 2) != "cdn9.test" || c.Lookup(netip.MustParseAddr("10.2.0.1"), 8, 2) != "cdn7.test" {
		t.Error("names per address not bounded to the most recent")
	}
}
