package format

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/argus-sensor/argus-sensor/event"
)

// UDM constants that docs/udm-mapping.md and rules/t1587_linux.yaral rely
// on.
const (
	udmVendor  = "Argus"
	udmProduct = "argus-sensor"
)

// UDM event types used.
const (
	udmProcessLaunch        = "PROCESS_LAUNCH"
	udmNetworkConnection    = "NETWORK_CONNECTION"
	udmStatusUpdate         = "STATUS_UPDATE"
	udmProcessUncategorized = "PROCESS_UNCATEGORIZED"
	udmGenericEvent         = "GENERIC_EVENT"
	udmNetworkDNS           = "NETWORK_DNS"
	udmProcessModuleLoad    = "PROCESS_MODULE_LOAD"
)

// udmEventType picks the event type from what the record holds, not from
// its kind alone: Chronicle rejects a whole import request when one event
// lacks the fields its type requires, so a launch without a process or a
// connection without a destination degrades to GENERIC_EVENT.
func udmEventType(r *event.Record) string {
	switch r.Kind {
	case event.KindProcessLaunch:
		if r.Process != nil {
			return udmProcessLaunch
		}
	case event.KindNetworkConnection:
		if r.Network != nil && r.Network.DstIP != "" {
			return udmNetworkConnection
		}
	case event.KindSensorHealth:
		return udmStatusUpdate
	case event.KindDNSQuery:
		if r.DNS != nil {
			return udmNetworkDNS
		}
	case event.KindHashUpdate:
		if r.Process != nil {
			return udmProcessUncategorized
		}
	case event.KindLibraryLoad:
		if r.Process != nil && r.Library != nil {
			return udmProcessModuleLoad
		}
	}
	return udmGenericEvent
}

func appendUDM(b []byte, r *event.Record) []byte {
	w := jw{b: b}
	w.open()
	typ := udmEventType(r)
	w.obj("metadata")
	w.time("event_timestamp", r.Time)
	w.str("event_type", typ)
	w.str("vendor_name", udmVendor)
	w.str("product_name", udmProduct)
	if r.Health != nil {
		w.strNZ("product_version", r.Health.Version)
	}
	w.str("product_event_type", string(r.Kind))
	w.strNZ("product_log_id", r.ID)
	switch {
	case r.Detection != nil:
		w.strNZ("description", r.Detection.Summary)
	case r.Health != nil:
		w.str("description", "sensor "+r.Health.State)
	}
	w.end()

	switch {
	case r.Detection != nil:
		udmDetection(&w, r)
	case r.Health != nil:
		udmHealth(&w, r)
	case typ == udmNetworkConnection:
		udmConnection(&w, r)
	case typ == udmNetworkDNS:
		udmDNS(&w, r)
	case typ == udmProcessModuleLoad:
		udmModuleLoad(&w, r)
	case r.Process != nil:
		udmLaunch(&w, r)
	default:
		udmPrincipalHost(&w, r, "")
		w.end()
		if r.RefID != "" {
			w.obj("additional")
			w.str("ref_id", r.RefID)
			w.end()
		}
	}
	w.end()
	return w.b
}

// udmPrincipalHost opens principal and writes the machine identifiers
// every UDM event needs. The caller closes it.
func udmPrincipalHost(w *jw, r *event.Record, hostname string) {
	if hostname == "" {
		hostname = r.Host.Hostname
	}
	if hostname == "" {
		// principal must name a machine or the event is invalid.
		hostname = "unknown"
	}
	w.obj("principal")
	w.str("hostname", hostname)
	w.str("platform", "LINUX")
}

// udmLaunch maps process_launch and hash_update: principal is the
// launching (parent) process, target.process the program just executed.
func udmLaunch(w *jw, r *event.Record) {
	p := r.Process
	udmPrincipalHost(w, r, "")
	w.obj("user")
	w.uintStr("userid", uint64(p.UID))
	w.end()
	if par, ok := parentOf(p); ok {
		w.obj("process")
		w.uintStr("pid", uint64(par.pid))
		if len(par.args) > 0 {
			w.joined("command_line", par.args)
		}
		udmPath(w, par.exePath)
		w.end()
	}
	w.end()

	w.obj("target")
	w.str("hostname", principalHost(r))
	w.obj("process")
	udmProcessBody(w, r, p)
	w.end()
	udmAncestors(w, p)
	w.end()
	udmAbout(w, p)
	udmProcessAdditional(w, r, p)
}

