package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/enrich"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/pdns"
	"github.com/argus-sensor/argus-sensor/prevalence"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
	"github.com/argus-sensor/argus-sensor/snapshot"
)

// Config is what the daemon runs with.
type Config struct {
	// Outputs are the sinks; none means stdout, native format.
	Outputs []forward.Output
	// SpoolDir holds the network sinks' disk spools.
	SpoolDir string
	// HealthInterval is how often a sensor_health record is written.
	// Zero means DefaultHealthInterval; negative disables periodic ones.
	HealthInterval time.Duration
	// HashWait bounds how long a record waits for its executable's hash
	// before it goes out with hash_status "pending". Default
	// hasher.DefaultWait.
	HashWait time.Duration
	// QueueLimit bounds the records waiting in order behind a pending
	// hash; past it, reading from the sensor pauses (and the sensor's
	// own queue counts what it then cannot hold). Default
	// enrich.DefaultQueueLimit.
	QueueLimit int
	// QueueBytes bounds the same records by approximate size; 0 means
	// enrich.DefaultQueueBytes.
	QueueBytes int64

	Sensor    sensor.Options
	Hasher    hasher.Options
	Signature signature.Options
	PathRules classify.PathRules
	Internal  []string // extra internal CIDRs
	Detect    detect.Config
	// Containers configures how records name their process's container;
	// NoContainers leaves process.container out and judges every
	// executable by the host's packages.
	Containers   container.Options
	NoContainers bool
	MaxProcesses int
	// NoSnapshot skips reading already-running processes and open
	// connections at start.
	NoSnapshot bool
	// MetricsAddr serves Prometheus /metrics and /healthz; "" disables.
	MetricsAddr string
	// StateDir holds what the sensor keeps across restarts: the
	// prevalence store. "" keeps no prevalence.
	StateDir   string
	Prevalence prevalence.Options
	// DNSCacheSize bounds the passive DNS name cache (addresses); 0
	// means pdns.DefaultCacheSize. DNSMinTTL is the least time an answer
	// names its addresses; 0 means pdns.DefaultMinTTL.
	DNSCacheSize int
	DNSMinTTL    time.Duration
	// NoDNSRecords leaves dns_query records out (connections are still
	// named). Sensor.DNS turns the kernel hook itself off.
	NoDNSRecords bool
	// Reload, if set, is called for a new configuration on each value
	// from Hangups (the caller's SIGHUP). The outputs, path classes,
	// internal networks and allowlist are applied without losing events;
	// an error keeps the running configuration. A hangup that arrives
	// while the sensor starts waits for it.
	Reload  func() (Config, error)
	Hangups <-chan os.Signal

	Version string
	Logger  *slog.Logger
	// Started, if set, is called once the sensor is attached and the
	// "started" record has been sent.
	Started func()
	// TuneGC lets the daemon set the Go collector's target from its
	// backlog (gc.go); leave it false when the operator set GOGC.
	TuneGC bool
}

// DefaultHealthInterval is how often a sensor_health record is written
// when Config leaves it zero.
const DefaultHealthInterval = time.Minute

// Run runs the daemon until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg.Sensor.Logger, cfg.Hasher.Logger, cfg.Signature.Logger = log, log, log
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}

	p := &pipeline{cfg: cfg, log: log, start: time.Now()}
	defer p.close()
	if err := p.build(ctx); err != nil {
		return err
	}

	readErr := make(chan error, 1)
	go func() { readErr <- p.sensor.Run(ctx) }()
	if p.metrics != nil {
		p.publish()
		go p.metrics.serve(log)
		log.Info("metrics listening", "address", p.metrics.ln.Addr().String())
	}
	go func() {
		if err := p.watcher.Run(ctx); err != nil {
			log.Error("host address watcher stopped: external judgements use the last known addresses", "err", err)
		}
	}()

	p.emit(p.healthRecord("started"))
	log.Info("sensor started", "outputs", len(cfg.Outputs), "ring_bytes", cfg.Sensor.RingBytes,
		"legacy_connect", p.sensor.LegacyConnect())
	if !cfg.NoSnapshot {
		p.snapshot()
	}
	// Building the package index and the snapshot leave tens of MiB of
	// garbage the heap grew for; hand those pages back now rather than
	// when the scavenger gets round to it, so the resident size is the
	// steady-state one from the start.
	debug.FreeOSMemory()
	if cfg.Started != nil {
		cfg.Started()
	}

	p.loop()
	err := <-readErr
	p.emit(p.healthRecord("stopped"))
	log.Info("sensor stopped")
	return err
}

