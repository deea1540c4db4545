package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Conn is an open outbound connection found with sock_diag.
type Conn struct {
	Family   uint8 // unix.AF_INET or unix.AF_INET6
	Protocol uint8 // unix.IPPROTO_TCP or unix.IPPROTO_UDP
	State    uint8 // TCP state (TCP_ESTABLISHED, TCP_SYN_SENT)
	Src, Dst netip.AddrPort
	Inode    uint64
	UID      uint32
}

// TCP states, as in include/net/tcp_states.h.
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpListen      = 10
)

const (
	sockDiagByFamily = 20
	sizeofDiagReq    = 56
	sizeofDiagMsg    = 72
)

// ConnectionsOf returns the outbound connections of the network namespace
// process pid is in, and says how they were read. In the sensor's own
// namespace sock_diag needs no privilege beyond reading; another namespace
// needs setns, hence CAP_SYS_ADMIN, and without it the process's
// /proc/<pid>/net tables give the same connections.
func ConnectionsOf(root string, pid uint32) ([]Conn, string, error) {
	nsPath := filepath.Join(root, strconv.FormatUint(uint64(pid), 10), "ns", "net")
	var own, other unix.Stat_t
	if unix.Stat(filepath.Join(root, "self", "ns", "net"), &own) == nil && unix.Stat(nsPath, &other) == nil &&
		own.Ino == other.Ino && own.Dev == other.Dev {
		nsPath = ""
	}
	conns, err := Connections(nsPath)
	if err == nil {
		return conns, "sock_diag", nil
	}
	if nsPath == "" || !errors.Is(err, unix.EPERM) {
		return nil, "", err
	}
	conns, perr := ProcConnections(root, pid)
	if perr != nil {
		return nil, "", errors.Join(err, perr)
	}
	return conns, "procfs", nil
}

// Connections dumps the outbound TCP connections (SYN-SENT, ESTABLISHED)
// and connected UDP sockets of the network namespace at nsPath ("" for the
// caller's own). Accepted TCP connections, whose local port has a listener,
// are left out: they were not connected from here.
func Connections(nsPath string) ([]Conn, error) {
	cfg := &netlink.Config{}
	if nsPath != "" {
		f, err := os.Open(nsPath)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
		}
		defer f.Close()
		cfg.NetNS = int(f.Fd())
	}
	c, err := netlink.Dial(unix.NETLINK_INET_DIAG, cfg)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag: %w", err)
	}
	defer c.Close()

	listening := map[uint16]bool{}
	var conns []Conn
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		ls, err := dump(c, family, unix.IPPROTO_TCP, 1<<tcpListen)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			listening[l.Src.Port()] = true
		}
		tcp, err := dump(c, family, unix.IPPROTO_TCP, 1<<tcpEstablished|1<<tcpSynSent)
		if err != nil {
			return nil, err
		}
		udp, err := dump(c, family, unix.IPPROTO_UDP, 1<<tcpEstablished)
		if err != nil {
			return nil, err
		}
		conns = append(conns, tcp...)
		conns = append(conns, udp...)
	}
	out := conns[:0]
	for _, cn := range conns {
		if cn.Protocol == unix.IPPROTO_TCP && listening[cn.Src.Port()] {
			continue
		}
		out = append(out, cn)
	}
	return out, nil
}

func dump(c *netlink.Conn, family, protocol uint8, states uint32) ([]Conn, error) {
	req := make([]byte, sizeofDiagReq)
	req[0], req[1] = family, protocol
	binary.NativeEndian.PutUint32(req[4:8], states)
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump},
		Data:   req,
	})
	if err != nil {
		return nil, fmt.Errorf("dump sockets (family %d, protocol %d): %w", family, protocol, err)
	}
	var out []Conn
	for _, m := range msgs {
		if cn, ok := parseDiagMsg(m.Data, protocol); ok {
			out = append(out, cn)
		}
	}
	return out, nil
}

// parseDiagMsg decodes an inet_diag_msg. Ports and addresses in its
// socket id are in network byte order.
func parseDiagMsg(b []byte, protocol uint8) (Conn, bool) {
	if len(b) < sizeofDiagMsg {
		return Conn{}, false
	}
	cn := Conn{Family: b[0], State: b[1], Protocol: protocol}
	sport := binary.BigEndian.Uint16(b[4:6])
	dport := binary.BigEndian.Uint16(b[6:8])
	var src, dst netip.Addr
	switch cn.Family {
	case unix.AF_INET:
		src = netip.AddrFrom4([4]byte(b[8:12]))
		dst = netip.AddrFrom4([4]byte(b[24:28]))
	case unix.AF_INET6:
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return Conn{}, false
	}
	cn.Src, cn.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	cn.UID = binary.NativeEndian.Uint32(b[64:68])
	cn.Inode = uint64(binary.NativeEndian.Uint32(b[68:72]))
	return cn, true
}
