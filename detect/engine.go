package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/argus-sensor/argus-sensor/event"
)

// Rule names.
const (
	RuleT1587 = "t1587_develop_capabilities_unsigned_exec"
	RuleNPM   = "npm_lifecycle_script_exec"
	// RuleRelabel fires on a connection by a process that made the kernel
	// name another file as its executable without an exec.
	RuleRelabel = "exe_relabeled_without_exec"
	// RuleInjected fires on a connection made by code that is not a
	// file's text as mapped (process.code_origin): shellcode, injected or
	// unpacked.
	RuleInjected = "connect_from_injected_code"
)

// Defaults.
const (
	DefaultWindow  = time.Hour
	DefaultMaxKeys = 1 << 16
	// DefaultMaxBytes bounds the records the correlation state keeps.
	DefaultMaxBytes = 64 << 20
)

// DefaultSuspiciousClasses are the path classes that make a launch a
// candidate for the t1587 rule: user-writable places and fileless
// execution. "deleted" counts only outside the system directories: a
// daemon still running after a package upgrade replaced its binary is
// deleted too, and is not what the rule is about.
var DefaultSuspiciousClasses = []string{"tmp", "shm", "run_user", "downloads", "node_modules", "hidden_dir", "memfd", "deleted",
	"tmpfs", "ramfs", "fuse", "detached", "userns_bind", "container_upper"}

// Config configures an Engine.
type Config struct {
	// Window is the correlation window. Default one hour.
	Window time.Duration
	// MaxKeys bounds the (hostname, sha256) correlation entries and the
	// npm deduplication entries. Default 65536.
	MaxKeys int
	// MaxBytes bounds the size of the records the correlation entries
	// keep (each keeps up to two: the newest qualifying launch and the
	// newest external connection). Records with long command lines make
	// the key bound alone hundreds of MiB; past this one the least
	// recently used entries go, counted as evictions. Default
	// DefaultMaxBytes.
	MaxBytes int64
	// SuspiciousClasses make a launch a t1587 candidate. Default
	// DefaultSuspiciousClasses.
	SuspiciousClasses []string
	// IsSystem reports whether a path is under the system directories;
	// it limits the "deleted" class. Default: /usr, /bin, /sbin, /lib*.
	IsSystem func(string) bool
	// Allow are allowlist entries.
	Allow []AllowEntry
	// Novelty grades T1587 detections by the binary's age and prevalence.
	Novelty Novelty
}

// Stats counts the engine's work.
type Stats struct {
	Records    uint64 `json:"records"`
	Candidates uint64 `json:"candidate_launches"`
	External   uint64 `json:"external_connections"`
	// SelfJoined counts detections fired by a connection alone: its
	// process's own identity qualified and no launch was in the window.
	SelfJoined         uint64            `json:"self_joined"`
	Keys               int               `json:"keys"`
	KeptBytes          int64             `json:"kept_bytes"`
	Evicted            uint64            `json:"evicted"`
	Expired            uint64            `json:"expired"`
	Detections         map[string]uint64 `json:"detections"`
	Repeats            uint64            `json:"repeats_suppressed"`
	Suppressed         map[string]uint64 `json:"allowlisted"`
	UndecodableRecords uint64            `json:"undecodable_records"`
}

// Engine correlates records. It is used from one goroutine.
type Engine struct {
	cfg        Config
	pack       packer
	suspicious map[string]bool
	keys       *simplelru.LRU[key, *window]
	bytes      int64 // the records keys keep, by capacity
	npm        *simplelru.LRU[key, time.Time]
	relabel    *simplelru.LRU[key, time.Time]
	injected   *simplelru.LRU[key, time.Time]
	now        time.Time
	lastLoss   time.Time
	health     map[string][2]uint64 // hostname -> last (lost, dropped)
	stats      Stats
}

type key struct{ host, id string }

// window is the correlation state of one (hostname, sha256).
type window struct {
	launch, conn    half
	launches, conns int
	lastSeen        time.Time
	firedAt         time.Time
}

// size is the bytes w's kept records hold.
func (w *window) size() int64 { return int64(cap(w.launch.rec) + cap(w.conn.rec)) }