// udmModuleLoad maps library_load: principal is the process that mapped
// the file, target.process the same process with the module as its file,
// as UDM's PROCESS_MODULE_LOAD has it.
func udmModuleLoad(w *jw, r *event.Record) {
	p, l := r.Process, r.Library
	udmPrincipalHost(w, r, "")
	udmUserProcess(w, r, p)
	udmAncestors(w, p)
	w.end()

	w.obj("target")
	w.str("hostname", principalHost(r))
	w.obj("process")
	w.uintStr("pid", uint64(p.PID))
	udmFile(w, "file", l.Path, l.SHA256, l.Size, l.MtimeNs, l.Trust)
	w.end()
	w.end()
	udmProcessAdditional(w, r, p)
}

// udmUserProcess writes the acting process of a principal: its user and
// its process (launches write their parent there instead).
func udmUserProcess(w *jw, r *event.Record, p *event.Process) {
	w.obj("user")
	w.uintStr("userid", uint64(p.UID))
	w.end()
	w.obj("process")
	udmProcessBody(w, r, p)
	w.end()
}

func principalHost(r *event.Record) string {
	if r.Host.Hostname == "" {
		return "unknown"
	}
	return r.Host.Hostname
}

// udmConnection maps network_connection: principal is the connecting
// process, target the destination.
func udmConnection(w *jw, r *event.Record) {
	n := r.Network
	udmPrincipalHost(w, r, "")
	if n.SrcIP != "" {
		w.arr("ip")
		w.elemStr(normIP(n.SrcIP))
		w.endArr()
	}
	if n.SrcPort != 0 {
		w.uint("port", uint64(n.SrcPort))
	}
	if p := r.Process; p != nil {
		udmUserProcess(w, r, p)
		udmAncestors(w, p)
	}
	w.end()

	w.obj("target")
	w.strNZ("hostname", n.DstHostname)
	w.arr("ip")
	w.elemStr(normIP(n.DstIP))
	w.endArr()
	w.uint("port", uint64(n.DstPort))
	w.end()

	udmNetwork(w, n)
	if r.Process != nil {
		udmAbout(w, r.Process)
	}
	udmProcessAdditional(w, r, r.Process)
}

// udmDNS maps dns_query: principal is the process that received the
// answer, target the server that gave it, network.dns the message.
func udmDNS(w *jw, r *event.Record) {
	d := r.DNS
	udmPrincipalHost(w, r, "")
	w.arr("ip")
	w.elemStr(normIP(d.ClientIP))
	w.endArr()
	w.uint("port", uint64(d.ClientPort))
	if p := r.Process; p != nil {
		udmUserProcess(w, r, p)
	}
	w.end()

	w.obj("target")
	w.arr("ip")
	w.elemStr(normIP(d.ServerIP))
	w.endArr()
	w.uint("port", uint64(d.ServerPort))
	w.end()

	w.obj("network")
	w.str("application_protocol", "DNS")
	if proto := udmIPProtocol(d.Transport); proto != "" {
		w.str("ip_protocol", proto)
	}
	w.str("direction", "OUTBOUND")
	w.obj("dns")
	w.uint("id", uint64(d.ID))
	w.bool("response", true)
	if d.ServerTruncated {
		w.bool("truncated", true)
	}
	w.uint("response_code", uint64(dnsRCodeNumber(d.RCode)))
	w.arr("questions")
	w.open()
	w.str("name", d.Name)
	w.uint("type", uint64(dnsTypeNumber(d.Type)))
	w.uint("class", 1)
	w.end()
	w.endArr()
	if len(d.Answers) > 0 {
		w.arr("answers")
		for _, a := range d.Answers {
			w.open()
			w.str("name", a.Name)
			w.uint("type", uint64(dnsTypeNumber(a.Type)))
			w.uint("class", 1)
			w.uint("ttl", uint64(a.TTL))
			w.strNZ("data", a.Data)
			w.end()
		}
		w.endArr()
	}
	w.end()
	w.end()
	if r.Process != nil {
		udmAbout(w, r.Process)
	}
	udmProcessAdditional(w, r, r.Process)
}