type pipeline struct {
	cfg   Config
	log   *slog.Logger
	start time.Time

	sensor     *sensor.Sensor
	hasher     *hasher.Hasher
	trust      *signature.Checker
	containers *container.Resolver
	nets       *classify.Networks
	watcher    *classify.AddrWatcher
	enrich     *enrich.Enricher
	engine     *detect.Engine
	fwd        *forward.Forwarder
	metrics    *metricsServer
	prev       *prevalence.Store
	dns        *pdns.Cache

	dets     []*event.Record
	lastLoss [2]uint64 // kernel lost, userspace dropped, at the last look
}

// build creates every component. The sensor comes last: once attached it
// starts filling the ring, so everything that drains it must exist.
func (p *pipeline) build(ctx context.Context) error {
	cfg := p.cfg
	var err error
	if cfg.MetricsAddr != "" {
		if p.metrics, err = listenMetrics(cfg.MetricsAddr); err != nil {
			return err
		}
	}
	if p.fwd, err = forward.New(forward.Config{Outputs: cfg.Outputs, SpoolDir: cfg.SpoolDir, Logger: p.log}); err != nil {
		return err
	}
	paths, extra, err := classifiers(cfg)
	if err != nil {
		return err
	}
	p.nets = classify.NewNetworks(extra)
	if p.watcher, err = classify.WatchAddrs(p.nets, 0, p.log); err != nil {
		return err
	}
	if p.hasher, err = hasher.New(cfg.Hasher); err != nil {
		return err
	}
	if p.trust, err = signature.New(cfg.Signature); err != nil {
		return err
	}
	cfg.Detect.IsSystem = paths.IsSystem
	if p.engine, err = detect.New(cfg.Detect); err != nil {
		return err
	}
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	bootID := enrich.BootID()
	if bootID == "" {
		p.log.Warn("cannot read /proc/sys/kernel/random/boot_id: records carry no host.boot_id, and their ids are unique only with the hostname")
	}
	if cfg.StateDir != "" {
		po := cfg.Prevalence
		po.Logger = p.log
		if p.prev, err = prevalence.Open(cfg.StateDir, po); err != nil {
			return fmt.Errorf("open prevalence store: %w", err)
		}
	}
	if p.dns, err = pdns.NewCache(cfg.DNSCacheSize, cfg.DNSMinTTL); err != nil {
		return err
	}
	if !cfg.NoContainers {
		co := cfg.Containers
		co.Logger = p.log
		if p.containers, err = container.New(co); err != nil {
			return fmt.Errorf("container resolver: %w", err)
		}
	}
	if p.enrich, err = enrich.New(enrich.Options{
		Hostname: hostname, BootID: bootID, MaxProcesses: cfg.MaxProcesses, Logger: p.log,
		Hasher: p.hasher, Trust: p.trust, Paths: paths, Networks: p.nets, Prevalence: p.prev, Containers: p.containers,
		HashWait: cfg.HashWait, QueueLimit: cfg.QueueLimit, QueueBytes: cfg.QueueBytes,
		DNSCache: p.dns, NoDNSRecords: cfg.NoDNSRecords,
		TrustLibrary: func(f sensor.File) {
			// Only called from the pipeline goroutine, once the sensor runs.
			if err := p.sensor.TrustLibrary(f); err != nil {
				p.log.Debug("library stays reported", "err", err)
			}
		},
		Interpreter: func(f sensor.File) {
			if err := p.sensor.AddInterpreter(f); err != nil {
				p.log.Debug("interpreter keeps the poll interval", "err", err)
			}
		},
		TrustExe: func(f sensor.File) { p.sensor.TrustExe(f) },
	}); err != nil {
		return err
	}
	if p.sensor, err = sensor.New(cfg.Sensor); err != nil {
		return err
	}
	p.addInterpreters()
	return nil
}

// interpreterDirs are where the host's script interpreters are looked
// for at start.
var interpreterDirs = []string{"/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"}

