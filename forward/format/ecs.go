package format

import (
	"encoding/json"
	"path"
	"strconv"
	"strings"

	"github.com/argus-sensor/argus-sensor/event"
)

// ecsVersion is the ECS release whose field names the output uses.
const ecsVersion = "9.4.0"

// appendECS encodes r in Elastic Common Schema: documents index into a
// logs-* data stream as they are, with no ingest pipeline. Fields ECS has
// no name for go under the custom "argus" namespace, as ECS recommends.
func appendECS(b []byte, r *event.Record) []byte {
	w := jw{b: b}
	w.open()
	w.time("@timestamp", r.Time)
	w.obj("ecs")
	w.str("version", ecsVersion)
	w.end()
	w.obj("agent")
	w.str("type", udmProduct)
	w.str("name", udmProduct)
	if r.Health != nil {
		w.strNZ("version", r.Health.Version)
	}
	w.end()
	hostname := r.Host.Hostname
	if r.Detection != nil && r.Detection.Hostname != "" {
		hostname = r.Detection.Hostname
	}
	w.obj("host")
	w.str("hostname", hostname)
	w.str("name", hostname)
	if r.Host.BootID != "" {
		w.obj("boot")
		w.str("id", r.Host.BootID)
		w.end()
	}
	w.obj("os")
	w.str("type", "linux")
	w.end()
	w.end()

	switch {
	case r.Detection != nil:
		ecsDetection(&w, r)
	case r.Health != nil:
		ecsEvent(&w, r, "metric", "host", "info", "sensor_health", "")
		w.obj("argus")
		w.str("kind", string(r.Kind))
		h, err := json.Marshal(r.Health)
		if err != nil {
			h = []byte(`{"state":"error"}`)
		}
		w.raw("health", h)
		w.end()
		w.str("message", "argus sensor "+r.Health.State)
	case r.DNS != nil:
		ecsDNS(&w, r)
	case r.Network != nil:
		outcome := "failure"
		switch r.Network.Result {
		case "success", "established":
			outcome = "success"
		case "EINPROGRESS", "submitted":
			outcome = "unknown"
		}
		ecsEvent(&w, r, "event", "network", "connection", "connect", outcome)
		ecsNetwork(&w, r.Network)
		if r.Process != nil {
			ecsProcess(&w, r, r.Process, "")
			ecsUser(&w, r.Process)
			ecsContainer(&w, r.Process)
		}
		ecsArgus(&w, r, r.Process)
	case r.Library != nil && r.Process != nil:
		ecsEvent(&w, r, "event", "library", "start", "library_load", "success")
		ecsProcess(&w, r, r.Process, "")
		ecsUser(&w, r.Process)
		ecsDLL(&w, r.Library)
		ecsArgus(&w, r, r.Process)
	case r.Process != nil:
		typ, action := "start", "exec"
		if r.Kind == event.KindHashUpdate {
			typ, action = "change", "hash_update"
		}
		ecsEvent(&w, r, "event", "process", typ, action, "success")
		ecsProcess(&w, r, r.Process, "")
		ecsUser(&w, r.Process)
		ecsContainer(&w, r.Process)
		ecsArgus(&w, r, r.Process)
	default:
		ecsEvent(&w, r, "event", "host", "info", string(r.Kind), "")
		ecsArgus(&w, r, nil)
	}
	w.end()
	return w.b
}

// ecsContainer writes ECS's container and orchestrator fields: the
// container the process runs in, and its Kubernetes pod as the
// orchestrator's resource.
func ecsContainer(w *jw, p *event.Process) {
	if c := p.Container; c != nil {
		w.obj("container")
		w.str("id", c.ID)
		w.strNZ("name", c.Name)
		w.strNZ("runtime", c.Runtime)
		if c.Image != "" || c.ImageID != "" {
			w.obj("image")
			w.strNZ("name", c.Image)
			if c.ImageID != "" {
				w.obj("hash")
				w.strs("all", []string{c.ImageID})
				w.end()
			}
			w.end()
		}
		w.end()
	}
	if k := p.K8s; k != nil {
		w.obj("orchestrator")
		w.str("type", "kubernetes")
		w.strNZ("namespace", k.Namespace)
		w.obj("resource")
		w.str("type", "pod")
		w.strNZ("name", k.PodName)
		w.strNZ("id", k.PodUID)
		w.end()
		w.end()
	}
}

