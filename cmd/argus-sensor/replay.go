package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/detect"
)

// replayCommand runs recorded argus.v1 JSON lines through the detection
// engine and prints the detections: analysts rerun telemetry without root.
func replayCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	window := fs.Duration("window", detect.DefaultWindow, "correlation window")
	internal := fs.String("internal-cidrs", "", "comma-separated extra internal networks (e.g. 100.64.0.0/10)")
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
	cls := &classify.Classifier{Paths: paths, Networks: classify.NewNetworks(extra)}
	st, err := detect.Replay(in, eng, cls.Fill, stdout)
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
