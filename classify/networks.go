package classify

import (
	"fmt"
	"net/netip"
	"sync/atomic"
)

// Networks judges whether a destination is outside the host's networks.
// It is safe for concurrent use: the host address set is swapped whole.
type Networks struct {
	internal atomic.Pointer[[]netip.Prefix]
	host     atomic.Pointer[map[netip.Addr]struct{}]
}

// ParsePrefixes parses CIDRs (or single addresses) such as "100.64.0.0/10".
func ParsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("internal network %q: want a CIDR such as 10.0.0.0/8 or an address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// NewNetworks returns a classifier with extra internal ranges (corporate
// ranges, 100.64.0.0/10, ...) on top of the built-in ones.
func NewNetworks(extraInternal []netip.Prefix) *Networks {
	n := &Networks{}
	n.SetInternal(extraInternal)
	empty := map[netip.Addr]struct{}{}
	n.host.Store(&empty)
	return n
}

// SetInternal replaces the configured internal ranges.
func (n *Networks) SetInternal(extra []netip.Prefix) {
	cp := append([]netip.Prefix(nil), extra...)
	n.internal.Store(&cp)
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	broadcast   = netip.MustParseAddr("255.255.255.255")
)

// External reports whether a is outside loopback, private, link-local,
// multicast, broadcast and unspecified space, the host's own addresses and
// the configured internal ranges. An invalid address is not external.
func (n *Networks) External(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || builtinInternal(a) {
		return false
	}
	if _, ok := (*n.host.Load())[a]; ok {
		return false
	}
	for _, p := range *n.internal.Load() {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func builtinInternal(a netip.Addr) bool {
	switch {
	case a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsMulticast(), a.IsUnspecified():
		// IsPrivate covers RFC 1918 and IPv6 ULA (fc00::/7).
		return true
	case a.Is4() && (thisNetwork.Contains(a) || a == broadcast):
		return true
	}
	return false
}

// SetHostAddrs replaces the host's own addresses.
func (n *Networks) SetHostAddrs(addrs []netip.Addr) {
	set := make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range addrs {
		set[a.Unmap()] = struct{}{}
	}
	n.host.Store(&set)
}

// HostAddrs returns the host addresses currently known.
func (n *Networks) HostAddrs() []netip.Addr {
	set := *n.host.Load()
	out := make([]netip.Addr, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	return out
}
