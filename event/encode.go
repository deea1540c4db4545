package event

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is RFC 3339 in UTC with all nine fractional digits, so every
// record's time has the same width and sorts as text.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendJSON appends r as one JSON object (no newline) to b. The output
// decodes with encoding/json into an equal Record.
func (r *Record) AppendJSON(b []byte) []byte {
	b = append(b, `{"schema":`...)
	b = AppendString(b, r.Schema)
	b = append(b, `,"id":`...)
	b = AppendString(b, r.ID)
	b = append(b, `,"kind":`...)
	b = AppendString(b, string(r.Kind))
	b = append(b, `,"time":"`...)
	b = AppendTime(b, r.Time)
	b = append(b, `","host":{"hostname":`...)
	b = AppendString(b, r.Host.Hostname)
	if r.Host.BootID != "" {
		b = append(b, `,"boot_id":`...)
		b = AppendString(b, r.Host.BootID)
	}
	b = append(b, '}')
	if r.RefID != "" {
		b = AppendString(append(b, `,"ref_id":`...), r.RefID)
	}
	if r.Process != nil {
		b = append(b, `,"process":`...)
		b = r.Process.appendJSON(b)
	}
	if r.Network != nil {
		b = append(b, `,"network":`...)
		b = r.Network.appendJSON(b)
	}
	if r.DNS != nil {
		b = append(b, `,"dns":`...)
		b = r.DNS.appendJSON(b)
	}
	if r.Library != nil {
		b = r.Library.appendJSON(append(b, `,"library":`...))
	}
	if r.Health != nil {
		// Health is written once a minute: reflection is fine there.
		h, err := json.Marshal(r.Health)
		if err != nil {
			h = []byte(`{"state":"error"}`)
		}
		b = append(b, `,"health":`...)
		b = append(b, h...)
	}
	if r.Detection != nil {
		// Detections are rare and nest whole records: reflection is fine.
		d, err := json.Marshal(r.Detection)
		if err != nil {
			d = []byte(`{"rule":"encoding_error"}`)
		}
		b = append(b, `,"detection":`...)
		b = append(b, d...)
	}
	return append(b, '}')
}

