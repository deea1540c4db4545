package snapshot

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ProcConnections reads the same connections as Connections from the
// /proc/<pid>/net/{tcp,tcp6,udp,udp6} tables of a process in the network
// namespace wanted. It needs no privilege (sock_diag in another namespace
// needs setns, which needs CAP_SYS_ADMIN), at the cost of parsing text.
func ProcConnections(root string, pid uint32) ([]Conn, error) {
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10), "net")
	listening := map[uint16]bool{}
	var conns []Conn
	for _, t := range []struct {
		file     string
		family   uint8
		protocol uint8
	}{
		{"tcp", unix.AF_INET, unix.IPPROTO_TCP}, {"tcp6", unix.AF_INET6, unix.IPPROTO_TCP},
		{"udp", unix.AF_INET, unix.IPPROTO_UDP}, {"udp6", unix.AF_INET6, unix.IPPROTO_UDP},
	} {
		f, err := os.Open(filepath.Join(dir, t.file))
		if err != nil {
			if os.IsNotExist(err) {
				continue // IPv6 disabled
			}
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, t.file), err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			c, ok := parseProcNetLine(sc.Text(), t.family, t.protocol)
			if !ok {
				continue
			}
			switch {
			case c.Protocol == unix.IPPROTO_TCP && c.State == tcpListen:
				listening[c.Src.Port()] = true
			case c.State == tcpEstablished || (c.Protocol == unix.IPPROTO_TCP && c.State == tcpSynSent):
				conns = append(conns, c)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	out := conns[:0]
	for _, c := range conns {
		if c.Protocol == unix.IPPROTO_TCP && listening[c.Src.Port()] {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// parseProcNetLine decodes one row: "sl local rem st txq:rxq tr:when
// retrnsmt uid timeout inode ...". Addresses are hex in the kernel's
// native byte order per 32-bit word; ports are hex in host order.
func parseProcNetLine(line string, family, protocol uint8) (Conn, bool) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return Conn{}, false
	}
	src, ok1 := parseHexAddrPort(f[1])
	dst, ok2 := parseHexAddrPort(f[2])
	st, err1 := strconv.ParseUint(f[3], 16, 8)
	uid, err2 := strconv.ParseUint(f[7], 10, 32)
	ino, err3 := strconv.ParseUint(f[9], 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil {
		return Conn{}, false
	}
	return Conn{Family: family, Protocol: protocol, State: uint8(st), Src: src, Dst: dst, UID: uint32(uid), Inode: ino}, true
}

func parseHexAddrPort(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	// The kernel printed each 32-bit word of the address as an integer
	// read in its native byte order: the hex digits are that integer, so
	// writing it back natively restores the address bytes.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), true
}
