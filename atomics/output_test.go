package atomics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/internal/schematest"
)

// output follows the sensor's file output and keeps what the atomics need:
// the launches and connections of this test process's descendants, every
// detection and health record. The sensor sees the whole host, and
// anything else running on it (another engineer's benchmark, say) can
// write gigabytes; those lines are skipped after a glance at their pids,
// never decoded. Every line it decodes is first validated against the
// argus.v1 JSON Schema (internal/schematest); stopSensor fails the run on
// any that does not match.
//
// The file sink rotates by size (PATH becomes PATH.1, PATH.1 becomes
// PATH.2, ...). output reads like tail -F: it keeps the file it has open
// until the path names another inode, reads that file to its end, then
// any files rotated after it, newest last, then the new PATH.
type output struct {
	path   string
	runner uint32
	f      *os.File
	ino    uint64
	part   []byte // an incomplete last line
	// midLine: reading started inside a line (skipToEnd), whose rest is
	// dropped.
	midLine bool

	ours    map[uint32]bool // pids descended from the runner
	records []*event.Record // kept, in file order
	byID    map[string]*event.Record
	health  []*event.Record // sensor_health records, in order

	lines, bad int
	firstBad   string

	// Lines validated against the argus.v1 schema, and those that did
	// not match it.
	validated, invalid int
	firstInvalid       string
}

func newOutput(path string) *output {
	return &output{
		path:   path,
		runner: uint32(os.Getpid()),
		ours:   map[uint32]bool{uint32(os.Getpid()): true},
		byID:   map[string]*event.Record{},
	}
}

// poll reads everything written since the last call.
func (o *output) poll() error {
	if o.f == nil {
		f, ino, err := openIno(o.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // not created yet, or between a rotation's rename and reopen
		}
		if err != nil {
			return err
		}
		o.f, o.ino = f, ino
	}
	if err := o.readAll(o.f); err != nil {
		return err
	}
	ino, err := inode(o.path)
	if err == nil && ino == o.ino {
		return nil
	}
	// Rotated: our file is complete (the writer closed it first). Read
	// its last bytes, then every newer rotated file, oldest first.
	if err := o.readAll(o.f); err != nil {
		return err
	}
	o.f.Close()
	o.f = nil
	var newer []string
	for k := 1; k <= 64; k++ {
		p := o.path + "." + strconv.Itoa(k)
		ino, err := inode(p)
		if err != nil || ino == o.ino {
			break
		}
		newer = append(newer, p)
	}
	slices.Reverse(newer)
	for _, p := range newer {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("read rotated output: %w", err)
		}
		err = o.readAll(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	o.flushPart()
	return o.poll()
}

func (o *output) close() {
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
}

func openIno(p string) (*os.File, uint64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Sys().(*syscall.Stat_t).Ino, nil
}

func inode(p string) (uint64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Sys().(*syscall.Stat_t).Ino, nil
}

func (o *output) readAll(r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			o.feed(buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read output: %w", err)
		}
	}
}

func (o *output) feed(b []byte) {
	if o.midLine {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return
		}
		o.midLine = false
		b = b[i+1:]
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			o.part = append(o.part, b...)
			return
		}
		if len(o.part) > 0 {
			o.part = append(o.part, b[:i]...)
			o.line(o.part)
			o.part = o.part[:0]
		} else {
			o.line(b[:i])
		}
		b = b[i+1:]
	}
}

func (o *output) flushPart() {
	if len(o.part) > 0 {
		o.line(o.part)
		o.part = o.part[:0]
	}
}

// Cheap looks into a line before deciding to decode it.
var (
	kindKey   = []byte(`"kind":"`)
	pidKey    = []byte(`"process":{"pid":`)
	ppidKey   = []byte(`"ppid":`)
	kindLaunc = []byte("process_launch")
	kindConn  = []byte("network_connection")
	kindLib   = []byte("library_load")
	// The atomics' containers are named argus-atomic-...: their processes
	// are started by the runtime, not below the runner.
	atomicContainer = []byte(`"name":"` + atomicContainerPrefix)
)

const atomicContainerPrefix = "argus-atomic-"

// inAtomicContainer reports whether p runs in one of the atomics'
// containers.
func inAtomicContainer(p *event.Process) bool {
	return p != nil && p.Container != nil && strings.HasPrefix(p.Container.Name, atomicContainerPrefix)
}

