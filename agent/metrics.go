package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/enrich"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/prevalence"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// counters is every counter the sensor keeps, read at one moment. The
// pipeline goroutine publishes one every tick (engine and enrich state are
// its own), and the scrape handler reads the latest: no counter is kept
// twice, and a scrape never touches the pipeline.
type counters struct {
	at      time.Time
	sensor  sensor.Stats
	hooks   []sensor.Hook
	hasher  hasher.Stats
	trust   signature.Stats
	engine  detect.Stats
	enrich  enrich.Stats
	outputs []forward.SinkStats
	prev    *prevalence.Stats
	dns     *event.DNSHealth
	ctrs    *container.Stats
}

// drainStale is how long the reader may go without emptying the ring or
// making progress before /healthz reports it stuck.
const drainStale = 5 * time.Second

// healthy says whether every hook is attached and the reader is draining.
func (s *counters) healthy() (bool, string) {
	if s == nil {
		return false, "starting"
	}
	for _, h := range s.hooks {
		if !h.Attached {
			return false, "hook " + h.Name + " is not attached"
		}
	}
	if age := s.at.Sub(s.sensor.LastDrain); age > drainStale {
		return false, fmt.Sprintf("ring buffer reader has not drained for %s", age.Round(time.Second))
	}
	if time.Since(s.at) > drainStale {
		return false, "pipeline has not published its counters for " + time.Since(s.at).Round(time.Second).String()
	}
	return true, "ok"
}

// metricsServer serves /metrics (Prometheus) and /healthz.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	last atomic.Pointer[counters]
}

// listenMetrics binds addr now, so a port already in use fails start-up
// with a clear error rather than later in the background.
func listenMetrics(addr string) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	m := &metricsServer{ln: ln}
	reg := prometheus.NewRegistry()
	// The Go runtime's own gauges (go_goroutines, go_memstats_*): a
	// goroutine count that grows with reloads or outages is a leak.
	reg.MustRegister(collector{m: m}, collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", m.healthz)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return m, nil
}

func (m *metricsServer) serve(log interface{ Error(string, ...any) }) {
	if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics server stopped", "err", err)
	}
}

func (m *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
}

func (m *metricsServer) healthz(w http.ResponseWriter, _ *http.Request) {
	s := m.last.Load()
	ok, why := s.healthy()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	body := map[string]any{"healthy": ok, "reason": why}
	if s != nil {
		body["events_lost"] = s.sensor.KernelLost()
		body["events_dropped"] = s.sensor.Dropped
		body["last_drain"] = s.sensor.LastDrain.UTC().Format(time.RFC3339Nano)
	}
	json.NewEncoder(w).Encode(body)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("argus_"+name, help, labels, nil)
}