func udmNetwork(w *jw, n *event.Network) {
	w.obj("network")
	if proto := udmIPProtocol(n.Protocol); proto != "" {
		w.str("ip_protocol", proto)
	}
	w.str("direction", "OUTBOUND")
	w.end()
}

// udmIPProtocol maps argus protocol names to the UDM Network.IpProtocol
// enum; a protocol the enum lacks is left out (it stays in additional).
func udmIPProtocol(p string) string {
	switch p {
	case "tcp", "mptcp", "6":
		return "TCP"
	case "udp", "17":
		return "UDP"
	case "icmp", "1":
		return "ICMP"
	case "icmpv6", "58":
		return "ICMP6"
	case "sctp", "132":
		return "SCTP"
	case "gre", "47":
		return "GRE"
	}
	return ""
}

// udmProcessBody writes the members of a UDM Process for p.
func udmProcessBody(w *jw, r *event.Record, p *event.Process) {
	w.uintStr("pid", uint64(p.PID))
	if len(p.Args) > 0 {
		w.joined("command_line", p.Args)
	} else if p.Exe.Path != "" {
		w.str("command_line", p.Exe.Path)
	}
	w.processID("product_specific_process_id", r.Host.BootID, p)
	udmFile(w, "file", p.Exe.Path, p.Exe.SHA256, p.Exe.Size, p.Exe.MtimeNs, p.Exe.Trust)
	if par, ok := parentOf(p); ok {
		w.obj("parent_process")
		w.uintStr("pid", uint64(par.pid))
		udmPath(w, par.exePath)
		w.end()
	}
}

// udmPath writes a File that only has a path, if there is one.
func udmPath(w *jw, fullPath string) {
	if fullPath == "" {
		return
	}
	w.obj("file")
	w.str("full_path", fullPath)
	w.end()
}

// udmAncestors writes Noun.process_ancestors, parent first as in UDM.
func udmAncestors(w *jw, p *event.Process) {
	if len(p.Ancestors) == 0 {
		return
	}
	w.arr("process_ancestors")
	for _, a := range p.Ancestors {
		w.open()
		w.uintStr("pid", uint64(a.PID))
		if len(a.Args) > 0 {
			w.joined("command_line", a.Args)
		}
		udmPath(w, a.ExePath)
		w.end()
	}
	w.endArr()
}

// udmFile writes a UDM File. The trust verdict becomes the file's
// security_result, where the T1587 rule reads its severity.
func udmFile(w *jw, k, fullPath, sha256 string, size, mtimeNs int64, t *event.Trust) {
	w.obj(k)
	w.strNZ("full_path", fullPath)
	w.strNZ("sha256", sha256)
	if size > 0 {
		w.uintStr("size", uint64(size))
	}
	if t != nil {
		w.arr("security_result")
		udmTrust(w, t)
		w.endArr()
	}
	w.end()
}

func udmTrust(w *jw, t *event.Trust) {
	w.open()
	if udmSeverity(t.Severity) {
		w.str("severity", t.Severity)
	}
	w.str("summary", "argus trust verdict: "+t.Verdict)
	w.strNZ("description", t.Reason)
	w.strs("category_details", []string{t.Verdict})
	w.arr("detection_fields")
	udmLabel(w, "trust_verdict", t.Verdict)
	if t.Package != "" {
		udmLabel(w, "trust_package", t.Package)
	}
	if t.Signer != "" {
		udmLabel(w, "trust_signer", t.Signer)
	}
	w.endArr()
	w.end()
}

func udmLabel(w *jw, k, v string) {
	w.open()
	w.str("key", k)
	w.str("value", v)
	w.end()
}

// udmSeverity reports whether s is a value of the UDM SecurityResult
// severity enum; anything else would make Chronicle reject the event.
func udmSeverity(s string) bool {
	switch s {
	case "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "ERROR", "NONE", "UNKNOWN_SEVERITY":
		return true
	}
	return false
}