func (o *output) line(b []byte) {
	o.lines++
	kind := field(b, kindKey, '"')
	switch {
	case bytes.Equal(kind, kindLaunc), bytes.Equal(kind, kindConn), bytes.Equal(kind, kindLib):
		pid, ppid := number(b, pidKey), number(b, ppidKey)
		runnerAncestor := bytes.Contains(b, []byte(`{"pid":`+strconv.FormatUint(uint64(o.runner), 10)+`,`))
		if !o.ours[pid] && !o.ours[ppid] && !runnerAncestor && !bytes.Contains(b, atomicContainer) {
			return
		}
	case len(kind) == 0:
		o.badLine(b, errors.New("no kind"))
		return
	}
	o.validated++
	if err := schematest.Validate(b); err != nil {
		o.invalid++
		if o.firstInvalid == "" {
			o.firstInvalid = fmt.Sprintf("line %d: %v: %.2000s", o.lines, err, b)
		}
	}
	var r event.Record
	if err := json.Unmarshal(b, &r); err != nil {
		o.badLine(b, err)
		return
	}
	switch r.Kind {
	case event.KindProcessLaunch:
		if !o.descends(&r) {
			return
		}
		o.ours[r.Process.PID] = true
	case event.KindNetworkConnection, event.KindLibraryLoad:
		if r.Process == nil || !(o.ours[r.Process.PID] || o.ours[r.Process.PPID]) {
			return
		}
	case event.KindHashUpdate:
		// A record that went out before its hash was known: complete it.
		if target := o.byID[r.RefID]; target != nil && target.Process != nil && r.Process != nil {
			target.Process.Exe = r.Process.Exe
			target.Process.Script = r.Process.Script
		}
		return
	case event.KindSensorHealth:
		o.health = append(o.health, &r)
		return
	case event.KindDetection:
	default:
		return
	}
	o.records = append(o.records, &r)
	o.byID[r.ID] = &r
}

// descends reports whether a launch is of a process below the runner.
func (o *output) descends(r *event.Record) bool {
	p := r.Process
	if p == nil {
		return false
	}
	if o.ours[p.PID] || o.ours[p.PPID] || inAtomicContainer(p) {
		return true
	}
	for _, a := range p.Ancestors {
		if a.PID == o.runner {
			return true
		}
	}
	return false
}

func (o *output) badLine(b []byte, err error) {
	o.bad++
	if o.firstBad == "" {
		o.firstBad = fmt.Sprintf("line %d: %v: %.200s", o.lines, err, b)
	}
}

// field returns the bytes after key up to end.
func field(b, key []byte, end byte) []byte {
	i := bytes.Index(b, key)
	if i < 0 {
		return nil
	}
	b = b[i+len(key):]
	if j := bytes.IndexByte(b, end); j >= 0 {
		return b[:j]
	}
	return nil
}

// number returns the unsigned integer after key, or 0.
func number(b, key []byte) uint32 {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0
	}
	var n uint64
	for _, c := range b[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<32 {
			return 0
		}
	}
	return uint32(n)
}

// stopped returns the sensor's last sensor_health record with state
// stopped, or nil.
func (o *output) stopped() *event.Record {
	for i := len(o.health) - 1; i >= 0; i-- {
		if h := o.health[i]; h.Health != nil && h.Health.State == "stopped" {
			return h
		}
	}
	return nil
}

// started reports whether the sensor wrote its "started" record.
func (o *output) started() bool {
	for _, h := range o.health {
		if h.Health != nil && h.Health.State == "started" {
			return true
		}
	}
	return false
}

// window is the part of the output an atomic's command produced: launches
// of its executor shell and everything below it, their connections, and
// the detections that name any of them.
type window struct {
	launches, conns, dets, libs []*event.Record
	ids                         map[string]bool
}

// attribute collects the records of the process tree under shell, made
// between from and to.
func (o *output) attribute(shell uint32, from, to time.Time) *window {
	w := &window{ids: map[string]bool{}}
	pids := map[uint32]bool{shell: true}
	in := func(r *event.Record) bool { return !r.Time.Before(from) && !r.Time.After(to) }
	for _, r := range o.records {
		if !in(r) || r.Process == nil {
			continue
		}
		p := r.Process
		switch r.Kind {
		case event.KindProcessLaunch:
			// A container's processes are the runtime's children: they
			// are the atomic's when made in its window.
			mine := pids[p.PID] || pids[p.PPID] || inAtomicContainer(p)
			for _, a := range p.Ancestors {
				mine = mine || a.PID == shell
			}
			if mine {
				pids[p.PID] = true
				w.launches = append(w.launches, r)
				w.ids[r.ID] = true
			}
		case event.KindNetworkConnection:
			if pids[p.PID] {
				w.conns = append(w.conns, r)
				w.ids[r.ID] = true
			}
		case event.KindLibraryLoad:
			if pids[p.PID] {
				w.libs = append(w.libs, r)
				w.ids[r.ID] = true
			}
		}
	}
	for _, r := range o.records {
		if r.Kind != event.KindDetection || r.Detection == nil {
			continue
		}
		for _, e := range r.Detection.Events {
			if w.ids[e.ID] {
				w.dets = append(w.dets, r)
				break
			}
		}
	}
	return w
}

// detections returns every detection record seen.
func (o *output) detections() []*event.Record {
	var out []*event.Record
	for _, r := range o.records {
		if r.Kind == event.KindDetection && r.Detection != nil {
			out = append(out, r)
		}
	}
	return out
}