func ecsEvent(w *jw, r *event.Record, kind, category, typ, action, outcome string) {
	w.obj("event")
	w.str("kind", kind)
	w.strs("category", []string{category})
	if typ == "connection" {
		w.strs("type", []string{"connection", "start"})
	} else {
		w.strs("type", []string{typ})
	}
	w.str("action", action)
	w.strNZ("outcome", outcome)
	w.strNZ("id", r.ID)
	w.str("module", "argus")
	w.str("dataset", "argus."+string(r.Kind))
	w.end()
}

// ecsProcess writes process.*; ECS splits credentials into the effective
// user (process.user) and the real one (process.real_user).
func ecsProcess(w *jw, r *event.Record, p *event.Process, sha256 string) {
	w.obj("process")
	w.uint("pid", uint64(p.PID))
	if p.TID != 0 {
		w.obj("thread")
		w.uint("id", uint64(p.TID))
		w.end()
	}
	w.processID("entity_id", r.Host.BootID, p)
	w.strNZ("name", exeName(p))
	w.strNZ("executable", p.Exe.Path)
	if p.Args != nil {
		w.strs("args", p.Args)
		w.uint("args_count", uint64(len(p.Args)))
		w.joined("command_line", p.Args)
	}
	w.strNZ("working_directory", p.Cwd)
	if sha256 == "" {
		sha256 = p.Exe.SHA256
	}
	if sha256 != "" {
		w.obj("hash")
		w.str("sha256", sha256)
		w.end()
	}
	if t := p.Exe.Trust; t != nil && t.Signer != "" {
		w.obj("code_signature")
		w.bool("exists", true)
		w.str("subject_name", t.Signer)
		w.bool("trusted", t.Severity == "INFORMATIONAL")
		w.str("status", t.Verdict)
		w.end()
	}
	w.obj("user")
	w.uintStr("id", uint64(p.EUID))
	w.end()
	w.obj("group")
	w.uintStr("id", uint64(p.EGID))
	w.end()
	w.obj("real_user")
	w.uintStr("id", uint64(p.UID))
	w.end()
	w.obj("real_group")
	w.uintStr("id", uint64(p.GID))
	w.end()
	if par, ok := parentOf(p); ok {
		w.obj("parent")
		w.uint("pid", uint64(par.pid))
		w.strNZ("executable", par.exePath)
		w.strNZ("name", par.comm)
		if par.args != nil {
			w.strs("args", par.args)
			w.joined("command_line", par.args)
		}
		w.end()
	}
	w.end()
}

// ecsUser writes the top-level user: the real uid, who ran the program.
func ecsUser(w *jw, p *event.Process) {
	w.obj("user")
	w.uintStr("id", uint64(p.UID))
	w.end()
}

func ecsNetwork(w *jw, n *event.Network) {
	if n.SrcIP != "" || n.SrcPort != 0 {
		w.obj("source")
		if n.SrcIP != "" {
			w.str("ip", normIP(n.SrcIP))
		}
		if n.SrcPort != 0 {
			w.uint("port", uint64(n.SrcPort))
		}
		w.end()
	}
	w.obj("destination")
	if n.DstIP != "" {
		w.str("ip", normIP(n.DstIP))
	}
	w.uint("port", uint64(n.DstPort))
	w.strNZ("domain", n.DstHostname)
	w.end()
	w.obj("network")
	w.str("transport", n.Protocol)
	if num := ianaNumber(n.Protocol); num != "" {
		w.str("iana_number", num)
	}
	w.str("type", n.Family)
	// ECS asks host-based sensors for the host's point of view.
	w.str("direction", "egress")
	w.end()
}

func ianaNumber(p string) string {
	switch p {
	case "tcp", "mptcp":
		return "6"
	case "udp":
		return "17"
	case "icmp":
		return "1"
	case "icmpv6":
		return "58"
	case "sctp":
		return "132"
	case "udplite":
		return "136"
	}
	if _, err := strconv.Atoi(p); err == nil {
		return p
	}
	return ""
}

