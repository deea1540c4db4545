package forward

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// relpWindow is how many syslog commands may be unanswered at once; the
// batch is sent in runs of this many, each run answered before the next.
const relpWindow = 128

// relpMaxFrame bounds a response frame read from the receiver.
const relpMaxFrame = 128 << 10

// relpSink sends RFC 5424 messages with RELP, rsyslog's Reliable Event
// Logging Protocol: each message is a "syslog" command with a
// transaction number, and the receiver answers each with "rsp 200 OK"
// only once it has taken the message. A batch counts as delivered only
// when every message in it was answered 200; a broken connection or any
// other answer retries the whole batch on a new session, so delivery is
// at least once, never silently lost in a socket buffer as with plain
// TCP syslog.
//
// Frames are "TXNR SP COMMAND SP DATALEN [SP DATA] LF"; a session opens
// with an "open" command offering relp_version=0 and commands=syslog.
type relpSink struct {
	addr    string
	dialTO  time.Duration
	writeTO time.Duration
	conn    net.Conn
	r       *bufio.Reader
	txnr    int
	buf     []byte
}

func newRELPSink(p *parsedOutput) *relpSink {
	o := p.Syslog
	s := &relpSink{addr: p.addr, dialTO: o.DialTimeout, writeTO: o.WriteTimeout}
	if s.dialTO <= 0 {
		s.dialTO = 5 * time.Second
	}
	if s.writeTO <= 0 {
		s.writeTO = 10 * time.Second
	}
	return s
}

// next returns the next transaction number: 1 to 999,999,999, wrapping.
func (s *relpSink) next() int {
	s.txnr++
	if s.txnr > 999_999_999 {
		s.txnr = 1
	}
	return s.txnr
}

func appendRELPFrame(b []byte, txnr int, cmd string, data []byte) []byte {
	b = strconv.AppendInt(b, int64(txnr), 10)
	b = append(b, ' ')
	b = append(b, cmd...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	if len(data) > 0 {
		b = append(b, ' ')
		b = append(b, data...)
	}
	return append(b, '\n')
}

// relpFrame is one frame read from the receiver.
type relpFrame struct {
	txnr int
	cmd  string
	data []byte
}

func readRELPFrame(r *bufio.Reader) (relpFrame, error) {
	var f relpFrame
	field := func(max int) (string, byte, error) {
		var b []byte
		for {
			c, err := r.ReadByte()
			if err != nil {
				return "", 0, err
			}
			if c == ' ' || c == '\n' {
				return string(b), c, nil
			}
			if len(b) >= max {
				return "", 0, errors.New("relp: header field too long")
			}
			b = append(b, c)
		}
	}
	s, _, err := field(9)
	if err != nil {
		return f, err
	}
	if f.txnr, err = strconv.Atoi(s); err != nil || f.txnr < 0 {
		return f, fmt.Errorf("relp: bad transaction number %q", s)
	}
	if f.cmd, _, err = field(32); err != nil {
		return f, err
	}
	s, end, err := field(9)
	if err != nil {
		return f, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > relpMaxFrame {
		return f, fmt.Errorf("relp: bad data length %q", s)
	}
	if end == '\n' {
		if n != 0 {
			return f, fmt.Errorf("relp: %d bytes of data announced, none sent", n)
		}
		return f, nil
	}
	f.data = make([]byte, n)
	if _, err := io.ReadFull(r, f.data); err != nil {
		return f, err
	}
	if c, err := r.ReadByte(); err != nil || c != '\n' {
		return f, errors.New("relp: frame without its trailer")
	}
	return f, nil
}

// rspStatus returns the status code of a "rsp" frame's data ("200 OK...").
func rspStatus(data []byte) int {
	if len(data) < 3 {
		return 0
	}
	n, err := strconv.Atoi(string(data[:3]))
	if err != nil {
		return 0
	}
	return n
}

// open dials and opens a RELP session.
func (s *relpSink) open(ctx context.Context) error {
	d := net.Dialer{Timeout: s.dialTO}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("connect %s: %w", s.addr, err)
	}
	s.conn, s.r, s.txnr = conn, bufio.NewReader(conn), 0
	offer := []byte("relp_version=0\nrelp_software=" + syslogAppName + "\ncommands=syslog")
	txnr := s.next()
	conn.SetDeadline(time.Now().Add(s.writeTO))
	if _, err := conn.Write(appendRELPFrame(nil, txnr, "open", offer)); err != nil {
		s.drop()
		return fmt.Errorf("relp open %s: %w", s.addr, err)
	}
	f, err := readRELPFrame(s.r)
	if err != nil {
		s.drop()
		return fmt.Errorf("relp open %s: %w", s.addr, err)
	}
	if f.txnr != txnr || f.cmd != "rsp" || rspStatus(f.data) != 200 {
		s.drop()
		return fmt.Errorf("relp open %s: refused: %q", s.addr, truncateForLog(f.data))
	}
	if !bytes.Contains(f.data, []byte("syslog")) {
		s.drop()
		return fmt.Errorf("relp open %s: the receiver does not offer the syslog command", s.addr)
	}
	conn.SetDeadline(time.Time{})
	return nil
}

func (s *relpSink) drop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.r = nil, nil
}

// deliver sends recs and returns once the receiver acknowledged every
// one. Any failure closes the session: the batch is retried whole on a
// new one, so the receiver may see some messages twice, never none.
func (s *relpSink) deliver(ctx context.Context, recs [][]byte) (int, error) {
	if s.conn == nil {
		if err := s.open(ctx); err != nil {
			return 0, err
		}
	}
	conn := s.conn
	// Cancelling ctx (shutdown past its deadline) expires the I/O.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	for len(recs) > 0 {
		run := recs[:min(len(recs), relpWindow)]
		recs = recs[len(run):]
		b := s.buf[:0]
		pending := make(map[int]bool, len(run))
		for _, r := range run {
			n := s.next()
			pending[n] = true
			b = appendRELPFrame(b, n, "syslog", r)
		}
		s.buf = b
		conn.SetDeadline(time.Now().Add(s.writeTO))
		if _, err := conn.Write(b); err != nil {
			s.drop()
			return 0, fmt.Errorf("relp send %s: %w", s.addr, err)
		}
		for range run {
			f, err := readRELPFrame(s.r)
			if err != nil {
				s.drop()
				return 0, fmt.Errorf("relp send %s: awaiting acknowledgement: %w", s.addr, err)
			}
			if f.cmd == "serverclose" {
				s.drop()
				return 0, fmt.Errorf("relp send %s: the receiver closed the session", s.addr)
			}
			if f.cmd != "rsp" {
				s.drop()
				return 0, fmt.Errorf("relp send %s: unexpected %q from the receiver", s.addr, f.cmd)
			}
			if !pending[f.txnr] {
				s.drop()
				return 0, fmt.Errorf("relp send %s: answer to transaction %d, which is not outstanding", s.addr, f.txnr)
			}
			delete(pending, f.txnr)
			if st := rspStatus(f.data); st != 200 {
				s.drop()
				return 0, fmt.Errorf("relp send %s: message %d not taken: %s", s.addr, f.txnr, truncateForLog(f.data))
			}
		}
	}
	conn.SetDeadline(time.Time{})
	return 0, nil
}

// close ends the session politely, so the receiver does not log an
// aborted connection, then closes the socket.
func (s *relpSink) close() error {
	if s.conn == nil {
		return nil
	}
	s.conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := s.conn.Write(appendRELPFrame(nil, s.next(), "close", nil)); err == nil {
		readRELPFrame(s.r)
	}
	err := s.conn.Close()
	s.conn, s.r = nil, nil
	return err
}