// udmAbout puts the file an interpreter runs, and the untrusted libraries
// a connecting process loaded, in about[]: UDM's Process has no place for
// them, and about is for entities "referenced by the event that are not
// otherwise described".
func udmAbout(w *jw, p *event.Process) {
	sc := p.Script
	if sc == nil && len(p.Libraries) == 0 {
		return
	}
	w.arr("about")
	if sc != nil {
		w.open()
		udmFile(w, "file", sc.Path, sc.SHA256, 0, 0, sc.Trust)
		w.end()
	}
	for i := range p.Libraries {
		l := &p.Libraries[i]
		w.open()
		udmFile(w, "file", l.Path, l.SHA256, l.Size, l.MtimeNs, l.Trust)
		w.end()
	}
	w.endArr()
}

// udmProcessAdditional writes what UDM has no field for into additional
// (a protobuf Struct, a plain JSON object on the wire). 64-bit values go
// as strings: Struct numbers are doubles.
func udmProcessAdditional(w *jw, r *event.Record, p *event.Process) {
	w.obj("additional")
	w.strNZ("boot_id", r.Host.BootID)
	w.strNZ("ref_id", r.RefID)
	if p != nil {
		w.uintStr("start_time_ns", p.StartTimeNs)
		if p.TID != 0 {
			w.uint("tid", uint64(p.TID))
		}
		w.uint("ppid", uint64(p.PPID))
		w.uint("uid", uint64(p.UID))
		w.uint("gid", uint64(p.GID))
		w.uint("euid", uint64(p.EUID))
		w.uint("egid", uint64(p.EGID))
		if p.AUID != nil {
			w.uint("auid", uint64(*p.AUID))
		}
		w.strNZ("comm", p.Comm)
		if p.Parent != nil {
			w.strNZ("parent_comm", p.Parent.Comm)
		}
		w.str("cwd", p.Cwd)
		if p.ArgsTruncated {
			w.bool("args_truncated", true)
		}
		if p.CwdTruncated {
			w.bool("cwd_truncated", true)
		}
		if p.CgroupID != 0 {
			w.uintStr("cgroup_id", p.CgroupID)
		}
		udmContainer(w, p)
		w.strNZ("source", p.Source)
		e := &p.Exe
		w.strNZ("exe_invoked_as", e.InvokedAs)
		w.uintStr("exe_device", e.Device)
		w.uintStr("exe_inode", e.Inode)
		w.uint("exe_mode", uint64(e.Mode))
		w.uint("exe_uid", uint64(e.UID))
		w.uint("exe_nlink", uint64(e.Nlink))
		w.bool("exe_memfd", e.Memfd)
		w.bool("exe_deleted", e.Deleted)
		if e.PathTruncated {
			w.bool("exe_path_truncated", true)
		}
		w.strNZ("exe_hash_status", e.HashStatus)
		if len(e.PathClasses) > 0 {
			w.strs("exe_path_classes", e.PathClasses)
		}
		udmAge(w, "exe_", e.AgeSeconds, e.AgeSource, e.Prevalence)
		if t := e.Trust; t != nil {
			w.str("exe_trust_verdict", t.Verdict)
			w.strNZ("exe_trust_severity", t.Severity)
			w.strNZ("exe_trust_package", t.Package)
			w.strNZ("exe_trust_signer", t.Signer)
			w.strNZ("exe_trust_reason", t.Reason)
		}
		if rl := p.ExeRelabeled; rl != nil {
			w.strNZ("exe_relabeled_path", rl.Path)
			w.uintStr("exe_relabeled_device", rl.Device)
			w.uintStr("exe_relabeled_inode", rl.Inode)
		}
		w.strNZ("code_origin", p.CodeOrigin)
		if sc := p.Script; sc != nil {
			w.str("script_path", sc.Path)
			w.strNZ("script_hash_status", sc.HashStatus)
			if len(sc.PathClasses) > 0 {
				w.strs("script_path_classes", sc.PathClasses)
			}
			if t := sc.Trust; t != nil {
				w.str("script_trust_verdict", t.Verdict)
				w.strNZ("script_trust_severity", t.Severity)
			}
			udmAge(w, "script_", sc.AgeSeconds, sc.AgeSource, sc.Prevalence)
		}
		for _, v := range p.LoaderEnv {
			w.str("loader_env_"+v.Name, v.Value)
			if v.Truncated {
				w.bool("loader_env_"+v.Name+"_truncated", true)
			}
			if len(v.PathClasses) > 0 {
				w.strs("loader_env_"+v.Name+"_path_classes", v.PathClasses)
			}
		}
		if p.LoaderEnvTruncated {
			w.bool("loader_env_truncated", true)
		}
		var libClasses []string
		for _, l := range p.Libraries {
			for _, c := range l.PathClasses {
				if !slices.Contains(libClasses, c) {
					libClasses = append(libClasses, c)
				}
			}
		}
		if len(libClasses) > 0 {
			w.strs("libraries_path_classes", libClasses)
		}
	}
	if l := r.Library; l != nil {
		w.uintStr("library_device", l.Device)
		w.uintStr("library_inode", l.Inode)
		w.uint("library_mode", uint64(l.Mode))
		w.uint("library_uid", uint64(l.UID))
		w.bool("library_memfd", l.Memfd)
		w.bool("library_deleted", l.Deleted)
		if l.PathTruncated {
			w.bool("library_path_truncated", true)
		}
		w.strNZ("library_fs_type", l.FSType)
		w.strNZ("library_hash_status", l.HashStatus)
		if len(l.PathClasses) > 0 {
			w.strs("library_path_classes", l.PathClasses)
		}
		if t := l.Trust; t != nil {
			w.str("library_trust_verdict", t.Verdict)
			w.strNZ("library_trust_severity", t.Severity)
			w.strNZ("library_trust_package", t.Package)
		}
		w.str("library_via", l.Via)
		w.strNZ("library_preload", l.Preload)
	}
	if n := r.Network; n != nil {
		w.str("network_protocol", n.Protocol)
		w.str("network_family", n.Family)
		w.str("network_result", n.Result)
		w.int("network_result_code", int64(n.ResultCode))
		if n.NetNS != 0 {
			w.uint("network_netns", uint64(n.NetNS))
		}
		if n.External != nil {
			w.bool("network_external", *n.External)
		}
		w.strNZ("network_source", n.Source)
		if n.Count != 0 {
			w.uint("network_count", n.Count)
			w.time("network_first_seen", n.FirstSeen)
			w.time("network_last_seen", n.LastSeen)
		}
		if normIP(n.DstIP) != n.DstIP {
			w.str("network_dst_ip_original", n.DstIP)
		}
	}
	if d := r.DNS; d != nil {
		if len(d.ResolvedIPs) > 0 {
			w.strs("dns_resolved_ips", d.ResolvedIPs)
		}
		w.str("dns_rcode", d.RCode)
		w.str("dns_type", d.Type)
		if d.Truncated {
			w.bool("dns_truncated", true)
		}
		if d.Partial {
			w.bool("dns_partial", true)
		}
	}
	w.end()
}

