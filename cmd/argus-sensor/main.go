// Command argus-sensor is the Argus host sensor: it captures process
// launches and outbound connections with eBPF and writes them as argus.v1
// JSON lines.
//
//	argus-sensor run [flags]     stream events (stdout by default)
//	argus-sensor check           report what this kernel supports
//	argus-sensor inspect FILE... what the sensor concludes about files
//	argus-sensor replay FILE|-   rerun recorded events through the rules
//	argus-sensor version         print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := dispatch(os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, errHelp) {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "argus-sensor:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "argus-sensor:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: argus-sensor <command> [flags]

commands:
  run       capture exec and connect events and write argus.v1 JSON lines
  check     report kernel support; exit 1 if the sensor cannot run here
  inspect   print what the sensor would conclude about files: identity,
            sha256, trust verdict, path classes
  replay    run recorded argus.v1 JSON lines (a file, or - for stdin) through
            the detection rules and print the detections; no root needed
  version   print the version

Run "argus-sensor <command> -h" for a command's flags.
`

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stderr)
	case "check":
		return checkCommand(args[1:], stdout, stderr)
	case "replay":
		return replayCommand(args[1:], os.Stdin, stdout, stderr)
	case "inspect":
		return inspectCommand(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return "argus-sensor " + v
}

// newLogger logs to stderr: text on a terminal, JSON otherwise (journald,
// files, log shippers).
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// errHelp means -h was given: the usage has been printed and the command
// should do nothing more.
var errHelp = errors.New("help requested")

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