// addInterpreters tells the sensor the host's script interpreters before
// anything runs, so even the first python exec is read at once; others
// (a container's, one installed later) are added as they run (enrich).
func (p *pipeline) addInterpreters() {
	seen := map[[2]uint64]bool{}
	for _, dir := range interpreterDirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, ent := range ents {
			path := filepath.Join(dir, ent.Name())
			if !classify.IsInterpreter(path) {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			k := [2]uint64{st.Dev, st.Ino}
			if seen[k] {
				continue
			}
			seen[k] = true
			if err := p.sensor.AddInterpreter(sensor.File{Dev: st.Dev, Ino: st.Ino}); err != nil {
				p.log.Warn("interpreter keeps the poll interval", "path", path, "err", err)
			}
		}
	}
	p.log.Debug("script interpreters", "files", len(seen))
}

func (p *pipeline) close() {
	if p.metrics != nil {
		p.metrics.close()
	}
	if p.sensor != nil {
		p.sensor.Close()
	}
	if p.watcher != nil {
		p.watcher.Close()
	}
	if p.hasher != nil {
		// Bounded: a worker stuck on a hung NFS or FUSE read must not keep
		// the queued records and the final health record from reaching
		// the outputs below before systemd kills the process.
		if err := p.hasher.CloseWithin(2 * time.Second); err != nil {
			p.log.Warn("shutdown goes on without the hasher", "err", err)
		}
	}
	if p.prev != nil {
		if err := p.prev.Close(); err != nil {
			p.log.Error("close prevalence store", "err", err)
		}
	}
	if p.fwd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.fwd.Close(ctx); err != nil {
			p.log.Error("close outputs", "err", err)
		}
	}
}

// classifiers builds the path classifier and the extra internal networks
// from cfg, at start and on each reload. Path rules left empty mean the
// defaults.
func classifiers(cfg Config) (*classify.Paths, []netip.Prefix, error) {
	rules := cfg.PathRules
	if rules.Prefixes == nil && rules.Components == nil && rules.Homes == nil {
		rules = classify.DefaultPathRules()
	}
	paths, err := classify.NewPaths(rules)
	if err != nil {
		return nil, nil, fmt.Errorf("path classes: %w", err)
	}
	internal, err := classify.ParsePrefixes(cfg.Internal)
	if err != nil {
		return nil, nil, err
	}
	return paths, internal, nil
}

// snapshot reads what was running before the sensor attached: processes,
// then their open connections in every network namespace in use.
func (p *pipeline) snapshot() {
	now := time.Now()
	procs, err := snapshot.Processes("/proc")
	if err != nil {
		p.log.Warn("snapshot processes", "err", err)
		return
	}
	p.enrich.Seed(procs, now)
	byNS := map[uint64][]uint32{}
	for _, pr := range procs {
		if pr.NetNS != 0 {
			byNS[pr.NetNS] = append(byNS[pr.NetNS], pr.PID)
		}
	}
	conns, viaProc := 0, 0
	for ns, pids := range byNS {
		cs, how, err := snapshot.ConnectionsOf("/proc", pids[0])
		if err != nil {
			p.log.Warn("snapshot connections", "netns", ns, "err", err)
			continue
		}
		if how == "procfs" {
			viaProc++
		}
		conns += len(cs)
		p.enrich.SeedConnections(cs, snapshot.SocketOwners("/proc", pids), uint32(ns), now)
	}
	if viaProc > 0 {
		p.log.Info("connections of other network namespaces read from /proc/<pid>/net: sock_diag there needs CAP_SYS_ADMIN",
			"namespaces", viaProc)
	}
	if incomplete := snapshot.Unreadable(procs); incomplete > 0 {
		p.log.Warn("snapshot incomplete: some processes' executables could not be read (CAP_SYS_PTRACE needed)",
			"processes", incomplete)
	}
	p.log.Info("snapshot", "processes", len(procs), "connections", conns, "network_namespaces", len(byNS))
}