// ecsArgus writes the custom namespace: what ECS has no field for.
func ecsArgus(w *jw, r *event.Record, p *event.Process) {
	w.obj("argus")
	w.str("kind", string(r.Kind))
	w.strNZ("ref_id", r.RefID)
	if p != nil {
		w.obj("process")
		w.uint("start_time_ns", p.StartTimeNs)
		if p.AUID != nil {
			w.uint("auid", uint64(*p.AUID))
		}
		w.strNZ("comm", p.Comm)
		if p.CgroupID != 0 {
			w.uint("cgroup_id", p.CgroupID)
		}
		if k := p.K8s; k != nil && k.ContainerName != "" {
			// ECS has no field for the container's name in the pod spec.
			w.obj("k8s")
			w.str("container_name", k.ContainerName)
			w.end()
		}
		w.strNZ("source", p.Source)
		if p.ArgsTruncated {
			w.bool("args_truncated", true)
		}
		if p.CwdTruncated {
			w.bool("cwd_truncated", true)
		}
		ecsTree(w, "ancestors", p.Ancestors)
		e := &p.Exe
		w.obj("exe")
		w.strNZ("invoked_as", e.InvokedAs)
		w.uint("device", e.Device)
		w.uint("inode", e.Inode)
		w.int("size", e.Size)
		w.int("mtime_ns", e.MtimeNs)
		w.int("ctime_ns", e.CtimeNs)
		w.uint("nlink", uint64(e.Nlink))
		w.uint("mode", uint64(e.Mode))
		w.uint("uid", uint64(e.UID))
		w.bool("memfd", e.Memfd)
		w.bool("deleted", e.Deleted)
		if e.PathTruncated {
			w.bool("path_truncated", true)
		}
		w.strNZ("hash_status", e.HashStatus)
		if len(e.PathClasses) > 0 {
			w.strs("path_classes", e.PathClasses)
		}
		if e.Trust != nil {
			ecsTrust(w, e.Trust)
		}
		ecsAge(w, e.AgeSeconds, e.AgeSource, e.Prevalence)
		w.end()
		if rl := p.ExeRelabeled; rl != nil {
			w.obj("exe_relabeled")
			w.strNZ("path", rl.Path)
			w.uint("device", rl.Device)
			w.uint("inode", rl.Inode)
			w.end()
		}
		w.strNZ("code_origin", p.CodeOrigin)
		if sc := p.Script; sc != nil {
			w.obj("script")
			w.str("path", sc.Path)
			if sc.SHA256 != "" {
				w.obj("hash")
				w.str("sha256", sc.SHA256)
				w.end()
			}
			w.strNZ("hash_status", sc.HashStatus)
			if len(sc.PathClasses) > 0 {
				w.strs("path_classes", sc.PathClasses)
			}
			if sc.Trust != nil {
				ecsTrust(w, sc.Trust)
			}
			ecsAge(w, sc.AgeSeconds, sc.AgeSource, sc.Prevalence)
			w.end()
		}
		if len(p.Libraries) > 0 {
			w.arr("libraries")
			for i := range p.Libraries {
				w.open()
				ecsLibrary(w, &p.Libraries[i], false)
				w.end()
			}
			w.endArr()
		}
		if len(p.LoaderEnv) > 0 {
			w.arr("loader_env")
			for _, v := range p.LoaderEnv {
				w.open()
				w.str("name", v.Name)
				w.str("value", v.Value)
				if v.Truncated {
					w.bool("truncated", true)
				}
				if len(v.PathClasses) > 0 {
					w.strs("path_classes", v.PathClasses)
				}
				w.end()
			}
			w.endArr()
		}
		if p.LoaderEnvTruncated {
			w.bool("loader_env_truncated", true)
		}
		w.end()
	}
	if l := r.Library; l != nil {
		w.obj("library")
		ecsLibrary(w, l, true)
		w.end()
	}
	if n := r.Network; n != nil {
		w.obj("network")
		w.str("result", n.Result)
		w.int("result_code", int64(n.ResultCode))
		if n.NetNS != 0 {
			w.uint("netns", uint64(n.NetNS))
		}
		if n.External != nil {
			w.bool("external", *n.External)
		}
		w.strNZ("source", n.Source)
		if n.Count != 0 {
			w.uint("count", n.Count)
			w.time("first_seen", n.FirstSeen)
			w.time("last_seen", n.LastSeen)
		}
		w.end()
	}
	if d := r.DNS; d != nil && (d.Truncated || d.Partial) {
		w.obj("dns")
		if d.Truncated {
			w.bool("truncated", true)
		}
		if d.Partial {
			w.bool("partial", true)
		}
		w.end()
	}
	w.end()
}