// half is the kept record of one half of the join: the newest qualifying
// launch, or the newest external connection, since the key last fired.
// The newest, because it pairs with every record of the other half that
// any older one would, and with more: launches at 0 and 50 minutes pair
// with a connection at 105 through the second alone.
type half struct {
	rec []byte // deflated, or plain JSON when raw
	at  time.Time
	raw bool
}

// keep makes rec the kept record of h when h is empty or rec is newer.
// The first record is deflated (encoded, shared by the identities of one
// record, is made on demand); a newer one replaces it as plain JSON in a
// buffer h then owns and reuses. Most keys keep one record, compactly; a
// busy key (a program that connects out all day) costs one JSON encoding
// per record and no deflate.
func (e *Engine) keep(h *half, rec *event.Record, encoded *[]byte) {
	before := cap(h.rec)
	defer func() { e.bytes += int64(cap(h.rec) - before) }()
	switch {
	case h.rec == nil:
		if *encoded == nil {
			*encoded = e.pack.pack(rec)
		}
		h.rec, h.at, h.raw = *encoded, rec.Time, false
	case rec.Time.After(h.at):
		if !h.raw {
			h.rec = nil // the deflated bytes may be shared: never write into them
		}
		h.rec, h.at, h.raw = rec.AppendJSON(h.rec[:0]), rec.Time, true
	}
}

// New returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.SuspiciousClasses == nil {
		cfg.SuspiciousClasses = DefaultSuspiciousClasses
	}
	if cfg.IsSystem == nil {
		cfg.IsSystem = defaultIsSystem
	}
	for i := range cfg.Allow {
		if err := cfg.Allow[i].compile(); err != nil {
			return nil, err
		}
	}
	nov, nerr := cfg.Novelty.withDefaults()
	if nerr != nil {
		return nil, nerr
	}
	cfg.Novelty = nov
	e := &Engine{
		cfg:        cfg,
		suspicious: map[string]bool{},
		health:     map[string][2]uint64{},
		stats:      Stats{Detections: map[string]uint64{}, Suppressed: map[string]uint64{}},
	}
	for _, c := range cfg.SuspiciousClasses {
		e.suspicious[c] = true
	}
	var err error
	// Every way an entry leaves (the key bound, the byte bound, expiry)
	// gives its records' bytes back.
	drop := func(_ key, w *window) { e.bytes -= w.size() }
	if e.keys, err = simplelru.NewLRU[key, *window](cfg.MaxKeys, drop); err != nil {
		return nil, fmt.Errorf("create correlation state: %w", err)
	}
	if e.npm, err = simplelru.NewLRU[key, time.Time](cfg.MaxKeys, nil); err != nil {
		return nil, fmt.Errorf("create npm state: %w", err)
	}
	if e.relabel, err = simplelru.NewLRU[key, time.Time](cfg.MaxKeys, nil); err != nil {
		return nil, fmt.Errorf("create relabel state: %w", err)
	}
	if e.injected, err = simplelru.NewLRU[key, time.Time](cfg.MaxKeys, nil); err != nil {
		return nil, fmt.Errorf("create injected-code state: %w", err)
	}
	return e, nil
}

func defaultIsSystem(p string) bool {
	for _, s := range []string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"} {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	return false
}

// SetAllow replaces the allowlist (a configuration reload). A bad entry
// refuses the whole list and keeps the running one.
func (e *Engine) SetAllow(entries []AllowEntry) error {
	compiled := make([]AllowEntry, len(entries))
	copy(compiled, entries)
	for i := range compiled {
		if err := compiled[i].compile(); err != nil {
			return err
		}
	}
	e.cfg.Allow = compiled
	return nil
}

// SetSystem replaces the system-path test that limits the deleted class.
func (e *Engine) SetSystem(isSystem func(string) bool) {
	if isSystem != nil {
		e.cfg.IsSystem = isSystem
	}
}

// evicted is called when the bound pushes out live correlation state: a
// correlation may now be missed, which is reported like lost events.
func (e *Engine) evicted() {
	e.stats.Evicted++
	e.lastLoss = e.now
}