// loop runs until the sensor closes its channel (after draining). Events
// go into enrich; what enrich hands back finished goes to the outputs and
// the rules.
func (p *pipeline) loop() {
	events := p.sensor.Events()
	var health <-chan time.Time
	if p.cfg.HealthInterval > 0 {
		t := time.NewTicker(p.cfg.HealthInterval)
		defer t.Stop()
		health = t.C
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var gc *gcTuner
	if p.cfg.TuneGC {
		gc = newGCTuner(debug.SetGCPercent)
	}
	headTimer := time.NewTimer(time.Hour)
	defer headTimer.Stop()
	ticks := 0

	for {
		ready, wait, until := p.enrich.Ready(time.Now())
		p.deliver(ready)
		in := events
		if p.enrich.Full() {
			in = nil // back-pressure: the sensor's queue takes it from here
		}
		var headDeadline <-chan time.Time
		if wait != nil {
			headTimer.Reset(time.Until(until))
			headDeadline = headTimer.C
		}
		select {
		case ev, ok := <-in:
			if !ok {
				p.deliver(p.enrich.Drain())
				return
			}
			p.sensor.Release(ev)
			p.enrich.Handle(ev)
		case <-wait:
		case <-headDeadline:
		case now := <-tick.C:
			p.deliver(p.enrich.Tick(now))
			p.noticeLoss(now)
			if gc != nil {
				gc.observe(p.sensor.QueueFill())
			}
			if ticks++; ticks%10 == 0 {
				p.publish()
			}
		case <-p.cfg.Hangups:
			p.reload()
		case <-health:
			p.emit(p.healthRecord("running"))
		}
		if wait != nil && !headTimer.Stop() {
			select {
			case <-headTimer.C:
			default:
			}
		}
	}
}

// deliver hands what enrich finished to the outputs and the rules, side
// by side.
func (p *pipeline) deliver(outs []enrich.Out) {
	for _, o := range outs {
		if o.Send {
			p.fwd.Send(o.Rec)
		}
		if o.Observe {
			p.detect(o.Rec)
		}
	}
}

// emit sends a record and runs the rules on it.
func (p *pipeline) emit(rec *event.Record) {
	p.fwd.Send(rec)
	p.detect(rec)
}

func (p *pipeline) detect(rec *event.Record) {
	p.dets = p.engine.Observe(rec, p.dets[:0])
	for _, d := range p.dets {
		p.fwd.Send(d)
		p.log.Warn("detection", "rule", d.Detection.Rule, "sha256", d.Detection.SHA256, "summary", d.Detection.Summary,
			"degraded", d.Detection.Degraded)
	}
}

// noticeLoss tells the rules when the sensor lost or dropped events, so
// detections over that time are marked degraded.
func (p *pipeline) noticeLoss(now time.Time) {
	st, err := p.sensor.Stats()
	if err != nil {
		return
	}
	cur := [2]uint64{st.KernelLost(), st.Dropped}
	if cur[0] > p.lastLoss[0] || cur[1] > p.lastLoss[1] {
		p.engine.Loss(now)
	}
	p.lastLoss = cur
}

// publish hands the metrics server a fresh snapshot of every counter.
func (p *pipeline) publish() {
	if p.metrics == nil {
		return
	}
	s := &counters{at: time.Now(), hooks: p.sensor.Hooks(), hasher: p.hasher.Stats(), trust: p.trust.Stats(),
		engine: p.engine.Stats(), enrich: p.enrich.Stats(), outputs: p.fwd.Stats()}
	s.sensor, _ = p.sensor.Stats()
	s.dns = p.dnsHealth(s.sensor, s.enrich)
	if p.prev != nil {
		ps := p.prev.Stats()
		s.prev = &ps
	}
	if p.containers != nil {
		cs := p.containers.Stats()
		s.ctrs = &cs
	}
	p.metrics.last.Store(s)
}

func (p *pipeline) healthRecord(state string) *event.Record {
	now := time.Now()
	h := &event.Health{
		State:         state,
		UptimeSeconds: now.Sub(p.start).Seconds(),
		Version:       p.cfg.Version,
		EventsByKind:  map[string]uint64{},
		LostByKind:    map[string]uint64{},
	}
	st, err := p.sensor.Stats()
	if err != nil {
		h.LastError = err.Error()
	}
	h.EventsLost = st.KernelLost()
	h.DatagramsFolded = st.DatagramsFolded
	h.ConnectsFolded, h.ConnectsUnfolded = st.ConnectsFolded, st.ConnectsUnfolded
	h.LibrariesTrusted, h.LibrariesRepeated = st.LibrariesTrusted, st.LibrariesRepeated
	h.ExecFilesFull = st.ExecFilesFull
	h.EventsDropped = st.Dropped
	h.DecodeErrors = st.DecodeErrors
	if st.LastDecodeError != "" {
		h.LastError = st.LastDecodeError
	}
	for k, v := range st.Read {
		h.EventsByKind[k.String()] = v
	}
	for k, v := range st.Lost {
		h.LostByKind[k.String()] = v
	}
	if st.PendingFull > 0 {
		h.LostByKind["connect_pending_full"] = st.PendingFull
	}
	h.RingBytes, h.RingPending = st.RingBytes, st.RingPending
	for _, hk := range p.sensor.Hooks() {
		hs := event.HookState{Name: hk.Name, Attach: hk.Attach, Attached: hk.Attached, Optional: hk.Optional}
		if hk.Err != nil {
			hs.Error = hk.Err.Error()
		}
		h.Hooks = append(h.Hooks, hs)
	}
	es := p.enrich.Stats()
	h.Processes, h.ProcessesEvicted = es.Processes, es.Evicted
	hs := p.hasher.Stats()
	h.Hashing = &event.HashingHealth{
		CacheHits: hs.Hits, CacheMisses: hs.Misses, HitRatio: hs.HitRatio(), FilesHashed: hs.FilesHashed,
		BytesHashed: hs.BytesHashed, InFlight: hs.InFlight, LateDropped: es.LateDropped,
		Failures: map[string]uint64{
			string(hasher.StatusGone): hs.Gone, string(hasher.StatusChanged): hs.Changed,
			string(hasher.StatusTooLarge): hs.TooLarge, string(hasher.StatusError): hs.Errors,
			string(hasher.StatusPending): hs.Pending, "queue_full": hs.QueueFull,
		},
	}
	h.TrustVerdicts = map[string]uint64{}
	for v, n := range p.trust.Stats().Verdicts {
		h.TrustVerdicts[string(v)] = n
	}
	h.DNS = p.dnsHealth(st, es)
	ds := p.engine.Stats()
	h.Detection = &event.DetectionHealth{ByRule: ds.Detections, Allowlisted: ds.Suppressed, Keys: ds.Keys, Evicted: ds.Evicted}
	if p.prev != nil {
		ps := p.prev.Stats()
		h.Prevalence = &event.PrevalenceHealth{Entries: ps.Entries, Bytes: ps.Bytes, Evicted: ps.Evicted,
			WriteErrors: ps.WriteErrors, Rebuilt: p.prev.Rebuilt, TrackedSince: p.prev.TrackedSince}
	}
	for _, s := range p.fwd.Stats() {
		h.WriteErrors += s.Errors
		h.Outputs = append(h.Outputs, event.OutputHealth{
			Name: s.Name, Format: string(s.Format), Sent: s.Sent, Errors: s.Errors, Retries: s.Retries,
			SpoolRecords: s.SpoolRecords, SpoolBytes: s.SpoolBytes, Dropped: s.Dropped(), LastError: s.LastError,
			ReceiverRefusing: s.ReceiverRefusing, Filtered: s.Filtered, FilterErrors: s.FilterErrors,
		})
	}
	return &event.Record{
		Schema: event.Schema,
		ID:     fmt.Sprintf("%s-health-%x", p.enrich.Host().BootID, now.UnixNano()),
		Kind:   event.KindSensorHealth,
		Time:   now.UTC(),
		Host:   p.enrich.Host(),
		Health: h,
	}
}

// dnsHealth reports passive DNS from the sensor's and enrich's counters.
func (p *pipeline) dnsHealth(st sensor.Stats, es enrich.Stats) *event.DNSHealth {
	d := &event.DNSHealth{
		Capture: "on", Responses: es.DNSResponses, RateLimited: st.DNSRateLimited, Skipped: st.DNSSkipped,
		Truncated: es.DNSTruncated, ParseErrors: es.DNSParseErrors, Records: es.DNSRecords,
		CacheEntries: p.dns.Len(), CacheMax: p.dns.Max(), CacheEvicted: p.dns.Evicted(),
	}
	if on, err := p.sensor.DNSCapture(); !on {
		d.Capture = "off"
		if err != nil {
			d.CaptureError = err.Error()
		}
	}
	return d
}

// reload applies a new configuration on SIGHUP. Everything is checked
// before anything changes; a configuration that fails is refused whole
// and the running one kept. Outputs are swapped by handing the old
// forwarder over (its queues go to its files and spools at once, without
// waiting for any receiver) and opening the new one on the same spools, while kernel events wait in the ring buffer and
// the sensor's queue; if the new outputs fail to open, the old ones are
// reopened.
func (p *pipeline) reload() {
	if p.cfg.Reload == nil {
		p.log.Warn("SIGHUP ignored: no configuration file to reload")
		return
	}
	nc, err := p.cfg.Reload()
	if err == nil {
		err = p.apply(nc)
	}
	if err != nil {
		p.log.Error("configuration reload refused: keeping the running configuration", "err", err)
		return
	}
	p.log.Info("configuration reloaded")
}

func (p *pipeline) apply(nc Config) error {
	paths, internal, err := classifiers(nc)
	if err != nil {
		return err
	}
	if _, err := detect.New(detect.Config{Allow: nc.Detect.Allow}); err != nil {
		return err
	}
	swapOutputs := !reflect.DeepEqual(nc.Outputs, p.cfg.Outputs) || nc.SpoolDir != p.cfg.SpoolDir
	if swapOutputs {
		if err := forward.Validate(nc.Outputs); err != nil {
			return err
		}
	}
	for name, changed := range map[string]bool{
		"sensor":  !reflect.DeepEqual(nc.Sensor, p.cfg.Sensor),
		"hashing": !reflect.DeepEqual(nc.Hasher, p.cfg.Hasher) || nc.HashWait != p.cfg.HashWait,
		"trust":   !reflect.DeepEqual(nc.Signature, p.cfg.Signature),
		"metrics": nc.MetricsAddr != p.cfg.MetricsAddr,
		"detect.window/max_keys/max_bytes": nc.Detect.Window != p.cfg.Detect.Window || nc.Detect.MaxKeys != p.cfg.Detect.MaxKeys ||
			nc.Detect.MaxBytes != p.cfg.Detect.MaxBytes,
		"process_table/snapshot": nc.MaxProcesses != p.cfg.MaxProcesses || nc.NoSnapshot != p.cfg.NoSnapshot,
		"dns":                    nc.DNSCacheSize != p.cfg.DNSCacheSize || nc.DNSMinTTL != p.cfg.DNSMinTTL || nc.NoDNSRecords != p.cfg.NoDNSRecords,
	} {
		if changed {
			p.log.Warn("setting changed in the file: it takes effect at the next restart", "setting", name)
		}
	}
	if swapOutputs {
		if err := p.swapOutputs(nc); err != nil {
			return err
		}
		p.cfg.Outputs, p.cfg.SpoolDir = nc.Outputs, nc.SpoolDir
	}
	p.engine.SetAllow(nc.Detect.Allow)
	p.engine.SetSystem(paths.IsSystem)
	p.enrich.SetPaths(paths)
	p.nets.SetInternal(internal)
	p.cfg.PathRules, p.cfg.Internal, p.cfg.Detect.Allow = nc.PathRules, nc.Internal, nc.Detect.Allow
	return nil
}

func (p *pipeline) swapOutputs(nc Config) error {
	// Handover, not Close: the pipeline goroutine is stopped while this
	// runs, and a failing receiver used to hold it for up to 10 s. What
	// is in flight stays spooled for the new forwarder to send.
	if err := p.fwd.Handover(); err != nil {
		p.log.Warn("closing the old outputs", "err", err)
	}
	fwd, err := forward.New(forward.Config{Outputs: nc.Outputs, SpoolDir: nc.SpoolDir, Logger: p.log})
	if err == nil {
		p.fwd = fwd
		return nil
	}
	old, oerr := forward.New(forward.Config{Outputs: p.cfg.Outputs, SpoolDir: p.cfg.SpoolDir, Logger: p.log})
	if oerr != nil {
		// Neither opens: keep records flowing somewhere rather than nowhere.
		p.log.Error("previous outputs do not reopen either: writing to stdout", "err", oerr)
		old, _ = forward.New(forward.Config{Logger: p.log})
	}
	p.fwd = old
	return err
}