// ecsDNS writes a dns_query as ECS describes a DNS answer: dns.type
// "answer", the question, the answers and the resolved addresses, with the
// receiving host as source and the server as destination.
func ecsDNS(w *jw, r *event.Record) {
	d := r.DNS
	outcome := "success"
	if d.RCode != "NOERROR" {
		outcome = "failure"
	}
	ecsEvent(w, r, "event", "network", "protocol", "dns_answer", outcome)
	w.obj("source")
	w.str("ip", normIP(d.ClientIP))
	w.uint("port", uint64(d.ClientPort))
	w.end()
	w.obj("destination")
	w.str("ip", normIP(d.ServerIP))
	w.uint("port", uint64(d.ServerPort))
	w.end()
	w.obj("network")
	w.str("protocol", "dns")
	w.str("transport", d.Transport)
	w.str("iana_number", ianaNumber(d.Transport))
	if strings.Contains(normIP(d.ServerIP), ":") {
		w.str("type", "ipv6")
	} else {
		w.str("type", "ipv4")
	}
	w.str("direction", "egress")
	w.end()
	w.obj("dns")
	w.str("type", "answer")
	w.str("id", strconv.Itoa(int(d.ID)))
	w.str("response_code", d.RCode)
	if d.ServerTruncated {
		w.strs("header_flags", []string{"TC"})
	}
	w.obj("question")
	w.str("name", d.Name)
	w.str("type", d.Type)
	w.str("class", "IN")
	w.end()
	if len(d.Answers) > 0 {
		w.arr("answers")
		for _, a := range d.Answers {
			w.open()
			w.str("name", a.Name)
			w.str("type", a.Type)
			w.str("class", "IN")
			w.uint("ttl", uint64(a.TTL))
			w.strNZ("data", a.Data)
			w.end()
		}
		w.endArr()
	}
	if len(d.ResolvedIPs) > 0 {
		w.arr("resolved_ip")
		for _, ip := range d.ResolvedIPs {
			w.elemStr(normIP(ip))
		}
		w.endArr()
	}
	w.end()
	if r.Process != nil {
		ecsProcess(w, r, r.Process, "")
		ecsUser(w, r.Process)
	}
	ecsArgus(w, r, r.Process)
	w.str("message", "dns "+d.Name+" "+d.Type+" "+d.RCode)
}

// ecsDLL writes dll.*, ECS's field set for a library loaded into a
// process (on Linux, a shared object).
func ecsDLL(w *jw, l *event.Library) {
	w.obj("dll")
	w.str("path", l.Path)
	w.str("name", path.Base(l.Path))
	if l.SHA256 != "" {
		w.obj("hash")
		w.str("sha256", l.SHA256)
		w.end()
	}
	if t := l.Trust; t != nil {
		w.obj("code_signature")
		w.bool("exists", t.Signer != "" || t.Package != "")
		w.strNZ("subject_name", t.Signer)
		w.bool("trusted", t.Severity == "INFORMATIONAL")
		w.str("status", t.Verdict)
		w.end()
	}
	w.end()
}

// ecsLibrary writes a library's argus fields: what dll.* has no name for.
func ecsLibrary(w *jw, l *event.Library, full bool) {
	w.str("path", l.Path)
	if l.SHA256 != "" {
		w.obj("hash")
		w.str("sha256", l.SHA256)
		w.end()
	}
	w.strNZ("hash_status", l.HashStatus)
	if len(l.PathClasses) > 0 {
		w.strs("path_classes", l.PathClasses)
	}
	if l.Trust != nil {
		ecsTrust(w, l.Trust)
	}
	w.str("via", l.Via)
	w.strNZ("preload", l.Preload)
	if !full {
		return
	}
	w.uint("device", l.Device)
	w.uint("inode", l.Inode)
	w.int("size", l.Size)
	w.int("mtime_ns", l.MtimeNs)
	w.int("ctime_ns", l.CtimeNs)
	w.uint("nlink", uint64(l.Nlink))
	w.uint("mode", uint64(l.Mode))
	w.uint("uid", uint64(l.UID))
	w.bool("memfd", l.Memfd)
	w.bool("deleted", l.Deleted)
	if l.PathTruncated {
		w.bool("path_truncated", true)
	}
	w.strNZ("fs_type", l.FSType)
}

// ecsTree writes a process lineage (a record's ancestors, a detection's
// process tree) as k, if there is one.
func ecsTree(w *jw, k string, tree []event.Ancestor) {
	if len(tree) == 0 {
		return
	}
	w.arr(k)
	for _, a := range tree {
		w.open()
		w.uint("pid", uint64(a.PID))
		w.strNZ("executable", a.ExePath)
		if a.Args != nil {
			w.strs("args", a.Args)
		}
		w.end()
	}
	w.endArr()
}

func ecsTrust(w *jw, t *event.Trust) {
	w.obj("trust")
	w.str("verdict", t.Verdict)
	w.strNZ("severity", t.Severity)
	w.strNZ("package", t.Package)
	w.strNZ("signer", t.Signer)
	w.strNZ("reason", t.Reason)
	w.end()
}