func udmHealth(w *jw, r *event.Record) {
	h := r.Health
	udmPrincipalHost(w, r, "")
	w.str("application", udmProduct)
	w.end()
	var outDropped uint64
	for _, o := range h.Outputs {
		outDropped += o.Dropped
	}
	if h.EventsLost > 0 || h.EventsDropped > 0 || outDropped > 0 {
		// A sensor that lost events is blind for part of the period, and
		// one whose outputs dropped records leaves the SIEM blind: say so
		// where a SIEM looks for things to alert on.
		summary := "argus sensor lost events"
		if h.EventsLost == 0 && h.EventsDropped == 0 {
			summary = "argus outputs dropped records"
		}
		w.arr("security_result")
		w.open()
		w.str("severity", "MEDIUM")
		w.str("summary", summary)
		w.strs("category_details", []string{"sensor_degraded"})
		w.end()
		w.endArr()
	}
	w.obj("additional")
	w.strNZ("boot_id", r.Host.BootID)
	w.str("state", h.State)
	w.uint("events_lost", h.EventsLost)
	w.uint("events_dropped", h.EventsDropped)
	w.uint("decode_errors", h.DecodeErrors)
	w.uint("write_errors", h.WriteErrors)
	w.int("processes", int64(h.Processes))
	w.uint("processes_evicted", h.ProcessesEvicted)
	w.int("ring_bytes", int64(h.RingBytes))
	w.int("ring_pending", int64(h.RingPending))
	w.float("uptime_seconds", h.UptimeSeconds)
	w.strNZ("version", h.Version)
	w.strNZ("last_error", h.LastError)
	attached, failed := 0, []string(nil)
	for _, hk := range h.Hooks {
		if hk.Attached {
			attached++
		} else {
			failed = append(failed, hk.Name)
		}
	}
	w.int("hooks_attached", int64(attached))
	if len(failed) > 0 {
		w.strs("hooks_failed", failed)
	}
	for _, k := range sortedKeys(h.EventsByKind) {
		w.uint("events_by_kind_"+k, h.EventsByKind[k])
	}
	for _, k := range sortedKeys(h.LostByKind) {
		w.uint("lost_by_kind_"+k, h.LostByKind[k])
	}
	if hs := h.Hashing; hs != nil {
		w.uint("hashing_cache_hits", hs.CacheHits)
		w.uint("hashing_cache_misses", hs.CacheMisses)
		w.float("hashing_hit_ratio", hs.HitRatio)
		w.uint("hashing_files_hashed", hs.FilesHashed)
		w.uint("hashing_bytes_hashed", hs.BytesHashed)
		w.int("hashing_in_flight", hs.InFlight)
		w.uint("hashing_late_dropped", hs.LateDropped)
		for _, k := range sortedKeys(hs.Failures) {
			w.uint("hashing_failures_"+k, hs.Failures[k])
		}
	}
	for _, k := range sortedKeys(h.TrustVerdicts) {
		w.uint("trust_verdicts_"+k, h.TrustVerdicts[k])
	}
	if d := h.Detection; d != nil {
		w.int("detection_keys", int64(d.Keys))
		w.uint("detection_evicted", d.Evicted)
		for _, k := range sortedKeys(d.ByRule) {
			w.uint("detection_by_rule_"+k, d.ByRule[k])
		}
		for _, k := range sortedKeys(d.Allowlisted) {
			w.uint("detection_allowlisted_"+k, d.Allowlisted[k])
		}
	}
	if len(h.Outputs) > 0 {
		w.uint("outputs_dropped", outDropped)
		w.arr("outputs")
		for _, o := range h.Outputs {
			w.open()
			w.str("name", o.Name)
			w.str("format", o.Format)
			w.uint("sent", o.Sent)
			w.uint("errors", o.Errors)
			w.uint("retries", o.Retries)
			w.uint("spool_records", o.SpoolRecords)
			w.int("spool_bytes", o.SpoolBytes)
			w.uint("dropped", o.Dropped)
			w.strNZ("last_error", o.LastError)
			w.end()
		}
		w.endArr()
	}
	w.end()
}

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// udmDetection maps a rule match: a GENERIC_EVENT whose security_result
// carries the rule, severity and ATT&CK details, with the suspect process
// as principal and the contacted address as target.
func udmDetection(w *jw, r *event.Record) {
	d := r.Detection
	src, p := detectionProcess(d)
	udmPrincipalHost(w, r, d.Hostname)
	if p != nil {
		w.obj("process")
		bootRec := *r
		if src != nil {
			bootRec.Host.BootID = src.Host.BootID
		}
		udmProcessBodyWithHash(w, &bootRec, p, d.SHA256)
		w.end()
	} else if d.SHA256 != "" {
		w.obj("process")
		udmFile(w, "file", "", d.SHA256, 0, 0, nil)
		w.end()
	}
	w.end()
	if n := detectionNetwork(d); n != nil && n.DstIP != "" {
		w.obj("target")
		w.strNZ("hostname", n.DstHostname)
		w.arr("ip")
		w.elemStr(normIP(n.DstIP))
		w.endArr()
		w.uint("port", uint64(n.DstPort))
		w.end()
		udmNetwork(w, n)
	}

	w.arr("security_result")
	w.open()
	w.str("rule_name", d.Rule)
	w.str("rule_id", d.Rule)
	w.str("rule_type", "MULTI_EVENT")
	if udmSeverity(d.Severity) {
		w.str("severity", d.Severity)
	}
	if d.Summary != "" {
		w.str("summary", d.Summary)
	} else {
		w.str("summary", d.Rule)
	}
	w.strs("category", []string{"SOFTWARE_SUSPICIOUS"})
	w.str("alert_state", "ALERTING")
	w.obj("attack_details")
	if d.Tactic != "" {
		w.arr("tactics")
		w.open()
		w.strNZ("id", tacticID(d.Tactic))
		if !strings.HasPrefix(d.Tactic, "TA") {
			w.str("name", d.Tactic)
		}
		w.end()
		w.endArr()
	}
	if ts := techniques(d); len(ts) > 0 {
		w.arr("techniques")
		for _, t := range ts {
			w.open()
			parent, _, sub := strings.Cut(t, ".")
			w.str("id", parent)
			w.strNZ("name", mitreTechniques[parent])
			if sub {
				w.str("subtechnique_id", t)
				w.strNZ("subtechnique_name", mitreTechniques[t])
			}
			w.end()
		}
		w.endArr()
	}
	w.end()
	w.arr("rule_labels")
	udmLabel(w, "mitre_attack_tactic", d.Tactic)
	udmLabel(w, "mitre_attack_technique", d.Technique)
	w.endArr()
	w.arr("detection_fields")
	udmLabel(w, "window_seconds", strconv.FormatInt(d.WindowSeconds, 10))
	udmLabel(w, "degraded", strconv.FormatBool(d.Degraded))
	if d.Connections > 0 {
		udmLabel(w, "connection_count", strconv.Itoa(d.Connections))
	}
	w.endArr()
	w.end()
	w.endArr()

	w.obj("additional")
	w.strNZ("boot_id", r.Host.BootID)
	w.time("first_seen", d.FirstSeen)
	w.time("last_seen", d.LastSeen)
	w.int("window_seconds", d.WindowSeconds)
	w.strNZ("join_key", d.JoinKey)
	w.strNZ("file_identity", d.FileIdentity)
	w.strNZ("hash_status", d.HashStatus)
	w.bool("degraded", d.Degraded)
	if d.Connections > 0 {
		w.int("connection_count", int64(d.Connections))
	}
	if len(d.Techniques) > 0 {
		w.strs("techniques", d.Techniques)
	}
	if _, p := detectionProcess(d); p != nil {
		udmContainer(w, p)
	}
	if len(d.Events) > 0 {
		w.arr("event_ids")
		for i := range d.Events {
			w.elemStr(d.Events[i].ID)
		}
		w.endArr()
	}
	if len(d.ProcessTree) > 0 {
		w.arr("process_tree")
		for _, a := range d.ProcessTree {
			w.elemStr(strconv.FormatUint(uint64(a.PID), 10) + " " + a.ExePath)
		}
		w.endArr()
	}
	w.end()
}