var (
	dEvents      = desc("events_read_total", "Kernel records read from the ring buffer, by kind.", "kind")
	dKernelLost  = desc("events_lost_total", "Records the kernel could not write because the ring buffer was full, by kind.", "kind")
	dDropped     = desc("events_dropped_total", "Records read but discarded because the pipeline fell behind.")
	dDropBytes   = desc("events_dropped_for_bytes_total", "Of events_dropped_total, those turned away by sensor.queue_bytes rather than sensor.queue_len.")
	dDropShare   = desc("events_dropped_for_share_total", "Of events_dropped_total, connects to non-public addresses shed from a process holding a quarter of a queue past three quarters full.")
	dDropTrust   = desc("events_dropped_trusted_total", "Of events_dropped_total, connects by processes running a trusted executable, shed first from a queue past three quarters full.")
	dSensorQB    = desc("sensor_queue_bytes", "Size of the events between the ring reader and the pipeline (bounded by sensor.queue_bytes).")
	dDecodeErr   = desc("decode_errors_total", "Records that failed to decode.")
	dRingSize    = desc("ring_buffer_size_bytes", "Ring buffer size.")
	dRingPending = desc("ring_buffer_pending_bytes", "Bytes waiting in the ring buffer.")
	dHook        = desc("hook_attached", "1 when the hook is attached.", "hook", "attach")
	dQueued      = desc("pipeline_queued_records", "Records waiting in order, e.g. behind a pending hash.")
	dQueuedBytes = desc("pipeline_queued_bytes", "Approximate size of the records waiting in order (bounded by hashing.queue_bytes).")
	dHashHits    = desc("hash_cache_hits_total", "Hash requests answered from the cache.")
	dHashMisses  = desc("hash_cache_misses_total", "Hash requests the cache could not answer.")
	dHashFiles   = desc("hash_files_total", "Files read and hashed.")
	dHashBytes   = desc("hash_bytes_total", "Bytes hashed.")
	dHashSeconds = desc("hash_seconds_total", "Wall time hash workers spent opening, reading and hashing, summed over workers.")
	dHashFail    = desc("hash_failures_total", "Hash results without a digest, by status.", "status")
	dHashLate    = desc("hash_late_dropped_total", "Records whose pending hash was given up on.")
	dVerdicts    = desc("trust_verdicts_total", "Trust verdicts decided, by verdict.", "verdict")
	dDetections  = desc("detections_total", "Detections, by rule.", "rule")
	dAllowed     = desc("allowlisted_total", "Activity suppressed by an allowlist entry.", "entry")
	dCorrKeys    = desc("correlation_keys", "Correlation entries held.")
	dCorrEvicted = desc("correlation_evicted_total", "Live correlation entries evicted for lack of room (detect.max_keys or detect.max_bytes).")
	dCorrBytes   = desc("correlation_kept_bytes", "Size of the records the correlation entries keep (bounded by detect.max_bytes).")
	dPrevEntries = desc("prevalence_entries", "Binaries in the prevalence store.")
	dPrevBytes   = desc("prevalence_bytes", "Size of the prevalence store on disk (database and write-ahead log).")
	dPrevEvicted = desc("prevalence_evicted_total", "Prevalence entries deleted by the store's bound, least recently seen first.")
	dPrevErrors  = desc("prevalence_write_errors_total", "Failed writes to the prevalence store (the counts carry on in memory).")
	dProcs       = desc("process_table_entries", "Process table entries.")
	dReresolved  = desc("process_reresolved_total", "Connections whose executable was not the process table's, so the process was read again.")
	dRelabeled   = desc("process_exe_relabeled_total", "Processes seen connecting with another file named as their executable and no exec since (prctl PR_SET_MM_MAP/EXE_FILE), once per label.")
	dCodeLookups = desc("code_origin_lookups_total", "Reads of /proc/<pid>/maps to find where the code behind a connection seen by the socket address hooks lives, once per process and call site.")
	dExecFull    = desc("exec_files_full_total", "Execs and forks the kernel could not note as their process's executed file (exec_files full): their relabels are told from the exec record alone.")
	dScripts     = desc("scripts_total", "Interpreter scripts identified, by where they were opened: in the process's own root, or in the sensor's (the process was gone).", "opened")
	dRecovered   = desc("exe_paths_recovered_total", "Executables deeper than the kernel walks whose whole path was read back from /proc/<pid>/exe.")
	dSelfJoined  = desc("detections_self_joined_total", "T1587 detections fired by a live process's connection alone (no launch in the window).")
	dCtrCgroups  = desc("container_cgroups", "Cgroups whose container (or absence of one) is cached.")
	dCtrResolved = desc("containers_resolved_total", "Containers named from their cgroup and runtime state (once per cgroup).")
	dCtrSwept    = desc("container_cgroups_swept_total", "Cached cgroups dropped because they no longer exist.")
	dCtrCreated  = desc("container_cgroups_created_total", "Container cgroups remembered from the kernel's record of their creation.")
	dCtrFromCrt  = desc("containers_named_from_creation_total", "Lookups answered from a cgroup's creation record because the process's cgroup file could not be read (the process, or its container, was gone).")
	dCtrUnres    = desc("container_cgroups_unresolved_total", "Cgroups of processes gone before their records were read that neither a creation record nor the cgroup tree could name.")
	dCtrImages   = desc("container_image_indexes", "Container images whose package index is held.")
	dCtrBuilds   = desc("container_image_index_builds_total", "Container image package indexes built.")
	dCtrImgBytes = desc("container_image_index_bytes", "Approximate size of the container image package indexes held (bounded by containers.max_image_bytes).")
	dOutSent     = desc("output_sent_total", "Records delivered, by output.", "output")
	dOutErr      = desc("output_errors_total", "Failed delivery attempts, by output.", "output")
	dOutDrop     = desc("output_dropped_total", "Records an output lost (queue, spool, rejected, oversize), by output.", "output")
	dOutFiltered = desc("output_filtered_total", "Records an output's kinds: or drop: filter kept from it on purpose (not a loss), by output.", "output")
	dOutFiltErr  = desc("output_filter_errors_total", "Drop conditions that failed on a record, which the output then kept, by output.", "output")
	dOutRefusing = desc("output_receiver_refusing", "1 while the receiver refuses every request for a configuration fault of its own (records kept and retried), by output.", "output")
	dOutRefusals = desc("output_receiver_refusals_total", "Requests the receiver refused for a configuration fault of its own, by output.", "output")
	dSpoolRecs   = desc("spool_records", "Records spooled and not yet acknowledged, by output.", "output")
	dSpoolBytes  = desc("spool_bytes", "Spool backlog in bytes, by output.", "output")
	dDNSCapture  = desc("dns_capture_on", "1 when the DNS response hook is attached, 0 when it is off (health.dns.capture_error says why).")
	dDNSResp     = desc("dns_responses_total", "DNS responses read from the kernel.")
	dConnFolded  = desc("connects_folded_total", "Connects identical to one reported within the fold interval: counted in a summary record (network.count), not reported one by one.")
	dConnUnfold  = desc("connects_unfolded_total", "Foldable connects reported one by one because the kernel's fold table was full.")
	dFoldSums    = desc("connect_fold_summaries_total", "Summary records (network.count) made from the kernel's fold table.")
	dFoldErrors  = desc("connect_fold_errors_total", "Reads or deletes of the kernel's fold table that failed.")
	dDNSLimited  = desc("dns_rate_limited_total", "DNS responses the in-kernel rate limit kept out of the ring (counted, not copied).")
	dDNSSkipped  = desc("dns_skipped_total", "Port 53 TCP segments not holding one whole DNS message (not reassembled).")
	dDNSTrunc    = desc("dns_truncated_total", "DNS responses cut at the kernel's 512-byte copy bound.")
	dDNSParse    = desc("dns_parse_errors_total", "DNS responses that did not parse.")
	dDNSRecords  = desc("dns_records_total", "dns_query records written.")
	dDNSEntries  = desc("dns_cache_entries", "Addresses in the passive DNS name cache.")
	dDNSMax      = desc("dns_cache_max_entries", "Bound on the passive DNS name cache.")
	dDNSEvicted  = desc("dns_cache_evicted_total", "Addresses the name cache's bound pushed out.")
)