// ecsSeverity maps UDM severity names to event.severity numbers, on the
// 0-100 scale Elastic's own rules use for risk (21 low ... 99 critical).
func ecsSeverity(s string) int64 {
	switch s {
	case "LOW":
		return 21
	case "MEDIUM":
		return 47
	case "HIGH":
		return 73
	case "CRITICAL":
		return 99
	}
	return 0
}

// ecsDetection writes a rule match as event.kind "alert", with rule.* and
// threat.* filled so Elastic's alert views group it by ATT&CK technique.
func ecsDetection(w *jw, r *event.Record) {
	d := r.Detection
	w.obj("event")
	w.str("kind", "alert")
	w.strs("category", []string{"intrusion_detection"})
	w.strs("type", []string{"info"})
	w.str("action", "detection")
	w.strNZ("id", r.ID)
	w.str("module", "argus")
	w.str("dataset", "argus.detection")
	w.int("severity", ecsSeverity(d.Severity))
	w.float("risk_score", float64(ecsSeverity(d.Severity)))
	if !d.FirstSeen.IsZero() {
		w.time("start", d.FirstSeen)
	}
	if !d.LastSeen.IsZero() {
		w.time("end", d.LastSeen)
	}
	w.end()
	w.obj("rule")
	w.str("name", d.Rule)
	w.str("id", d.Rule)
	w.str("ruleset", "argus")
	w.strNZ("description", d.Summary)
	w.end()
	w.obj("threat")
	w.str("framework", "MITRE ATT&CK")
	if d.Tactic != "" {
		w.obj("tactic")
		if id := tacticID(d.Tactic); id != "" {
			w.strs("id", []string{id})
		}
		if !strings.HasPrefix(d.Tactic, "TA") {
			w.strs("name", []string{d.Tactic})
		}
		w.end()
	}
	if ts := techniques(d); len(ts) > 0 {
		var ids, names, subIDs, subNames []string
		for _, t := range ts {
			parent, _, sub := strings.Cut(t, ".")
			if sub {
				subIDs = append(subIDs, t)
				subNames = append(subNames, mitreTechniques[t])
			}
			if !contains(ids, parent) {
				ids = append(ids, parent)
				names = append(names, mitreTechniques[parent])
			}
		}
		w.obj("technique")
		w.strs("id", ids)
		w.strs("name", names)
		if len(subIDs) > 0 {
			w.obj("subtechnique")
			w.strs("id", subIDs)
			w.strs("name", subNames)
			w.end()
		}
		w.end()
	}
	w.end()
	if d.Summary != "" {
		w.str("message", d.Summary)
	} else {
		w.str("message", d.Rule)
	}
	src, p := detectionProcess(d)
	if p != nil {
		pr := r
		if src != nil {
			pr = src
		}
		ecsProcess(w, pr, p, d.SHA256)
		ecsUser(w, p)
		ecsContainer(w, p)
	} else if d.SHA256 != "" {
		w.obj("process")
		w.obj("hash")
		w.str("sha256", d.SHA256)
		w.end()
		w.end()
	}
	if n := detectionNetwork(d); n != nil {
		ecsNetwork(w, n)
	}
	w.obj("argus")
	w.str("kind", string(r.Kind))
	w.obj("detection")
	w.str("severity", d.Severity)
	w.int("window_seconds", d.WindowSeconds)
	w.strNZ("join_key", d.JoinKey)
	w.strNZ("file_identity", d.FileIdentity)
	w.strNZ("hash_status", d.HashStatus)
	w.bool("degraded", d.Degraded)
	if d.Connections > 0 {
		w.int("connection_count", int64(d.Connections))
	}
	if !d.FirstSeen.IsZero() {
		w.time("first_seen", d.FirstSeen)
	}
	if !d.LastSeen.IsZero() {
		w.time("last_seen", d.LastSeen)
	}
	if len(d.Events) > 0 {
		w.arr("event_ids")
		for i := range d.Events {
			w.elemStr(d.Events[i].ID)
		}
		w.endArr()
	}
	ecsTree(w, "process_tree", d.ProcessTree)
	w.end()
	w.end()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// ecsAge writes a file's age and prevalence under argus.*: ECS has no
// field for either.
func ecsAge(w *jw, age *int64, source string, p *event.Prevalence) {
	if age != nil {
		w.int("age_seconds", *age)
	}
	w.strNZ("age_source", source)
	if p != nil {
		w.obj("prevalence")
		w.time("first_seen", p.FirstSeen)
		w.uint("executions", p.Executions)
		w.bool("first_execution", p.FirstExecution)
		w.bool("connected_outside", p.ConnectedOutside)
		w.time("tracked_since", p.TrackedSince)
		w.strNZ("key", p.Key)
		w.end()
	}
}