// udmProcessBodyWithHash is udmProcessBody with the detection's hash
// filled in when the triggering record predates the hash.
func udmProcessBodyWithHash(w *jw, r *event.Record, p *event.Process, sha256 string) {
	if p.Exe.SHA256 == "" && sha256 != "" {
		cp := *p
		cp.Exe.SHA256 = sha256
		p = &cp
	}
	udmProcessBody(w, r, p)
}

// udmAge writes a file's age and prevalence into additional: UDM's File
// has no field for how new and how common a binary is on one host.
func udmAge(w *jw, prefix string, age *int64, source string, p *event.Prevalence) {
	if age != nil {
		w.int(prefix+"age_seconds", *age)
	}
	w.strNZ(prefix+"age_source", source)
	if p != nil {
		w.time(prefix+"prevalence_first_seen", p.FirstSeen)
		w.uintStr(prefix+"prevalence_executions", p.Executions)
		w.bool(prefix+"prevalence_first_execution", p.FirstExecution)
		w.bool(prefix+"prevalence_connected_outside", p.ConnectedOutside)
	}
}

// udmContainer writes the container and pod of p into additional. UDM's
// Noun.resource could hold them (resource_type CONTAINER, POD in
// resource_ancestors), but those enum values were not checked against a
// live Chronicle, and one invalid value makes events:import reject the
// whole batch: the flat additional fields cannot.
func udmContainer(w *jw, p *event.Process) {
	if c := p.Container; c != nil {
		w.str("container_id", c.ID)
		w.strNZ("container_runtime", c.Runtime)
		w.strNZ("container_name", c.Name)
		w.strNZ("container_image", c.Image)
		w.strNZ("container_image_id", c.ImageID)
	}
	if k := p.K8s; k != nil {
		w.strNZ("k8s_pod_name", k.PodName)
		w.strNZ("k8s_namespace", k.Namespace)
		w.strNZ("k8s_pod_uid", k.PodUID)
		w.strNZ("k8s_container_name", k.ContainerName)
	}
}
