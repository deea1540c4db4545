package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// Syslog defaults.
const (
	DefaultSyslogFacility = 16 // local0
	DefaultMaxUDPBytes    = 8192
	syslogAppName         = "argus-sensor"
)

// syslogSink sends RFC 5424 messages: one datagram each over UDP, or
// octet-counted (RFC 6587 3.4.1) over TCP and TLS. The spool holds whole
// messages, so what is retried after a restart carries its original
// header.
type syslogSink struct {
	network string // "udp", "tcp" or "tls"
	addr    string
	tls     *tls.Config
	dialTO  time.Duration
	writeTO time.Duration
	conn    net.Conn
	buf     []byte
	probe   [1]byte
}

func newSyslogSink(p *parsedOutput) (*syslogSink, error) {
	o := p.Syslog
	s := &syslogSink{addr: p.addr, dialTO: o.DialTimeout, writeTO: o.WriteTimeout}
	if s.dialTO <= 0 {
		s.dialTO = 5 * time.Second
	}
	if s.writeTO <= 0 {
		s.writeTO = 10 * time.Second
	}
	switch p.kind {
	case kindSyslogUDP:
		s.network = "udp"
	case kindSyslogTCP:
		s.network = "tcp"
	case kindSyslogTLS:
		s.network = "tls"
		cfg, err := tlsConfig(o.TLS, p.host)
		if err != nil {
			return nil, err
		}
		s.tls = cfg
	}
	return s, nil
}

// syslogEnvelope builds the RFC 5424 message for a record:
//
//	<PRI>1 TIMESTAMP HOSTNAME argus-sensor PID KIND - JSON
//
// with the record's own time and host, so a message spooled during an
// outage is dated when it happened, not when it was sent.
func syslogEnvelope(p *parsedOutput) func([]byte, *event.Record, []byte) ([]byte, bool) {
	fac := p.Syslog.Facility
	if fac <= 0 {
		fac = DefaultSyslogFacility
	}
	maxUDP := 0
	if p.kind == kindSyslogUDP {
		maxUDP = p.Syslog.MaxUDPBytes
		if maxUDP <= 0 {
			maxUDP = DefaultMaxUDPBytes
		}
	}
	procID := strconv.Itoa(os.Getpid())
	return func(b []byte, r *event.Record, msg []byte) ([]byte, bool) {
		b = append(b, '<')
		b = strconv.AppendInt(b, int64(fac*8+syslogSeverity(r)), 10)
		b = append(b, ">1 "...)
		b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
		b = append(b, ' ')
		b = appendHeaderField(b, r.Host.Hostname, 255)
		b = append(b, ' ')
		b = append(b, syslogAppName...)
		b = append(b, ' ')
		b = append(b, procID...)
		b = append(b, ' ')
		b = appendHeaderField(b, string(r.Kind), 32)
		b = append(b, " - "...)
		b = append(b, msg...)
		if maxUDP > 0 && len(b) > maxUDP {
			return b, false
		}
		return b, true
	}
}

// appendHeaderField writes an RFC 5424 header field: printable US-ASCII
// without spaces, at most max characters, "-" when empty.
func appendHeaderField(b []byte, s string, max int) []byte {
	n := 0
	for i := 0; i < len(s) && n < max; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b = append(b, c)
			n++
		}
	}
	if n == 0 {
		b = append(b, '-')
	}
	return b
}

// syslogSeverity maps a record to an RFC 5424 severity: detections by
// their UDM severity, a sensor that lost events as a warning, the rest
// informational.
func syslogSeverity(r *event.Record) int {
	if d := r.Detection; d != nil {
		switch d.Severity {
		case "CRITICAL":
			return 2
		case "HIGH":
			return 3
		case "MEDIUM":
			return 4
		case "LOW":
			return 5
		}
		return 6
	}
	if h := r.Health; h != nil {
		if h.EventsLost > 0 || h.EventsDropped > 0 {
			return 4
		}
		if h.State == "stopped" {
			return 5
		}
	}
	return 6
}

func (s *syslogSink) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: s.dialTO}
	var err error
	switch s.network {
	case "tls":
		td := tls.Dialer{NetDialer: &d, Config: s.tls}
		s.conn, err = td.DialContext(ctx, "tcp", s.addr)
	default:
		s.conn, err = d.DialContext(ctx, s.network, s.addr)
	}
	if err != nil {
		return fmt.Errorf("connect %s: %w", s.addr, err)
	}
	return nil
}

// alive reports whether a stream connection is still open. Syslog
// receivers never write back, so a read that returns anything but a
// timeout means the peer closed or reset: sending on would put records
// into a socket nobody reads, and they would be acknowledged and lost.
func (s *syslogSink) alive() bool {
	s.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := s.conn.Read(s.probe[:])
	s.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *syslogSink) deliver(ctx context.Context, recs [][]byte) (int, error) {
	if s.conn != nil && s.network != "udp" && !s.alive() {
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return 0, err
		}
	}
	conn := s.conn
	conn.SetWriteDeadline(time.Now().Add(s.writeTO))
	// A receiver that stopped reading must not hold up shutdown past its
	// deadline: cancelling ctx expires the write.
	defer context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Unix(1, 0)) })()
	if s.network == "udp" {
		for _, r := range recs {
			if _, err := s.conn.Write(r); err != nil {
				s.conn.Close()
				s.conn = nil
				return 0, fmt.Errorf("send %s: %w", s.addr, err)
			}
		}
		return 0, nil
	}
	b := s.buf[:0]
	for _, r := range recs {
		b = strconv.AppendInt(b, int64(len(r)), 10)
		b = append(b, ' ')
		b = append(b, r...)
	}
	s.buf = b
	if _, err := s.conn.Write(b); err != nil {
		s.conn.Close()
		s.conn = nil
		return 0, fmt.Errorf("send %s: %w", s.addr, err)
	}
	return 0, nil
}

func (s *syslogSink) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
