package pdns

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Defaults for a Cache.
const (
	DefaultCacheSize = 16384
	// DefaultMinTTL is the least time an answer is kept: an answer with
	// a TTL of 0 (common behind load balancers) is used by its client at
	// once, and the connection that follows must still find its name.
	DefaultMinTTL = 5 * time.Second
	// namesPerAddr bounds the names kept for one address (a CDN address
	// serves many names): the most recent ones stay.
	namesPerAddr = 4
)

// Cache maps addresses to the names that resolved to them, for as long as
// each answer's TTL (at least MinTTL). Times are the records' own
// CLOCK_BOOTTIME stamps, so a stepped wall clock changes nothing. It is
// used from one goroutine.
type Cache struct {
	lru     *simplelru.LRU[netip.Addr, *names]
	size    int
	minTTL  uint64 // ns
	evicted uint64
}

type names struct {
	e [namesPerAddr]entry // most recent first; empty name: unused
}

type entry struct {
	name    string
	tgid    uint32 // the process that looked it up; 0 when unknown
	expires uint64 // CLOCK_BOOTTIME ns
}

// NewCache returns a cache of at most size addresses (DefaultCacheSize
// when size <= 0) keeping answers at least minTTL (DefaultMinTTL when
// minTTL <= 0).
func NewCache(size int, minTTL time.Duration) (*Cache, error) {
	if size <= 0 {
		size = DefaultCacheSize
	}
	if minTTL <= 0 {
		minTTL = DefaultMinTTL
	}
	c := &Cache{size: size, minTTL: uint64(minTTL)}
	lru, err := simplelru.NewLRU[netip.Addr, *names](size, func(netip.Addr, *names) { c.evicted++ })
	if err != nil {
		return nil, fmt.Errorf("create dns cache: %w", err)
	}
	c.lru = lru
	return c, nil
}

// Add remembers what r resolved: each address reached from the question's
// name maps to that name, for its TTL from atNs (CLOCK_BOOTTIME), as looked
// up by tgid (0 when unknown).
func (c *Cache) Add(r *Response, tgid uint32, atNs uint64) {
	if r == nil || r.Name == "" {
		return
	}
	for _, res := range r.Resolved {
		exp := atNs + max(uint64(res.TTL)*uint64(time.Second), c.minTTL)
		addr := res.Addr.Unmap()
		n, ok := c.lru.Get(addr)
		if !ok {
			n = &names{}
			c.lru.Add(addr, n)
		}
		n.put(entry{name: r.Name, tgid: tgid, expires: exp})
	}
}

// put makes e the most recent entry, replacing an entry of the same name.
func (n *names) put(e entry) {
	i := 0
	for ; i < len(n.e)-1; i++ {
		if n.e[i].name == e.name {
			break
		}
	}
	copy(n.e[1:i+1], n.e[:i])
	n.e[0] = e
}

// Lookup returns the name addr was resolved from as of atNs: the most
// recent unexpired one that process tgid looked up, else the most recent
// unexpired one any process did; "" when none.
func (c *Cache) Lookup(addr netip.Addr, tgid uint32, atNs uint64) string {
	n, ok := c.lru.Peek(addr.Unmap())
	if !ok {
		return ""
	}
	any := ""
	for _, e := range n.e {
		if e.name == "" || e.expires < atNs {
			continue
		}
		if tgid != 0 && e.tgid == tgid {
			return e.name
		}
		if any == "" {
			any = e.name
		}
	}
	return any
}

// Len is the number of addresses held.
func (c *Cache) Len() int { return c.lru.Len() }

// Max is the bound on Len.
func (c *Cache) Max() int { return c.size }

// Evicted counts addresses pushed out by the bound.
func (c *Cache) Evicted() uint64 { return c.evicted }
