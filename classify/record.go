package classify

import (
	"net/netip"

	"github.com/argus-sensor/argus-sensor/event"
)

// Classifier fills a record's classification fields.
type Classifier struct {
	Paths    *Paths
	Networks *Networks
}

func (c *Classifier) library(l *event.Library) {
	if l.PathClasses == nil && l.Path != "" {
		l.PathClasses = WithFS(c.Paths.Classes(l.Path, l.Memfd, l.Deleted), l.FSType)
	}
}

// Fill sets the path classes of the record's executable, script and
// libraries and
// the external flag of its destination, where they are not set already.
// Replayed telemetry recorded without them is classified the same way
// live events are.
func (c *Classifier) Fill(rec *event.Record) {
	if p := rec.Process; p != nil && c.Paths != nil {
		if p.Exe.PathClasses == nil && p.Exe.Path != "" {
			p.Exe.PathClasses = WithFS(c.Paths.Classes(p.Exe.Path, p.Exe.Memfd, p.Exe.Deleted), p.Exe.FSType)
		}
		if s := p.Script; s != nil && s.PathClasses == nil && s.Path != "" {
			s.PathClasses = c.Paths.Classes(s.Path, false, false)
		}
		for i := range p.Libraries {
			c.library(&p.Libraries[i])
		}
	}
	if l := rec.Library; l != nil && c.Paths != nil {
		c.library(l)
	}
	if n := rec.Network; n != nil && n.External == nil && c.Networks != nil {
		if a, err := netip.ParseAddr(n.DstIP); err == nil {
			ext := c.Networks.External(a)
			n.External = &ext
		}
	}
}
