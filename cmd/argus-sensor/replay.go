package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward/format"
)

// replayCommand runs recorded argus.v1 JSON lines through the detection
// engine and prints the detections: analysts rerun telemetry without root.
func replayCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	window := fs.Duration("window", detect.DefaultWindow, "correlation window")
	internal := fs.String("internal-cidrs", "", "comma-separated extra internal networks (e.g. 100.64.0.0/10)")
	formatName := fs.String("format", "native", "how detections are written: native (argus.v1 JSON), udm, ecs, or compact (one line of text each)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: argus-sensor replay [flags] FILE|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelp
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"replay: want exactly one FILE, or - for stdin"}
	}
	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		in = f
	}
	var cidrs []string
	if *internal != "" {
		cidrs = strings.Split(*internal, ",")
	}
	extra, err := classify.ParsePrefixes(cidrs)
	if err != nil {
		return usageError{"replay: --internal-cidrs: " + err.Error()}
	}
	paths, err := classify.NewPaths(classify.DefaultPathRules())
	if err != nil {
		return err
	}
	eng, err := detect.New(detect.Config{Window: *window, IsSystem: paths.IsSystem})
	if err != nil {
		return err
	}
	fm, err := format.ParseFormat(*formatName)
	if err != nil {
		return usageError{"replay: --format: " + err.Error()}
	}
	out := stdout
	if fm != format.FormatNative {
		rc := &recoder{w: stdout, format: fm}
		defer rc.Flush()
		out = rc
	}
	cls := &classify.Classifier{Paths: paths, Networks: classify.NewNetworks(extra)}
	st, err := detect.Replay(in, eng, cls.Fill, out)
	for _, b := range st.FirstBad {
		fmt.Fprintln(stderr, "argus-sensor: replay: skipped", b)
	}
	if st.BadLines > len(st.FirstBad) {
		fmt.Fprintf(stderr, "argus-sensor: replay: and %d more bad lines\n", st.BadLines-len(st.FirstBad))
	}
	fmt.Fprintf(stderr, "argus-sensor: replay: %d lines, %d records, %d bad, %d detections\n",
		st.Lines, st.Records, st.BadLines, st.Detections)
	return err
}

// recoder takes argus.v1 JSON lines and writes each record again in
// another format.
type recoder struct {
	w      io.Writer
	format format.Format
	buf    []byte
	out    []byte
}

func (r *recoder) Write(p []byte) (int, error) {
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := r.line(r.buf[:i]); err != nil {
			return len(p), err
		}
		r.buf = r.buf[i+1:]
	}
}

func (r *recoder) line(l []byte) error {
	if len(bytes.TrimSpace(l)) == 0 {
		return nil
	}
	var rec event.Record
	if err := json.Unmarshal(l, &rec); err != nil {
		return fmt.Errorf("re-encode detection: %w", err)
	}
	r.out = append(r.format.Append(r.out[:0], &rec), '\n')
	_, err := r.w.Write(r.out)
	return err
}

// Flush writes a last line that had no newline.
func (r *recoder) Flush() error {
	if len(r.buf) == 0 {
		return nil
	}
	err := r.line(r.buf)
	r.buf = r.buf[:0]
	return err
}