func (p *Process) appendJSON(b []byte) []byte {
	b = appendUint(append(b, `{"pid":`...), uint64(p.PID))
	if p.TID != 0 {
		b = appendUint(append(b, `,"tid":`...), uint64(p.TID))
	}
	b = appendUint(append(b, `,"ppid":`...), uint64(p.PPID))
	b = appendUint(append(b, `,"uid":`...), uint64(p.UID))
	b = appendUint(append(b, `,"gid":`...), uint64(p.GID))
	b = appendUint(append(b, `,"euid":`...), uint64(p.EUID))
	b = appendUint(append(b, `,"egid":`...), uint64(p.EGID))
	if p.AUID != nil {
		b = appendUint(append(b, `,"auid":`...), uint64(*p.AUID))
	}
	b = appendUint(append(b, `,"start_time_ns":`...), p.StartTimeNs)
	if p.Comm != "" {
		b = AppendString(append(b, `,"comm":`...), p.Comm)
	}
	b = appendStrings(append(b, `,"args":`...), p.Args)
	if p.ArgsTruncated {
		b = append(b, `,"args_truncated":true`...)
	}
	b = AppendString(append(b, `,"cwd":`...), p.Cwd)
	if p.CwdTruncated {
		b = append(b, `,"cwd_truncated":true`...)
	}
	if p.CgroupID != 0 {
		b = appendUint(append(b, `,"cgroup_id":`...), p.CgroupID)
	}
	if c := p.Container; c != nil {
		b = AppendString(append(b, `,"container":{"id":`...), c.ID)
		b = appendOpt(b, `,"runtime":`, c.Runtime)
		b = appendOpt(b, `,"name":`, c.Name)
		b = appendOpt(b, `,"image":`, c.Image)
		b = appendOpt(b, `,"image_id":`, c.ImageID)
		b = append(b, '}')
	}
	if k := p.K8s; k != nil {
		b = append(b, `,"k8s":{`...)
		n := len(b)
		b = appendOpt(b, `,"pod_name":`, k.PodName)
		b = appendOpt(b, `,"namespace":`, k.Namespace)
		b = appendOpt(b, `,"pod_uid":`, k.PodUID)
		b = appendOpt(b, `,"container_name":`, k.ContainerName)
		if len(b) > n {
			// The first field's comma.
			b = append(b[:n], b[n+1:]...)
		}
		b = append(b, '}')
	}
	b = p.Exe.appendJSON(append(b, `,"exe":`...))
	if rl := p.ExeRelabeled; rl != nil {
		b = append(b, `,"exe_relabeled":{`...)
		if rl.Path != "" {
			b = AppendString(append(b, `"path":`...), rl.Path)
			b = append(b, ',')
		}
		b = appendUint(append(b, `"device":`...), rl.Device)
		b = appendUint(append(b, `,"inode":`...), rl.Inode)
		b = append(b, '}')
	}
	b = appendOpt(b, `,"code_origin":`, p.CodeOrigin)
	if sc := p.Script; sc != nil {
		b = AppendString(append(b, `,"script":{"path":`...), sc.Path)
		if sc.SHA256 != "" {
			b = AppendString(append(b, `,"sha256":`...), sc.SHA256)
		}
		if sc.HashStatus != "" {
			b = AppendString(append(b, `,"hash_status":`...), sc.HashStatus)
		}
		if len(sc.PathClasses) > 0 {
			b = appendStrings(append(b, `,"path_classes":`...), sc.PathClasses)
		}
		if sc.Trust != nil {
			b = sc.Trust.appendJSON(append(b, `,"trust":`...))
		}
		b = appendAge(b, sc.AgeSeconds, sc.AgeSource, sc.Prevalence)
		b = append(b, '}')
	}
	if len(p.Libraries) > 0 {
		b = append(b, `,"libraries":[`...)
		for i := range p.Libraries {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.Libraries[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(p.LoaderEnv) > 0 {
		b = append(b, `,"loader_env":[`...)
		for i, v := range p.LoaderEnv {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(append(b, `{"name":`...), v.Name)
			b = AppendString(append(b, `,"value":`...), v.Value)
			if v.Truncated {
				b = append(b, `,"truncated":true`...)
			}
			if len(v.PathClasses) > 0 {
				b = appendStrings(append(b, `,"path_classes":`...), v.PathClasses)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if p.LoaderEnvTruncated {
		b = append(b, `,"loader_env_truncated":true`...)
	}
	if p.Parent != nil {
		b = appendUint(append(b, `,"parent":{"pid":`...), uint64(p.Parent.PID))
		if p.Parent.Comm != "" {
			b = AppendString(append(b, `,"comm":`...), p.Parent.Comm)
		}
		b = append(b, `,"exe":{`...)
		if p.Parent.Exe.Path != "" {
			b = AppendString(append(b, `"path":`...), p.Parent.Exe.Path)
		}
		b = append(b, "}}"...)
	}
	if len(p.Ancestors) > 0 {
		b = append(b, `,"ancestors":[`...)
		for i, a := range p.Ancestors {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendUint(append(b, `{"pid":`...), uint64(a.PID))
			if a.ExePath != "" {
				b = AppendString(append(b, `,"exe_path":`...), a.ExePath)
			}
			if len(a.Args) > 0 {
				b = appendStrings(append(b, `,"args":`...), a.Args)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if p.Source != "" {
		b = AppendString(append(b, `,"source":`...), p.Source)
	}
	return append(b, '}')
}

func (e *Exe) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"path":`...), e.Path)
	if e.PathTruncated {
		b = append(b, `,"path_truncated":true`...)
	}
	if e.InvokedAs != "" {
		b = AppendString(append(b, `,"invoked_as":`...), e.InvokedAs)
	}
	b = appendUint(append(b, `,"device":`...), e.Device)
	b = appendUint(append(b, `,"inode":`...), e.Inode)
	b = strconv.AppendInt(append(b, `,"size":`...), e.Size, 10)
	b = strconv.AppendInt(append(b, `,"mtime_ns":`...), e.MtimeNs, 10)
	b = strconv.AppendInt(append(b, `,"ctime_ns":`...), e.CtimeNs, 10)
	b = appendUint(append(b, `,"nlink":`...), uint64(e.Nlink))
	b = appendUint(append(b, `,"mode":`...), uint64(e.Mode))
	b = appendUint(append(b, `,"uid":`...), uint64(e.UID))
	b = strconv.AppendBool(append(b, `,"memfd":`...), e.Memfd)
	b = strconv.AppendBool(append(b, `,"deleted":`...), e.Deleted)
	if e.FSType != "" {
		b = AppendString(append(b, `,"fs_type":`...), e.FSType)
	}
	if e.SHA256 != "" {
		b = AppendString(append(b, `,"sha256":`...), e.SHA256)
	}
	if e.HashStatus != "" {
		b = AppendString(append(b, `,"hash_status":`...), e.HashStatus)
	}
	if e.Trust != nil {
		b = e.Trust.appendJSON(append(b, `,"trust":`...))
	}
	if len(e.PathClasses) > 0 {
		b = appendStrings(append(b, `,"path_classes":`...), e.PathClasses)
	}
	b = appendAge(b, e.AgeSeconds, e.AgeSource, e.Prevalence)
	return append(b, '}')
}

func (l *Library) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"path":`...), l.Path)
	if l.PathTruncated {
		b = append(b, `,"path_truncated":true`...)
	}
	b = appendUint(append(b, `,"device":`...), l.Device)
	b = appendUint(append(b, `,"inode":`...), l.Inode)
	b = strconv.AppendInt(append(b, `,"size":`...), l.Size, 10)
	b = strconv.AppendInt(append(b, `,"mtime_ns":`...), l.MtimeNs, 10)
	b = strconv.AppendInt(append(b, `,"ctime_ns":`...), l.CtimeNs, 10)
	b = appendUint(append(b, `,"nlink":`...), uint64(l.Nlink))
	b = appendUint(append(b, `,"mode":`...), uint64(l.Mode))
	b = appendUint(append(b, `,"uid":`...), uint64(l.UID))
	b = strconv.AppendBool(append(b, `,"memfd":`...), l.Memfd)
	b = strconv.AppendBool(append(b, `,"deleted":`...), l.Deleted)
	if l.FSType != "" {
		b = AppendString(append(b, `,"fs_type":`...), l.FSType)
	}
	if l.SHA256 != "" {
		b = AppendString(append(b, `,"sha256":`...), l.SHA256)
	}
	if l.HashStatus != "" {
		b = AppendString(append(b, `,"hash_status":`...), l.HashStatus)
	}
	if l.Trust != nil {
		b = l.Trust.appendJSON(append(b, `,"trust":`...))
	}
	if len(l.PathClasses) > 0 {
		b = appendStrings(append(b, `,"path_classes":`...), l.PathClasses)
	}
	b = AppendString(append(b, `,"via":`...), l.Via)
	if l.Preload != "" {
		b = AppendString(append(b, `,"preload":`...), l.Preload)
	}
	return append(b, '}')
}

// appendAge writes an executable's or script's age and prevalence.
func appendAge(b []byte, age *int64, source string, p *Prevalence) []byte {
	if age != nil {
		b = strconv.AppendInt(append(b, `,"age_seconds":`...), *age, 10)
	}
	if source != "" {
		b = AppendString(append(b, `,"age_source":`...), source)
	}
	if p != nil {
		b = append(AppendTime(append(b, `,"prevalence":{"first_seen":"`...), p.FirstSeen), '"')
		b = appendUint(append(b, `,"executions":`...), p.Executions)
		b = strconv.AppendBool(append(b, `,"first_execution":`...), p.FirstExecution)
		b = strconv.AppendBool(append(b, `,"connected_outside":`...), p.ConnectedOutside)
		b = append(AppendTime(append(b, `,"tracked_since":"`...), p.TrackedSince), '"')
		if p.Key != "" {
			b = AppendString(append(b, `,"key":`...), p.Key)
		}
		b = append(b, '}')
	}
	return b
}

func (t *Trust) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"verdict":`...), t.Verdict)
	b = AppendString(append(b, `,"severity":`...), t.Severity)
	if t.Package != "" {
		b = AppendString(append(b, `,"package":`...), t.Package)
	}
	if t.Signer != "" {
		b = AppendString(append(b, `,"signer":`...), t.Signer)
	}
	if t.Reason != "" {
		b = AppendString(append(b, `,"reason":`...), t.Reason)
	}
	return append(b, '}')
}

// appendStrings appends a JSON array of strings, or null for a nil slice
// as encoding/json does.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

func (n *Network) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"protocol":`...), n.Protocol)
	b = AppendString(append(b, `,"family":`...), n.Family)
	b = AppendString(append(b, `,"dst_ip":`...), n.DstIP)
	b = appendUint(append(b, `,"dst_port":`...), uint64(n.DstPort))
	if n.DstHostname != "" {
		b = AppendString(append(b, `,"dst_hostname":`...), n.DstHostname)
	}
	if n.SrcIP != "" {
		b = AppendString(append(b, `,"src_ip":`...), n.SrcIP)
	}
	if n.SrcPort != 0 {
		b = appendUint(append(b, `,"src_port":`...), uint64(n.SrcPort))
	}
	b = AppendString(append(b, `,"result":`...), n.Result)
	b = strconv.AppendInt(append(b, `,"result_code":`...), int64(n.ResultCode), 10)
	if n.NetNS != 0 {
		b = appendUint(append(b, `,"netns":`...), uint64(n.NetNS))
	}
	if n.Via != "" {
		b = AppendString(append(b, `,"via":`...), n.Via)
	}
	if n.Source != "" {
		b = AppendString(append(b, `,"source":`...), n.Source)
	}
	if n.Count != 0 {
		b = appendUint(append(b, `,"count":`...), n.Count)
		b = append(AppendTime(append(b, `,"first_seen":"`...), n.FirstSeen), '"')
		b = append(AppendTime(append(b, `,"last_seen":"`...), n.LastSeen), '"')
	}
	if n.External != nil {
		b = strconv.AppendBool(append(b, `,"external":`...), *n.External)
	}
	return append(b, '}')
}

func (d *DNS) appendJSON(b []byte) []byte {
	b = appendUint(append(b, `{"id":`...), uint64(d.ID))
	b = AppendString(append(b, `,"name":`...), d.Name)
	b = AppendString(append(b, `,"type":`...), d.Type)
	b = AppendString(append(b, `,"rcode":`...), d.RCode)
	if len(d.Answers) > 0 {
		b = append(b, `,"answers":[`...)
		for i, a := range d.Answers {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(append(b, `{"name":`...), a.Name)
			b = AppendString(append(b, `,"type":`...), a.Type)
			b = appendUint(append(b, `,"ttl":`...), uint64(a.TTL))
			if a.Data != "" {
				b = AppendString(append(b, `,"data":`...), a.Data)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(d.ResolvedIPs) > 0 {
		b = appendStrings(append(b, `,"resolved_ips":`...), d.ResolvedIPs)
	}
	b = AppendString(append(b, `,"transport":`...), d.Transport)
	b = AppendString(append(b, `,"server_ip":`...), d.ServerIP)
	b = appendUint(append(b, `,"server_port":`...), uint64(d.ServerPort))
	b = AppendString(append(b, `,"client_ip":`...), d.ClientIP)
	b = appendUint(append(b, `,"client_port":`...), uint64(d.ClientPort))
	if d.ServerTruncated {
		b = append(b, `,"server_truncated":true`...)
	}
	if d.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	if d.Partial {
		b = append(b, `,"partial":true`...)
	}
	return append(b, '}')
}

func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as AppendEscaped does.
func AppendString(b []byte, s string) []byte {
	return append(AppendEscaped(append(b, '"'), s), '"')
}

// plain marks the ASCII bytes a JSON string carries as they are, for
// plainPrefix's byte-by-byte tail.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// plainPrefix is the length of s's leading run of plain bytes. It tests
// eight bytes at a time by SWAR on one 64-bit word: no byte with its top
// bit set (not ASCII), none below 0x20, and none equal to one of the five
// escaped characters; then byte by byte, where a word failed.
func plainPrefix(s string) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// (x-lo)&^x&hi is nonzero if and only if some byte of x is
		// zero; (w-lo*n)&^w&hi, if some byte of w is below n (n <= 0x80).
		q, bs, lt, gt, amp := w^(lo*'"'), w^(lo*'\\'), w^(lo*'<'), w^(lo*'>'), w^(lo*'&')
		bad := w&hi | (w-lo*0x20)&^w&hi |
			(q-lo)&^q&hi | (bs-lo)&^bs&hi | (lt-lo)&^lt&hi | (gt-lo)&^gt&hi | (amp-lo)&^amp&hi
		if bad != 0 {
			break
		}
	}
	for i < len(s) && s[i] < utf8.RuneSelf && plain[s[i]] {
		i++
	}
	return i
}

// AppendEscaped appends s escaped for the inside of a JSON string, as
// encoding/json escapes it: control characters, quote, backslash, <, >,
// &, U+2028 and U+2029 are escaped, and invalid UTF-8 becomes U+FFFD, so
// every output parses, whatever bytes a process put in its argv. The
// output formats share it.
func AppendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Most strings need no escaping: skip their plain runs fast.
		if i += plainPrefix(s[i:]); i >= len(s) {
			break
		}
		// s[i] is not plain: an ASCII byte to escape, or the start of
		// a multi-byte (or invalid) sequence.
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// AppendTime appends t as TimeLayout formats it (UTC, nine fractional
// digits), digit by digit: time.AppendFormat interprets its layout on
// every call, and this runs once per record.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, min, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond(), 9)
	return append(b, 'Z')
}

// appendDigits appends v, which is non-negative, zero-padded to width.
func appendDigits(b []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}

// FormatTime formats t as records do.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// appendOpt appends key and s when s is not empty (key holds the comma).
func appendOpt(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return AppendString(append(b, key...), s)
}
