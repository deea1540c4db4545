package forward

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Sink receives encoded records synchronously (see Open).
type Sink interface {
	// Write buffers one record. rec is not retained.
	Write(rec []byte) error
	// Flush delivers buffered records.
	Flush() error
	// Close flushes and releases the sink.
	Close() error
	// String names the sink for logs.
	String() string
}

// Open opens the sink named by spec, synchronously: Write blocks on the
// destination.
//
// Deprecated: the daemon should use New, whose Forwarder never blocks
// the pipeline and spools network destinations. Open remains until the
// agent is moved over.
func Open(spec string) (Sink, error) {
	switch {
	case spec == "" || spec == "stdout" || spec == "-":
		return &writerSink{name: "stdout", w: bufio.NewWriterSize(os.Stdout, 256<<10)}, nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, fmt.Errorf("output %q: empty path: %w", spec, ErrBadSpec)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open output file %s: %w", path, err)
		}
		return &writerSink{name: spec, w: bufio.NewWriterSize(f, 256<<10), c: f}, nil
	}
	return nil, fmt.Errorf("output %q: want stdout or file:PATH: %w", spec, ErrBadSpec)
}

type writerSink struct {
	name string
	w    *bufio.Writer
	c    io.Closer
}

func (s *writerSink) Write(rec []byte) error {
	if _, err := s.w.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}

func (s *writerSink) Flush() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", s.name, err)
	}
	return nil
}

func (s *writerSink) Close() error {
	err := s.Flush()
	if s.c != nil {
		if cerr := s.c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", s.name, cerr)
		}
	}
	return err
}

func (s *writerSink) String() string { return s.name }
