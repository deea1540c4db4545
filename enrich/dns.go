package enrich

import (
	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/pdns"
	"github.com/argus-sensor/argus-sensor/sensor"
)

// dns learns the names a DNS response resolved (the cache behind
// network.dst_hostname) and, unless dns_query records are off, makes the
// record of it, with the querying process when the kernel knew it.
func (e *Enricher) dns(v *sensor.DNS, out []Item) []Item {
	e.stats.DNSResponses++
	if v.Truncated {
		e.stats.DNSTruncated++
	}
	r, err := pdns.Parse(v.Message)
	if err != nil {
		e.stats.DNSParseErrors++
		return out
	}
	if e.opts.DNSCache != nil {
		e.opts.DNSCache.Add(r, v.TGID, v.BootNs)
	}
	if e.opts.NoDNSRecords {
		return out
	}
	e.stats.DNSRecords++
	rec := e.newRecord(event.KindDNSQuery, &v.Header)
	rec.DNS = dnsRecord(v, r)
	it := Item{Rec: rec}
	if v.Owner {
		p := e.lookup(v.TGID, v.OwnerStartNs, 0)
		if p == nil {
			p = &Proc{PID: v.TGID, StartNs: v.OwnerStartNs, Comm: v.OwnerComm, Source: SourceKernel}
			e.add(p)
		}
		t := sensor.Task{StartNs: v.OwnerStartNs, PPID: p.PPID, UID: p.UID, GID: p.GID, EUID: p.UID, EGID: p.GID,
			AUID: 0xffffffff, Comm: v.OwnerComm}
		rec.Process = e.process(p, &t, v.TID, p.Exe, "")
		it.proc = p
	}
	return append(out, it)
}

func dnsRecord(v *sensor.DNS, r *pdns.Response) *event.DNS {
	d := &event.DNS{
		ID: r.ID, Name: r.Name, Type: r.Type, RCode: r.RCode,
		Transport: "udp", ServerIP: v.Server.Addr().String(), ServerPort: v.Server.Port(),
		ClientIP: v.Client.Addr().String(), ClientPort: v.Client.Port(),
		ServerTruncated: r.TC, Truncated: v.Truncated, Partial: r.Partial,
	}
	if v.Protocol == unix.IPPROTO_TCP {
		d.Transport = "tcp"
	}
	for _, a := range r.Answers {
		d.Answers = append(d.Answers, event.DNSAnswer{Name: a.Name, Type: a.Type, TTL: a.TTL, Data: a.Data})
	}
	for _, res := range r.Resolved {
		d.ResolvedIPs = append(d.ResolvedIPs, res.Addr.String())
	}
	return d
}

// dstHostname is the name the connecting process (or else any) resolved
// the destination from, within its TTL.
func (e *Enricher) dstHostname(v *sensor.Connect) string {
	if e.opts.DNSCache == nil {
		return ""
	}
	return e.opts.DNSCache.Lookup(v.Dst.Addr(), v.TGID, v.BootNs)
}