type collector struct{ m *metricsServer }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dEvents, dKernelLost, dDropped, dDropBytes, dDropShare, dDropTrust, dSensorQB, dDecodeErr, dRingSize, dRingPending, dHook,
		dQueued, dQueuedBytes, dHashHits, dHashMisses, dHashFiles, dHashBytes, dHashSeconds, dHashFail, dHashLate, dVerdicts, dDetections, dAllowed,
		dCorrKeys, dCorrEvicted, dCorrBytes, dProcs, dReresolved, dRelabeled, dCodeLookups, dExecFull, dScripts, dRecovered, dSelfJoined, dCtrCgroups, dCtrResolved, dCtrSwept, dCtrCreated, dCtrFromCrt, dCtrUnres, dCtrImages, dCtrBuilds, dCtrImgBytes, dPrevEntries, dPrevBytes, dPrevEvicted, dPrevErrors, dOutSent, dOutErr, dOutDrop, dOutFiltered, dOutFiltErr, dOutRefusing, dOutRefusals, dSpoolRecs, dSpoolBytes,
		dConnFolded, dConnUnfold, dFoldSums, dFoldErrors,
		dDNSCapture, dDNSResp, dDNSLimited, dDNSSkipped, dDNSTrunc, dDNSParse, dDNSRecords, dDNSEntries, dDNSMax, dDNSEvicted} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.last.Load()
	if s == nil {
		return
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for k, v := range s.sensor.Read {
		counter(dEvents, float64(v), k.String())
	}
	for k, v := range s.sensor.Lost {
		counter(dKernelLost, float64(v), k.String())
	}
	counter(dKernelLost, float64(s.sensor.PendingFull+s.sensor.ScratchMissing), "other")
	counter(dDropped, float64(s.sensor.Dropped))
	counter(dDropBytes, float64(s.sensor.DroppedForBytes))
	counter(dDropShare, float64(s.sensor.DroppedForShare))
	counter(dDropTrust, float64(s.sensor.DroppedTrusted))
	gauge(dSensorQB, float64(s.sensor.QueueBytes))
	counter(dDecodeErr, float64(s.sensor.DecodeErrors))
	counter(dConnFolded, float64(s.sensor.ConnectsFolded))
	counter(dConnUnfold, float64(s.sensor.ConnectsUnfolded))
	counter(dFoldSums, float64(s.sensor.FoldSummaries))
	counter(dFoldErrors, float64(s.sensor.FoldErrors))
	gauge(dRingSize, float64(s.sensor.RingBytes))
	gauge(dRingPending, float64(s.sensor.RingPending))
	for _, h := range s.hooks {
		v := 0.0
		if h.Attached {
			v = 1
		}
		gauge(dHook, v, h.Name, h.Attach)
	}
	gauge(dQueued, float64(s.enrich.Queued))
	gauge(dQueuedBytes, float64(s.enrich.QueuedBytes))
	counter(dHashHits, float64(s.hasher.Hits))
	counter(dHashMisses, float64(s.hasher.Misses))
	counter(dHashFiles, float64(s.hasher.FilesHashed))
	counter(dHashBytes, float64(s.hasher.BytesHashed))
	counter(dHashSeconds, s.hasher.HashTime.Seconds())
	for status, v := range map[hasher.Status]uint64{
		hasher.StatusGone: s.hasher.Gone, hasher.StatusChanged: s.hasher.Changed, hasher.StatusTooLarge: s.hasher.TooLarge,
		hasher.StatusError: s.hasher.Errors, hasher.StatusPending: s.hasher.Pending,
		// Among the errors: the queue was full (a flood of new binaries).
		"queue_full": s.hasher.QueueFull,
	} {
		counter(dHashFail, float64(v), string(status))
	}
	counter(dHashLate, float64(s.enrich.LateDropped))
	for v, n := range s.trust.Verdicts {
		counter(dVerdicts, float64(n), string(v))
	}
	for rule, n := range s.engine.Detections {
		counter(dDetections, float64(n), rule)
	}
	for entry, n := range s.engine.Suppressed {
		counter(dAllowed, float64(n), entry)
	}
	gauge(dCorrKeys, float64(s.engine.Keys))
	gauge(dCorrBytes, float64(s.engine.KeptBytes))
	counter(dCorrEvicted, float64(s.engine.Evicted))
	gauge(dProcs, float64(s.enrich.Processes))
	counter(dReresolved, float64(s.enrich.Reresolved))
	counter(dRelabeled, float64(s.enrich.Relabeled))
	counter(dCodeLookups, float64(s.enrich.CodeLookups))
	counter(dExecFull, float64(s.sensor.ExecFilesFull))
	counter(dScripts, float64(s.enrich.ScriptsInRoot), "process_root")
	counter(dScripts, float64(s.enrich.Scripts-s.enrich.ScriptsInRoot), "sensor_root")
	counter(dRecovered, float64(s.enrich.PathsRecovered))
	counter(dSelfJoined, float64(s.engine.SelfJoined))
	if c := s.ctrs; c != nil {
		gauge(dCtrCgroups, float64(c.Cached))
		counter(dCtrResolved, float64(c.Containers))
		counter(dCtrSwept, float64(c.Swept))
		counter(dCtrCreated, float64(c.Created))
		counter(dCtrFromCrt, float64(c.FromCreation))
		counter(dCtrUnres, float64(c.Unresolved))
	}
	gauge(dCtrImages, float64(s.trust.ImageIndexes))
	counter(dCtrBuilds, float64(s.trust.ImageIndexBuilds))
	gauge(dCtrImgBytes, float64(s.trust.ImageIndexBytes))
	if s.prev != nil {
		gauge(dPrevEntries, float64(s.prev.Entries))
		gauge(dPrevBytes, float64(s.prev.Bytes))
		counter(dPrevEvicted, float64(s.prev.Evicted))
		counter(dPrevErrors, float64(s.prev.WriteErrors))
	}
	if d := s.dns; d != nil {
		on := 0.0
		if d.Capture == "on" {
			on = 1
		}
		gauge(dDNSCapture, on)
		counter(dDNSResp, float64(d.Responses))
		counter(dDNSLimited, float64(d.RateLimited))
		counter(dDNSSkipped, float64(d.Skipped))
		counter(dDNSTrunc, float64(d.Truncated))
		counter(dDNSParse, float64(d.ParseErrors))
		counter(dDNSRecords, float64(d.Records))
		gauge(dDNSEntries, float64(d.CacheEntries))
		gauge(dDNSMax, float64(d.CacheMax))
		counter(dDNSEvicted, float64(d.CacheEvicted))
	}
	for _, o := range s.outputs {
		counter(dOutSent, float64(o.Sent), o.Name)
		counter(dOutErr, float64(o.Errors), o.Name)
		counter(dOutDrop, float64(o.Dropped()), o.Name)
		counter(dOutFiltered, float64(o.Filtered), o.Name)
		counter(dOutFiltErr, float64(o.FilterErrors), o.Name)
		refusing := 0.0
		if o.ReceiverRefusing {
			refusing = 1
		}
		gauge(dOutRefusing, refusing, o.Name)
		counter(dOutRefusals, float64(o.ConfigRefusals), o.Name)
		gauge(dSpoolRecs, float64(o.SpoolRecords), o.Name)
		gauge(dSpoolBytes, float64(o.SpoolBytes), o.Name)
	}
}