// Loss records that the sensor lost or dropped events at t: detections
// whose window covers t are marked degraded.
func (e *Engine) Loss(t time.Time) {
	if t.After(e.lastLoss) {
		e.lastLoss = t
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Keys = e.keys.Len()
	s.KeptBytes = e.bytes
	s.Detections = clone(s.Detections)
	s.Suppressed = clone(s.Suppressed)
	return s
}

func clone(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Observe feeds one record to the rules and appends any detections to out.
func (e *Engine) Observe(rec *event.Record, out []*event.Record) []*event.Record {
	e.stats.Records++
	if rec.Time.After(e.now) {
		e.now = rec.Time
	}
	switch rec.Kind {
	case event.KindProcessLaunch:
		out = e.launch(rec, out)
		out = e.npmRule(rec, out)
	case event.KindLibraryLoad:
		out = e.launch(rec, out)
	case event.KindNetworkConnection:
		out = e.connect(rec, out)
		out = e.relabelRule(rec, out)
		out = e.injectedRule(rec, out)
	case event.KindSensorHealth:
		e.healthRecord(rec)
	}
	e.sweep()
	return out
}

// healthRecord notices loss reported by a sensor_health record, which is
// how loss reaches the engine in replayed telemetry.
func (e *Engine) healthRecord(rec *event.Record) {
	h := rec.Health
	if h == nil {
		return
	}
	prev, seen := e.health[rec.Host.Hostname]
	cur := [2]uint64{h.EventsLost, h.EventsDropped}
	if (seen && (cur[0] > prev[0] || cur[1] > prev[1])) || (!seen && (cur[0] > 0 || cur[1] > 0)) {
		e.Loss(rec.Time)
	}
	e.health[rec.Host.Hostname] = cur
}

// candidate is one identity (exe, script or library) of a process.
type candidate struct {
	// library: a file the process mapped executable (a library_load, or
	// one of a connection's process.libraries).
	library      bool
	path, sha256 string
	classes      []string
	trust        *event.Trust
	// The file identity a missing hash falls back to (identity.go).
	hashStatus string
	dev, ino   uint64
	ctimeNs    int64
}

func identities(p *event.Process) []candidate {
	out := []candidate{{path: p.Exe.Path, sha256: p.Exe.SHA256, classes: p.Exe.PathClasses, trust: p.Exe.Trust,
		hashStatus: p.Exe.HashStatus, dev: p.Exe.Device, ino: p.Exe.Inode, ctimeNs: p.Exe.CtimeNs}}
	if s := p.Script; s != nil {
		out = append(out, candidate{path: s.Path, sha256: s.SHA256, classes: s.PathClasses, trust: s.Trust})
	}
	for i := range p.Libraries {
		out = append(out, libraryCandidate(&p.Libraries[i]))
	}
	return out
}

// libraryCandidate is a library as an identity of the process that
// loaded it. A library without a hash joins on its file identity, as an
// executable does.
func libraryCandidate(l *event.Library) candidate {
	return candidate{library: true, path: l.Path, sha256: l.SHA256, classes: l.PathClasses, trust: l.Trust,
		hashStatus: l.HashStatus, dev: l.Device, ino: l.Inode, ctimeNs: l.CtimeNs}
}

// launchIdentities are the identities a record starts: a library_load
// starts its library alone (the process's own were its launch's), a
// process_launch its executable and script.
func launchIdentities(rec *event.Record) []candidate {
	if rec.Library != nil {
		return []candidate{libraryCandidate(rec.Library)}
	}
	return identities(rec.Process)
}

// qualifies reports whether a launched identity makes a t1587 candidate:
// known digest, a suspicious path class, and not a trusted verdict.
func (e *Engine) qualifies(c candidate) bool {
	if c.joinKey() == "" || (c.trust != nil && c.trust.Severity == "INFORMATIONAL") {
		return false
	}
	for _, class := range c.classes {
		if !e.suspicious[class] {
			continue
		}
		if class == "deleted" && !e.deletedCounts(c) {
			continue
		}
		return true
	}
	return false
}

// deletedCounts reports whether the deleted class of c is suspicious: not
// a system path, and not a file a package owns wherever the package put
// it. Programs still running after an upgrade replaced them (a daemon in
// /usr/sbin, /opt/google/chrome/chrome) are deleted too, and their trust
// names the package.
func (e *Engine) deletedCounts(c candidate) bool {
	return !e.cfg.IsSystem(c.path) && (c.trust == nil || c.trust.Package == "")
}

func (e *Engine) allowed(rule string, p *event.Process, c candidate, n *event.Network, needNetwork bool) bool {
	for i := range e.cfg.Allow {
		a := &e.cfg.Allow[i]
		if !a.forRule(rule) || (!needNetwork && a.hasNetwork()) {
			continue
		}
		if a.matchProcess(p, c) && a.matchNetwork(n) {
			e.stats.Suppressed[a.Name]++
			return true
		}
	}
	return false
}

func (e *Engine) launch(rec *event.Record, out []*event.Record) []*event.Record {
	p := rec.Process
	if p == nil {
		return out
	}
	var encoded []byte
	for _, c := range launchIdentities(rec) {
		if !e.qualifies(c) {
			continue
		}
		e.stats.Candidates++
		if e.allowed(RuleT1587, p, c, nil, false) {
			continue
		}
		k := key{rec.Host.Hostname, c.joinKey()}
		w := e.get(k)
		w.launches++
		if e.quiet(w, rec.Time) {
			continue
		}
		if w.conn.rec != nil && e.within(w.conn.at, rec.Time) {
			out = e.fire(k, w, rec, &w.conn, false, out)
			continue
		}
		e.keep(&w.launch, rec, &encoded)
	}
	return out
}

func (e *Engine) connect(rec *event.Record, out []*event.Record) []*event.Record {
	p, n := rec.Process, rec.Network
	if p == nil || n == nil || n.External == nil || !*n.External {
		return out
	}
	e.stats.External++
	var encoded []byte
	for _, c := range identities(p) {
		if c.joinKey() == "" {
			continue
		}
		if e.allowed(RuleT1587, p, c, n, true) {
			continue
		}
		k := key{rec.Host.Hostname, c.joinKey()}
		w := e.get(k)
		// A summary of folded repeats stands for its count.
		w.conns += n.Attempts()
		if e.quiet(w, rec.Time) {
			continue
		}
		switch {
		case w.launch.rec != nil && e.within(w.launch.at, rec.Time):
			out = e.fire(k, w, rec, &w.launch, true, out)
		case e.deletedCandidate(c):
			// The launch was recorded while the file still existed;
			// only this record shows it running from a deleted file,
			// so it stands for both halves.
			e.stats.Candidates++
			out = e.fire(k, w, rec, nil, true, out)
		case c.trust != nil && e.qualifies(c):
			// A live process whose own identity qualifies, as the
			// process table judged it for this record (its verdict
			// is on it): its launch may be hours old (a long-lived
			// implant beaconing) or never seen (started before the
			// sensor), and the connection alone proves both halves.
			// A record without a verdict (a replayed SIEM export)
			// only joins.
			e.stats.Candidates++
			e.stats.SelfJoined++
			out = e.fire(k, w, rec, nil, true, out)
		default:
			e.keep(&w.conn, rec, &encoded)
		}
	}
	return out
}

// deletedCandidate reports whether a connecting identity makes a t1587
// candidate by the deleted class: a binary that unlinked itself after it
// started. Its process_launch carried no deleted flag, and where no other
// class applies (an implant dropped in /srv or /opt) nothing else would
// make it one. Only the deleted class lets a connection stand for its own
// launch: any other class was already on the launch record.
func (e *Engine) deletedCandidate(c candidate) bool {
	return e.suspicious["deleted"] && slices.Contains(c.classes, "deleted") && e.deletedCounts(c) &&
		c.joinKey() != "" && c.trust != nil && c.trust.Severity != "INFORMATIONAL"
}

// get returns the window of k, creating it.
func (e *Engine) get(k key) *window {
	w, ok := e.keys.Get(k)
	if !ok {
		w = &window{}
		if e.keys.Add(k, w) {
			e.evicted()
		}
	}
	w.lastSeen = e.now
	return w
}

// within reports whether two records' times are no more than a window apart.
func (e *Engine) within(a, b time.Time) bool {
	return absDur(a.Sub(b)) <= e.cfg.Window
}

// fire emits the t1587 detection of k for the record cur and other, the
// kept record of the other half (nil when cur, a deleted binary's
// connection, stands for both halves). The key is then quiet for a window:
// its records have served.
func (e *Engine) fire(k key, w *window, cur *event.Record, other *half, curIsConn bool, out []*event.Record) []*event.Record {
	launch, conn := *cur, *cur
	events := []event.Record{*cur}
	first, last := cur.Time, cur.Time
	if other != nil {
		var o event.Record
		if e.pack.unpack(other.rec, other.raw, &o) != nil {
			e.stats.UndecodableRecords++
			return out
		}
		if curIsConn {
			launch, events = o, []event.Record{o, *cur}
		} else {
			conn, events = o, []event.Record{*cur, o}
		}
		if other.at.Before(first) {
			first = other.at
		} else {
			last = other.at
		}
	}
	w.firedAt = cur.Time
	e.bytes -= w.size()
	w.launch, w.conn = half{}, half{}
	exe := launchIdentity(&launch, k.id)
	sha, joinKey, fileIdentity, hashStatus := describeKey(k.id, exe)
	keyText := "sha256 " + sha
	if sha == "" {
		keyText = "file " + fileIdentity + ", no sha256: " + hashStatus
	}
	how := "launched on"
	if other == nil {
		how = "running on" // the connection stood for its own launch
	}
	if exe.library {
		how = "loaded by " + launch.Process.Exe.Path + " on"
	}
	summary := fmt.Sprintf("%s (%s, trust %s, classes %s) %s %s and connected to %s",
		exe.path, keyText, verdict(exe.trust), strings.Join(exe.classes, ","), how, k.host, destination(conn.Network))
	d := &event.Detection{
		Rule:          RuleT1587,
		Technique:     "T1587",
		Tactic:        "Resource Development",
		Severity:      "HIGH",
		Summary:       summary,
		Hostname:      k.host,
		SHA256:        sha,
		JoinKey:       joinKey,
		FileIdentity:  fileIdentity,
		HashStatus:    hashStatus,
		WindowSeconds: int64(e.cfg.Window / time.Second),
		Degraded:      e.degraded(cur.Time),
		Events:        events,
		FirstSeen:     first,
		LastSeen:      last,
		Connections:   w.conns,
		ProcessTree:   launch.Process.Ancestors,
	}
	e.cfg.Novelty.grade(d, &launch, k.id)
	e.stats.Detections[RuleT1587]++
	return append(out, e.detection(d, cur.Time, launch.ID, conn.ID))
}

// quiet reports whether k fired within the last window, counting the
// record as a repeat: at most one detection per key per window.
func (e *Engine) quiet(w *window, at time.Time) bool {
	if w.firedAt.IsZero() || at.Sub(w.firedAt) >= e.cfg.Window {
		return false
	}
	e.stats.Repeats++
	return true
}

// launchIdentity picks the launch's identity (exe or script) with join key
// sha (its digest, or its file identity; see identity.go).
func launchIdentity(rec *event.Record, sha string) candidate {
	for _, c := range launchIdentities(rec) {
		if c.joinKey() == sha {
			return c
		}
	}
	return candidate{}
}

// program names p's executable in a summary: its path, or, when its exec
// record was lost, the kernel's identity, all there is.
func program(p *event.Process) string {
	if p.Exe.Path != "" {
		return p.Exe.Path
	}
	return fmt.Sprintf("the program with inode %d on device %d", p.Exe.Inode, p.Exe.Device)
}

// destination is where a connection went, by name when the sensor saw the
// DNS answer that gave the address: "c2.example (192.0.2.1):443".
func destination(n *event.Network) string {
	if n.DstHostname != "" {
		return fmt.Sprintf("%s (%s):%d", n.DstHostname, n.DstIP, n.DstPort)
	}
	return fmt.Sprintf("%s:%d", n.DstIP, n.DstPort)
}

func verdict(t *event.Trust) string {
	if t == nil {
		return "unknown"
	}
	return t.Verdict
}

func (e *Engine) degraded(at time.Time) bool {
	return !e.lastLoss.IsZero() && at.Sub(e.lastLoss) <= e.cfg.Window
}

// detection wraps d in a record whose id is derived from the rule and the
// triggering records, so replaying the same telemetry gives the same id.
func (e *Engine) detection(d *event.Detection, at time.Time, ids ...string) *event.Record {
	h := sha256.New()
	h.Write([]byte(d.Rule))
	for _, id := range ids {
		h.Write([]byte{0})
		h.Write([]byte(id))
	}
	return &event.Record{
		Schema:    event.Schema,
		ID:        "det-" + hex.EncodeToString(h.Sum(nil)[:12]),
		Kind:      event.KindDetection,
		Time:      at,
		Host:      event.Host{Hostname: d.Hostname},
		Detection: d,
	}
}

// sweep drops correlation state older than the window, oldest first.
func (e *Engine) sweep() {
	for {
		k, w, ok := e.keys.GetOldest()
		if !ok || e.now.Sub(w.lastSeen) <= e.cfg.Window {
			break
		}
		e.keys.Remove(k)
		e.stats.Expired++
	}
	for e.bytes > e.cfg.MaxBytes && e.keys.Len() > 1 {
		e.keys.RemoveOldest()
		e.evicted()
	}
}

var (
	npmShells    = []string{"sh", "bash", "dash", "id", "whoami", "uname", "curl", "wget"}
	npmAncestors = []string{"node", "nodejs", "npm", "npx", "bun"}
)

// npmRule fires when a shell or recon tool runs under node with a cwd or
// script inside node_modules.
func (e *Engine) npmRule(rec *event.Record, out []*event.Record) []*event.Record {
	p := rec.Process
	if p == nil {
		return out
	}
	base := path.Base(p.Exe.Path)
	if !containsStr(npmShells, base) && !strings.HasPrefix(base, "python") {
		return out
	}
	var node *event.Ancestor
	chain := p.Ancestors
	if len(chain) == 0 && p.Parent != nil {
		chain = []event.Ancestor{{PID: p.Parent.PID, ExePath: p.Parent.Exe.Path}}
	}
	for i := range chain {
		if containsStr(npmAncestors, path.Base(chain[i].ExePath)) {
			node = &chain[i]
			break
		}
	}
	if node == nil {
		return out
	}
	pkg := packageDir(p.Cwd)
	if pkg == "" && p.Script != nil {
		pkg = packageDir(path.Dir(p.Script.Path))
	}
	if pkg == "" {
		return out
	}
	if e.allowed(RuleNPM, p, identities(p)[0], nil, false) {
		return out
	}
	if e.repeat(e.npm, key{rec.Host.Hostname, pkg}, rec.Time) {
		return out
	}
	return e.fireOne(&event.Detection{
		Rule:       RuleNPM,
		Technique:  "T1587",
		Techniques: []string{"T1195.002"},
		Tactic:     "Resource Development",
		Severity:   "MEDIUM",
		Summary: fmt.Sprintf("%s launched by an npm lifecycle script of %s (node ancestor pid %d, %s) on %s",
			p.Exe.Path, pkg, node.PID, node.ExePath, rec.Host.Hostname),
	}, rec, out)
}

// repeat reports whether k fired within the window before at, by the
// firings m keeps; if not, at becomes k's firing. One detection per key
// per window, for the rules that fire on a single record.
func (e *Engine) repeat(m *simplelru.LRU[key, time.Time], k key, at time.Time) bool {
	if last, ok := m.Get(k); ok && at.Sub(last) < e.cfg.Window {
		e.stats.Repeats++
		return true
	}
	if m.Add(k, at) {
		e.evicted()
	}
	return false
}

// fireOne completes d, a detection on the one record rec, with what every
// such detection carries (host, rec's process's sha256 and ancestry, the
// window, degradation, times) and appends it to out.
func (e *Engine) fireOne(d *event.Detection, rec *event.Record, out []*event.Record) []*event.Record {
	p := rec.Process
	d.Hostname = rec.Host.Hostname
	d.SHA256 = p.Exe.SHA256
	d.WindowSeconds = int64(e.cfg.Window / time.Second)
	d.Degraded = e.degraded(rec.Time)
	d.Events = []event.Record{*rec}
	d.FirstSeen, d.LastSeen = rec.Time, rec.Time
	d.ProcessTree = p.Ancestors
	e.stats.Detections[d.Rule]++
	return append(out, e.detection(d, rec.Time, rec.ID))
}

// packageDir returns the package directory (.../node_modules/pkg or
// .../node_modules/@scope/pkg) that dir is in, or "".
func packageDir(dir string) string {
	i := strings.LastIndex(dir+"/", "/node_modules/")
	if i < 0 {
		return ""
	}
	rest := strings.TrimPrefix(dir[i+len("/node_modules"):], "/")
	parts := strings.SplitN(rest, "/", 3)
	n := 1
	if len(parts) > 0 && strings.HasPrefix(parts[0], "@") {
		n = 2
	}
	if len(parts) < n || parts[0] == "" {
		return dir[:i+len("/node_modules")]
	}
	return dir[:i+len("/node_modules")] + "/" + strings.Join(parts[:n], "/")
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// relabelRule fires on a network_connection whose process made the
// kernel name another file as its executable without an exec
// (process.exe_relabeled): prctl PR_SET_MM_MAP or PR_SET_MM_EXE_FILE, a
// restore tool's call that an implant makes to pass as a trusted program.
// Whatever the files and the destination: one detection per (hostname,
// process, label) per window.
func (e *Engine) relabelRule(rec *event.Record, out []*event.Record) []*event.Record {
	p := rec.Process
	if p == nil || p.ExeRelabeled == nil || rec.Network == nil {
		return out
	}
	rl := p.ExeRelabeled
	if e.allowed(RuleRelabel, p, identities(p)[0], rec.Network, true) {
		return out
	}
	k := key{rec.Host.Hostname, fmt.Sprintf("%d:%d:%d:%d", p.PID, p.StartTimeNs, rl.Device, rl.Inode)}
	if e.repeat(e.relabel, k, rec.Time) {
		return out
	}
	label := rl.Path
	if label == "" {
		label = fmt.Sprintf("the file with inode %d on device %d", rl.Inode, rl.Device)
	}
	return e.fireOne(&event.Detection{
		Rule:      RuleRelabel,
		Technique: "T1036",
		Tactic:    "Defense Evasion",
		Severity:  "HIGH",
		Summary: fmt.Sprintf("%s (pid %d) made the kernel name %s as its executable without an exec, then connected to %s on %s",
			program(p), p.PID, label, destination(rec.Network), rec.Host.Hostname),
	}, rec, out)
}

// injectedRule fires on a network_connection made by code in anonymous
// memory or in a file's text written to after it was mapped
// (process.code_origin): a payload injected into another program (ptrace,
// process_vm_writev, /proc/<pid>/mem), a packed or reflectively loaded
// one, or an implant running from a copy of itself. Whatever the
// executable's verdict: the code that connected is not the executable's.
// At most one detection per (hostname, process, origin) per window.
func (e *Engine) injectedRule(rec *event.Record, out []*event.Record) []*event.Record {
	p := rec.Process
	if p == nil || rec.Network == nil || (p.CodeOrigin != "anonymous_memory" && p.CodeOrigin != "written_file_text") {
		return out
	}
	if e.allowed(RuleInjected, p, identities(p)[0], rec.Network, true) {
		return out
	}
	k := key{rec.Host.Hostname, fmt.Sprintf("%d:%d:%s", p.PID, p.StartTimeNs, p.CodeOrigin)}
	if e.repeat(e.injected, k, rec.Time) {
		return out
	}
	where := "from memory no file backs"
	if p.CodeOrigin == "written_file_text" {
		where = "from program text written to after it was mapped"
	}
	return e.fireOne(&event.Detection{
		Rule:      RuleInjected,
		Technique: "T1055",
		Tactic:    "Defense Evasion",
		Severity:  "HIGH",
		Summary: fmt.Sprintf("%s (pid %d) connected to %s on %s %s: code that is not the program's own",
			program(p), p.PID, destination(rec.Network), rec.Host.Hostname, where),
	}, rec, out)
}
