// Package pdns is passive DNS: it reads the DNS responses the sensor's
// kernel hook copied as they were delivered to processes on the host, and
// remembers which names the answered addresses belong to, so a connection
// to an address can carry the name the process looked up. It never
// resolves anything itself.
//
// Parse reads a response with golang.org/x/net/dns/dnsmessage: the
// question, the answers (bounded), the response code, and the addresses
// the question's name reached through its CNAME chain. A message cut by
// the hook's copy bound, or malformed after its question, yields what
// parsed before the cut, marked Partial.
//
// Cache maps an address to the names whose A/AAAA/CNAME chains gave it,
// each until its TTL runs out, in a bounded LRU (hashicorp/golang-lru):
// the least recently answered addresses are evicted first, and counted.
package pdns

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// MaxAnswers bounds the answers Parse keeps from one message.
const MaxAnswers = 32

// maxChain bounds the CNAME hops followed from the question's name.
const maxChain = 8

// Answer is one resource record of the answer section.
type Answer struct {
	Name string // owner name, lowercase, without the final dot
	Type string // "A", "AAAA", "CNAME", ..., or "TYPE<n>"
	TTL  uint32
	// Data is the record's value as text: an address, a target name, an
	// MX's "preference host", a TXT's strings; empty for types not read.
	Data string
}

// Resolved is an address the question's name reached, and how long the
// answer holds: the smallest TTL along its chain.
type Resolved struct {
	Addr netip.Addr
	TTL  uint32
}

// Response is a parsed DNS response.
type Response struct {
	ID    uint16
	Name  string // the question's name, lowercase, without the final dot
	Type  string // the question's type
	RCode string // "NOERROR", "NXDOMAIN", "SERVFAIL", ..., or "RCODE<n>"
	// TC is the server's truncation bit: the answer did not fit.
	TC      bool
	Answers []Answer
	// Resolved are the A and AAAA data reached from Name through its
	// CNAME chain (records for other names are not believed).
	Resolved []Resolved
	// Partial means the message ended or went wrong after the question:
	// Answers holds what parsed before that.
	Partial bool
}

// Errors returned by Parse.
var (
	ErrNotResponse = errors.New("not a DNS response")
	ErrNoQuestion  = errors.New("no question")
)

// Parse reads a DNS response. It returns an error when the header or the
// question cannot be read, or the message is a query; a failure after that
// gives a Partial response. It never panics.
func Parse(msg []byte) (*Response, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, fmt.Errorf("parse dns header: %w", err)
	}
	if !h.Response {
		return nil, ErrNotResponse
	}
	q, err := p.Question()
	if err != nil {
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return nil, ErrNoQuestion
		}
		return nil, fmt.Errorf("parse dns question: %w", err)
	}
	r := &Response{ID: h.ID, Name: name(q.Name), Type: typeName(q.Type), RCode: rcodeName(h.RCode), TC: h.Truncated}
	if err := p.SkipAllQuestions(); err != nil {
		r.Partial = true
		return r, nil
	}
	for len(r.Answers) < MaxAnswers {
		a, ok, err := answer(&p)
		if err != nil {
			r.Partial = true
			break
		}
		if !ok {
			break
		}
		r.Answers = append(r.Answers, a)
	}
	r.Resolved = chain(r.Name, r.Answers)
	return r, nil
}

// answer reads the next answer record; ok is false past the last.
func answer(p *dnsmessage.Parser) (a Answer, ok bool, err error) {
	h, err := p.AnswerHeader()
	if errors.Is(err, dnsmessage.ErrSectionDone) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	a = Answer{Name: name(h.Name), Type: typeName(h.Type), TTL: h.TTL}
	switch h.Type {
	case dnsmessage.TypeA:
		r, err := p.AResource()
		if err != nil {
			return a, false, err
		}
		a.Data = netip.AddrFrom4(r.A).String()
	case dnsmessage.TypeAAAA:
		r, err := p.AAAAResource()
		if err != nil {
			return a, false, err
		}
		a.Data = netip.AddrFrom16(r.AAAA).String()
	case dnsmessage.TypeCNAME:
		r, err := p.CNAMEResource()
		if err != nil {
			return a, false, err
		}
		a.Data = name(r.CNAME)
	case dnsmessage.TypePTR:
		r, err := p.PTRResource()
		if err != nil {
			return a, false, err
		}
		a.Data = name(r.PTR)
	case dnsmessage.TypeNS:
		r, err := p.NSResource()
		if err != nil {
			return a, false, err
		}
		a.Data = name(r.NS)
	case dnsmessage.TypeMX:
		r, err := p.MXResource()
		if err != nil {
			return a, false, err
		}
		a.Data = strconv.Itoa(int(r.Pref)) + " " + name(r.MX)
	case dnsmessage.TypeTXT:
		r, err := p.TXTResource()
		if err != nil {
			return a, false, err
		}
		a.Data = strings.Join(r.TXT, " ")
	default:
		if err := p.SkipAnswer(); err != nil {
			return a, false, err
		}
	}
	return a, true, nil
}

// chain follows the question's name through the CNAME answers and returns
// the addresses of the names it reaches, each with the smallest TTL on the
// way to it.
func chain(q string, answers []Answer) []Resolved {
	ttl := map[string]uint32{q: ^uint32(0)}
	cur := q
	for range maxChain {
		next := ""
		for _, a := range answers {
			if a.Type == "CNAME" && a.Name == cur {
				next = a.Data
				if _, seen := ttl[next]; !seen {
					ttl[next] = min(ttl[cur], a.TTL)
				}
				break
			}
		}
		if next == "" || next == cur {
			break
		}
		cur = next
	}
	var out []Resolved
	for _, a := range answers {
		if a.Type != "A" && a.Type != "AAAA" {
			continue
		}
		t, ok := ttl[a.Name]
		if !ok {
			continue
		}
		addr, err := netip.ParseAddr(a.Data)
		if err != nil {
			continue
		}
		out = append(out, Resolved{Addr: addr, TTL: min(t, a.TTL)})
	}
	return out
}

// name is a DNS name as records carry it: ASCII lowercased, without the
// final dot ("." stays the root).
func name(n dnsmessage.Name) string {
	s := n.String()
	if len(s) > 1 {
		s = strings.TrimSuffix(s, ".")
	}
	return strings.ToLower(s)
}

func typeName(t dnsmessage.Type) string {
	s := t.String()
	if rest, ok := strings.CutPrefix(s, "Type"); ok {
		return rest
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(int(c))
}
