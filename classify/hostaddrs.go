package classify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// AddrWatcher keeps a Networks' host address set current from rtnetlink.
type AddrWatcher struct {
	conn  *netlink.Conn
	nets  *Networks
	log   *slog.Logger
	addrs map[addrKey]netip.Addr
}

// addrKey identifies one address on one interface: the same address can
// sit on two interfaces, and removing it from one must not forget it.
type addrKey struct {
	index uint32
	addr  netip.Addr
}

// WatchAddrs dumps the addresses of the network namespace netns (0 for
// the sensor's own) into nets and subscribes to changes. Call Run to keep
// following them.
func WatchAddrs(nets *Networks, netns int, log *slog.Logger) (*AddrWatcher, error) {
	if log == nil {
		log = slog.Default()
	}
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{
		Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR,
		NetNS:  netns,
	})
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	w := &AddrWatcher{conn: conn, nets: nets, log: log, addrs: map[addrKey]netip.Addr{}}
	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfAddrmsg),
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dump host addresses: %w", err)
	}
	for _, m := range msgs {
		w.apply(m)
	}
	w.publish()
	return w, nil
}

// Run follows address changes until ctx is done or the socket fails.
func (w *AddrWatcher) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { w.conn.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		msgs, err := w.conn.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			// ENOBUFS: notifications were dropped. Re-dump so the set is
			// right again, rather than carry on with a stale one.
			if errors.Is(err, unix.ENOBUFS) {
				w.log.Warn("host address notifications overflowed: re-reading addresses")
				if err := w.redump(); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("receive address changes: %w", err)
		}
		for _, m := range msgs {
			w.apply(m)
		}
		w.publish()
	}
}

func (w *AddrWatcher) redump() error {
	msgs, err := w.conn.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfAddrmsg),
	})
	if err != nil {
		return fmt.Errorf("dump host addresses: %w", err)
	}
	w.addrs = map[addrKey]netip.Addr{}
	for _, m := range msgs {
		w.apply(m)
	}
	w.publish()
	return nil
}

// Close releases the netlink socket.
func (w *AddrWatcher) Close() error { return w.conn.Close() }

// apply records one RTM_NEWADDR or RTM_DELADDR message.
func (w *AddrWatcher) apply(m netlink.Message) {
	if m.Header.Type != unix.RTM_NEWADDR && m.Header.Type != unix.RTM_DELADDR {
		return
	}
	addrs, index, err := parseIfAddr(m.Data)
	if err != nil {
		w.log.Warn("skip malformed address message", "err", err)
		return
	}
	for _, a := range addrs {
		k := addrKey{index: index, addr: a}
		if m.Header.Type == unix.RTM_NEWADDR {
			w.addrs[k] = a
		} else {
			delete(w.addrs, k)
		}
	}
}

func (w *AddrWatcher) publish() {
	out := make([]netip.Addr, 0, len(w.addrs))
	for _, a := range w.addrs {
		out = append(out, a)
	}
	w.nets.SetHostAddrs(out)
}

// parseIfAddr decodes an ifaddrmsg and its attributes into the addresses
// that are "this host" as a destination: the local address and the IPv4
// broadcast address. IFA_LOCAL is the local address where it is present;
// IFA_ADDRESS is then the peer of a point-to-point link, which is not this
// host. Without IFA_LOCAL (IPv6, most IPv4) IFA_ADDRESS is the local one.
func parseIfAddr(b []byte) ([]netip.Addr, uint32, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return nil, 0, fmt.Errorf("parse ifaddrmsg: %d bytes, need %d", len(b), unix.SizeofIfAddrmsg)
	}
	index := binary.NativeEndian.Uint32(b[4:8])
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return nil, 0, fmt.Errorf("parse ifaddrmsg attributes: %w", err)
	}
	var out []netip.Addr
	var address, local netip.Addr
	for ad.Next() {
		a, ok := netip.AddrFromSlice(ad.Bytes())
		if !ok {
			continue
		}
		switch ad.Type() {
		case unix.IFA_ADDRESS:
			address = a
		case unix.IFA_LOCAL:
			local = a
		case unix.IFA_BROADCAST:
			out = append(out, a)
		}
	}
	if err := ad.Err(); err != nil {
		return nil, 0, fmt.Errorf("parse ifaddrmsg attributes: %w", err)
	}
	switch {
	case local.IsValid():
		out = append(out, local)
	case address.IsValid():
		out = append(out, address)
	}
	// The subnet's directed broadcast address, which the kernel routes as
	// broadcast whether or not the address was added with "brd".
	if prefixLen := int(b[1]); len(out) > 0 && out[len(out)-1].Is4() && prefixLen < 31 {
		a := out[len(out)-1].As4()
		v := binary.BigEndian.Uint32(a[:]) | (1<<(32-prefixLen) - 1)
		binary.BigEndian.PutUint32(a[:], v)
		out = append(out, netip.AddrFrom4(a))
	}
	return out, index, nil
}
