package detect

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/argus-sensor/argus-sensor/event"
)

// ReplayStats summarises a replay.
type ReplayStats struct {
	Lines      int
	Records    int
	BadLines   int
	Detections int
	// FirstBad lists up to 20 bad lines with their line numbers.
	FirstBad []string
}

// maxLine bounds one record; a longer line is reported and skipped.
const maxLine = 4 << 20

// Replay reads argus.v1 JSON lines from r, classifies what the records lack
// with fill (which may be nil), runs them through e, and writes each
// detection to w as one JSON line. A line that is not a valid record is
// counted with its line number and skipped; it never stops the run. Only a
// read or write failure returns an error.
func Replay(r io.Reader, e *Engine, fill func(*event.Record), w io.Writer) (ReplayStats, error) {
	var st ReplayStats
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	var out []*event.Record
	var buf []byte
	bad := func(why string) {
		st.BadLines++
		if len(st.FirstBad) < 20 {
			st.FirstBad = append(st.FirstBad, fmt.Sprintf("line %d: %s", st.Lines, why))
		}
	}
	for {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return st, nil
		}
		st.Lines++
		switch {
		case errors.Is(err, errLineTooLong):
			bad(fmt.Sprintf("longer than %d bytes", maxLine))
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return st, fmt.Errorf("read line %d: %w", st.Lines, err)
		}
		if len(line) > 0 {
			var rec event.Record
			if uerr := json.Unmarshal(line, &rec); uerr != nil {
				bad(uerr.Error())
			} else if rec.Schema != event.Schema || rec.Kind == "" {
				bad(fmt.Sprintf("not an %s record (schema %q, kind %q)", event.Schema, rec.Schema, rec.Kind))
			} else {
				st.Records++
				if fill != nil {
					fill(&rec)
				}
				out = e.Observe(&rec, out[:0])
				for _, d := range out {
					buf = append(d.AppendJSON(buf[:0]), '\n')
					if _, werr := bw.Write(buf); werr != nil {
						return st, fmt.Errorf("write detection: %w", werr)
					}
					st.Detections++
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return st, nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline. A line longer than
// maxLine is consumed and reported as errLineTooLong.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		return line, err
	}
}
