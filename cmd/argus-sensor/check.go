package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/argus-sensor/argus-sensor/config"
	"github.com/argus-sensor/argus-sensor/sensor"
)

func checkCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	ring := fs.Int("ring-size", sensor.DefaultRingBytes(), "BPF ring buffer size to try, in bytes")
	cfgPath := fs.String("config", "", "validate this configuration file and exit, without touching the kernel")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath != "" {
		if _, err := config.Load(*cfgPath); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "config %s: ok\n", *cfgPath)
		return nil
	}
	// Check reports everything itself; the logger only carries noise here.
	r := sensor.Check(sensor.Options{RingBytes: *ring, Logger: newLogger(stderr, slog.LevelError+4),
		FoldInterval: config.DefaultConnectFoldInterval})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(checkJSON(r)); err != nil {
			return err
		}
	} else {
		printCheck(stdout, r)
	}
	if r.Err != nil {
		return fmt.Errorf("cannot run on this host: %w", r.Err)
	}
	return nil
}

func status(err error) string {
	if err != nil {
		return "no: " + err.Error()
	}
	return "yes"
}

func printCheck(w io.Writer, r sensor.Report) {
	fmt.Fprintf(w, "kernel               %s\n", r.Kernel)
	fmt.Fprintf(w, "BTF                  %s\n", status(r.BTF))
	fmt.Fprintf(w, "ring buffer          %s\n", status(r.RingBuf))
	fmt.Fprintf(w, "bounded loops        %s\n", status(r.BoundedLoops))
	for _, c := range r.Capabilities {
		have := "missing"
		if c.Have {
			have = "yes"
		}
		need := "optional"
		if c.Needed {
			need = "required"
		}
		fmt.Fprintf(w, "%-20s %s (%s: %s)\n", c.Name, have, need, c.Why)
	}
	for _, m := range r.Mounts {
		state := "not mounted"
		if m.Mounted {
			state = "mounted"
		}
		fmt.Fprintf(w, "%-20s %s at %s\n", m.FSType, state, m.Path)
	}
	for _, h := range r.Hooks {
		fmt.Fprintf(w, "hook %-15s %s  %s\n", h.Name, status(h.Err), h.Attach)
	}
	if r.Err == nil {
		fold := "off"
		switch {
		case r.FoldingErr != nil:
			fold = "off: " + r.FoldingErr.Error()
		case r.Folding > 0:
			fold = "yes (interval " + r.Folding.String() + " unless sensor.connect_fold_interval sets another)"
		}
		fmt.Fprintf(w, "connect folding      %s\n", fold)
		fmt.Fprintf(w, "connect code origin  %s\n", status(r.CodeOriginErr))
	}
	missing := 0
	for _, h := range r.Hooks {
		if h.Err != nil && h.Optional {
			missing++
		}
	}
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "result               cannot run: %v\n", r.Err)
	case missing > 0:
		fmt.Fprintf(w, "result               ok, with %d optional hook(s) missing: 32-bit, io_uring, datagram and TCP Fast Open connections are not seen\n", missing)
	default:
		fmt.Fprintf(w, "result               ok: every hook loads and attaches\n")
	}
}

type checkReport struct {
	Kernel       string            `json:"kernel"`
	BTF          string            `json:"btf"`
	RingBuf      string            `json:"ring_buffer"`
	BoundedLoops string            `json:"bounded_loops"`
	Capabilities map[string]bool   `json:"capabilities"`
	Mounts       map[string]bool   `json:"mounts"`
	Hooks        map[string]string `json:"hooks"`
	// ConnectFolding is "yes", or "no: <why>" on a kernel that cannot
	// fold (sensor.connect_fold_interval is then ignored).
	ConnectFolding string `json:"connect_folding,omitempty"`
	// ConnectCodeOrigin is "yes" when connect records say where the
	// calling code lives (process.code_origin), or "no: <why>".
	ConnectCodeOrigin string `json:"connect_code_origin,omitempty"`
	OK                bool   `json:"ok"`
	Error             string `json:"error,omitempty"`
}

func checkJSON(r sensor.Report) checkReport {
	out := checkReport{
		Kernel: r.Kernel, BTF: status(r.BTF), RingBuf: status(r.RingBuf), BoundedLoops: status(r.BoundedLoops),
		Capabilities: map[string]bool{}, Mounts: map[string]bool{}, Hooks: map[string]string{}, OK: r.Err == nil,
	}
	for _, c := range r.Capabilities {
		out.Capabilities[c.Name] = c.Have
	}
	for _, m := range r.Mounts {
		out.Mounts[m.FSType] = m.Mounted
	}
	for _, h := range r.Hooks {
		out.Hooks[h.Name] = status(h.Err)
	}
	if r.Err != nil {
		out.Error = r.Err.Error()
	} else {
		out.ConnectFolding = status(r.FoldingErr)
		out.ConnectCodeOrigin = status(r.CodeOriginErr)
	}
	return out
}
