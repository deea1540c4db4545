package forward

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/argus-sensor/argus-sensor/filter"
	"github.com/argus-sensor/argus-sensor/forward/format"
	"github.com/argus-sensor/argus-sensor/forward/spool"
	"github.com/argus-sensor/argus-sensor/internal/units"
)

// Output configures one destination. Spec names it; the typed option
// structs carry what a spec string should not (secrets, header maps),
// and query options in Spec override them (see docs/forwarding.md).
type Output struct {
	// Spec is "stdout", "file:PATH", "syslog+udp://HOST:PORT",
	// "syslog+tcp://HOST:PORT", "syslog+tls://HOST:PORT",
	// "syslog+relp://HOST:PORT",
	// "https://HOST/PATH" or "http://LOOPBACK/PATH", each optionally
	// followed by ?key=value options.
	Spec string
	// Format is how records are encoded; "" means the spec's format=
	// option, else FormatNative.
	Format format.Format
	File   FileOptions
	Syslog SyslogOptions
	HTTP   HTTPOptions
	Spool  spool.Options
	// QueueBytes bounds the in-memory hand-off from the pipeline to the
	// sink's goroutine. Default 16 MiB.
	QueueBytes int
	// Kinds are the record kinds this output takes (all when empty), and
	// Drop conditions on records it does not take (package filter). They
	// never change what the rules see.
	Kinds []string
	Drop  []string
}

// FileOptions configures a file sink.
type FileOptions struct {
	// MaxBytes is the size at which the file is rotated. Default
	// 100 MiB; negative disables rotation.
	MaxBytes int64
	// Keep is how many rotated files are kept (PATH.1 ... PATH.Keep).
	// Default 5.
	Keep int
}

// TLSOptions configures a TLS client.
type TLSOptions struct {
	// CAFile is a PEM bundle of CAs that may sign the receiver's
	// certificate, trusted in addition to the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key, for
	// receivers that require mutual TLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the receiver's
	// certificate; default the spec's host.
	ServerName string
}

// SyslogOptions configures a syslog sink.
type SyslogOptions struct {
	TLS TLSOptions
	// Facility is the RFC 5424 facility number. Default 16 (local0).
	Facility int
	// MaxUDPBytes is the largest datagram sent; a longer message is
	// dropped and counted (Stats.Oversize). Default 8192.
	MaxUDPBytes int
	// DialTimeout and WriteTimeout bound network waits. Default 5 s and
	// 10 s.
	DialTimeout, WriteTimeout time.Duration
	// Backoff spaces retries after a failed delivery. Default: from
	// 500 ms up to 30 s.
	Backoff Backoff
}

// HTTPOptions configures an HTTP sink.
type HTTPOptions struct {
	// Mode is "generic" (default), "chronicle" or "splunk_hec".
	Mode string
	// Body, in generic mode, is "array" (a JSON array, default) or
	// "ndjson" (one record per line).
	Body string
	// Headers are added to every request.
	Headers map[string]string
	// Token is sent as "Authorization: Bearer TOKEN" ("Splunk TOKEN" in
	// splunk_hec mode). TokenFile, if set, is read instead and re-read
	// when it changes, so an external helper can rotate short-lived
	// tokens.
	Token, TokenFile string
	// NoGzip turns off request compression.
	NoGzip bool
	// MaxBatchRecords and MaxBatchBytes bound one request (bytes before
	// compression). Defaults depend on the mode; see docs/forwarding.md.
	MaxBatchRecords, MaxBatchBytes int
	// Timeout bounds one request. Default 30 s.
	Timeout time.Duration
	// Backoff spaces retries.
	Backoff Backoff
	TLS     TLSOptions
	// SourceType, Source and Index are the Splunk HEC event metadata.
	// SourceType defaults to "argus:FORMAT".
	SourceType, Source, Index string
}

// sinkKind is what a spec's scheme selects.
type sinkKind int

const (
	kindStdout sinkKind = iota
	kindFile
	kindSyslogUDP
	kindSyslogTCP
	kindSyslogTLS
	kindSyslogRELP
	kindHTTP
)

// parsedOutput is an Output after validation.
type parsedOutput struct {
	Output
	kind sinkKind
	// path of a file sink; address (host:port) of a syslog sink; URL of
	// an HTTP sink.
	path, addr, host string
	url              *url.URL
	// name is the spec with credentials removed, for logs and Stats.
	name string
	// id names the sink's spool directory: stable for the same
	// destination and format across restarts.
	id string
	// filter is Kinds and Drop compiled; nil takes every record.
	filter *filter.Filter
}

// badOutput is the error for an output that cannot be used. It names the
// output and, where one is at fault, the setting.
func badOutput(o *Output, setting string, err error) error {
	if setting != "" {
		return fmt.Errorf("output %q: %s: %w", redactSpec(o.Spec), setting, err)
	}
	return fmt.Errorf("output %q: %w", redactSpec(o.Spec), err)
}

// ErrBadSpec is wrapped by errors about an output spec that cannot be
// understood.
var ErrBadSpec = errors.New("bad output spec")

// httpOptionKeys are the query keys an http(s) spec uses for itself; any
// other query parameter is part of the receiver's URL.
var httpOptionKeys = map[string]bool{
	"format": true, "mode": true, "body": true, "gzip": true, "token_file": true,
	"batch_records": true, "batch_bytes": true, "timeout": true,
	"sourcetype": true, "source": true, "index": true,
	"ca_file": true, "cert_file": true, "key_file": true, "server_name": true,
	"spool_dir": true, "spool_max_size": true, "spool_sync": true,
	"backoff_max": true,
}

func parseOutput(o Output) (*parsedOutput, error) {
	p := &parsedOutput{Output: o}
	spec := strings.TrimSpace(o.Spec)
	var query url.Values
	switch {
	case spec == "" || spec == "stdout" || spec == "-" || strings.HasPrefix(spec, "stdout?"):
		p.kind = kindStdout
		if _, q, ok := strings.Cut(spec, "?"); ok {
			v, err := url.ParseQuery(q)
			if err != nil {
				return nil, badOutput(&o, "", fmt.Errorf("%w: %v", ErrBadSpec, err))
			}
			query = v
		}
		p.name = "stdout"
	case strings.HasPrefix(spec, "file:"):
		p.kind = kindFile
		rest := strings.TrimPrefix(spec, "file:")
		if i := strings.LastIndexByte(rest, '?'); i >= 0 {
			v, err := url.ParseQuery(rest[i+1:])
			if err != nil {
				return nil, badOutput(&o, "", fmt.Errorf("%w: %v", ErrBadSpec, err))
			}
			query, rest = v, rest[:i]
		}
		if rest == "" {
			return nil, badOutput(&o, "path", fmt.Errorf("%w: empty", ErrBadSpec))
		}
		p.path, p.name = rest, "file:"+rest
	default:
		u, err := url.Parse(spec)
		if err != nil || u.Scheme == "" {
			return nil, badOutput(&o, "", fmt.Errorf("%w: want stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT or https://URL", ErrBadSpec))
		}
		p.url = u
		query = u.Query()
		switch strings.ToLower(u.Scheme) {
		case "syslog+udp", "syslog":
			p.kind = kindSyslogUDP
		case "syslog+tcp":
			p.kind = kindSyslogTCP
		case "syslog+tls":
			p.kind = kindSyslogTLS
		case "syslog+relp":
			p.kind = kindSyslogRELP
		case "https", "http":
			p.kind = kindHTTP
		default:
			return nil, badOutput(&o, "scheme", fmt.Errorf("%w: %q: want syslog+udp, syslog+tcp, syslog+tls, syslog+relp, https or http", ErrBadSpec, u.Scheme))
		}
		if u.Hostname() == "" {
			return nil, badOutput(&o, "host", fmt.Errorf("%w: missing", ErrBadSpec))
		}
		p.host = u.Hostname()
	}
	if err := p.applyQuery(query); err != nil {
		return nil, badOutput(&o, "", err)
	}
	if p.Format == "" {
		p.Format = format.FormatNative
	}
	f, err := format.ParseFormat(string(p.Format))
	if err != nil {
		return nil, badOutput(&o, "format", err)
	}
	p.Format = f
	if f == format.FormatCompact && p.kind == kindHTTP {
		return nil, badOutput(&o, "format", fmt.Errorf("compact is a format for people (stdout, files, syslog), not for an HTTP receiver"))
	}
	if p.filter, err = filter.Compile(o.Kinds, o.Drop); err != nil {
		var fe *filter.Error
		setting := "filter"
		if errors.As(err, &fe) {
			setting = fe.Field
			err = fe.Err
		}
		return nil, badOutput(&o, setting, err)
	}

	switch p.kind {
	case kindSyslogUDP, kindSyslogTCP, kindSyslogTLS, kindSyslogRELP:
		port := p.url.Port()
		if port == "" {
			switch p.kind {
			case kindSyslogTLS:
				port = "6514"
			case kindSyslogRELP:
				port = "2514"
			default:
				port = "514"
			}
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, badOutput(&o, "port", fmt.Errorf("%w: %q", ErrBadSpec, port))
		}
		p.addr = net.JoinHostPort(p.host, port)
		if p.url.Path != "" && p.url.Path != "/" {
			return nil, badOutput(&o, "path", fmt.Errorf("%w: a syslog destination has no path", ErrBadSpec))
		}
		p.name = strings.ToLower(p.url.Scheme) + "://" + p.addr
	case kindHTTP:
		if err := p.checkHTTP(); err != nil {
			return nil, badOutput(&o, "", err)
		}
	}
	dest := p.name
	if p.kind == kindHTTP {
		// The receiver's own query parameters and the HEC index tell
		// destinations on one URL path apart.
		dest = p.url.String() + "\x00" + p.HTTP.Index
	}
	sum := sha256.Sum256([]byte(dest + "\x00" + string(p.Format) + "\x00" + p.HTTP.Mode))
	p.id = hex.EncodeToString(sum[:8])
	return p, nil
}

func (p *parsedOutput) checkHTTP() error {
	u := p.url
	switch p.HTTP.Mode {
	case "", "generic":
		p.HTTP.Mode = "generic"
		switch p.HTTP.Body {
		case "", "array":
			p.HTTP.Body = "array"
		case "ndjson":
		default:
			return fmt.Errorf("body: %w: %q: want array or ndjson", ErrBadSpec, p.HTTP.Body)
		}
	case "chronicle":
		if p.Format != format.FormatUDM {
			return fmt.Errorf("mode chronicle: format must be udm, not %q", p.Format)
		}
	case "splunk_hec", "splunk":
		p.HTTP.Mode = "splunk_hec"
		if p.HTTP.Token == "" && p.HTTP.TokenFile == "" {
			return errors.New("mode splunk_hec: a HEC token is required (token or token_file)")
		}
	default:
		return fmt.Errorf("mode: %w: %q: want generic, chronicle or splunk_hec", ErrBadSpec, p.HTTP.Mode)
	}
	if strings.EqualFold(u.Scheme, "http") && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("scheme: http:// is allowed only to a loopback address (127.0.0.0/8, ::1, localhost); use https:// for %s", u.Hostname())
	}
	if u.User != nil {
		return errors.New("userinfo: credentials in the URL are not accepted; use a token or headers")
	}
	// Strip our own options: the rest of the query belongs to the
	// receiver.
	q := u.Query()
	for k := range q {
		if httpOptionKeys[k] {
			q.Del(k)
		}
	}
	clean := *u
	clean.RawQuery = q.Encode()
	clean.Fragment = ""
	p.url = &clean
	p.name = (&url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, Path: u.Path}).String()
	return nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// applyQuery applies ?key=value options, which override the typed ones.
func (p *parsedOutput) applyQuery(q url.Values) error {
	var err error
	get := func(k string) (string, bool) {
		v, ok := q[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[len(v)-1], true
	}
	if v, ok := get("format"); ok {
		p.Format = format.Format(v)
	}
	if v, ok := get("max_size"); ok {
		if p.File.MaxBytes, err = parseSize(v); err != nil {
			return fmt.Errorf("max_size: %w", err)
		}
		if p.kind == kindSyslogUDP {
			p.Syslog.MaxUDPBytes = int(p.File.MaxBytes)
		}
	}
	if v, ok := get("keep"); ok {
		if p.File.Keep, err = strconv.Atoi(v); err != nil || p.File.Keep < 0 {
			return fmt.Errorf("keep: %w: %q", ErrBadSpec, v)
		}
	}
	for _, k := range []string{"ca_file", "cert_file", "key_file", "server_name"} {
		v, ok := get(k)
		if !ok {
			continue
		}
		for _, t := range []*TLSOptions{&p.Syslog.TLS, &p.HTTP.TLS} {
			switch k {
			case "ca_file":
				t.CAFile = v
			case "cert_file":
				t.CertFile = v
			case "key_file":
				t.KeyFile = v
			case "server_name":
				t.ServerName = v
			}
		}
	}
	if v, ok := get("facility"); ok {
		if p.Syslog.Facility, err = strconv.Atoi(v); err != nil || p.Syslog.Facility < 0 || p.Syslog.Facility > 23 {
			return fmt.Errorf("facility: %w: %q: want 0-23", ErrBadSpec, v)
		}
	}
	if v, ok := get("mode"); ok {
		p.HTTP.Mode = v
	}
	if v, ok := get("body"); ok {
		p.HTTP.Body = v
	}
	if v, ok := get("gzip"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("gzip: %w: %q", ErrBadSpec, v)
		}
		p.HTTP.NoGzip = !b
	}
	if v, ok := get("token_file"); ok {
		p.HTTP.TokenFile = v
	}
	if v, ok := get("batch_records"); ok {
		if p.HTTP.MaxBatchRecords, err = strconv.Atoi(v); err != nil || p.HTTP.MaxBatchRecords < 1 {
			return fmt.Errorf("batch_records: %w: %q", ErrBadSpec, v)
		}
	}
	if v, ok := get("batch_bytes"); ok {
		n, err := parseSize(v)
		if err != nil {
			return fmt.Errorf("batch_bytes: %w", err)
		}
		p.HTTP.MaxBatchBytes = int(n)
	}
	if v, ok := get("timeout"); ok {
		if p.HTTP.Timeout, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("timeout: %w: %v", ErrBadSpec, err)
		}
	}
	if v, ok := get("backoff_max"); ok {
		if p.HTTP.Backoff.Max, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("backoff_max: %w: %v", ErrBadSpec, err)
		}
	}
	if v, ok := get("sourcetype"); ok {
		p.HTTP.SourceType = v
	}
	if v, ok := get("source"); ok {
		p.HTTP.Source = v
	}
	if v, ok := get("index"); ok {
		p.HTTP.Index = v
	}
	if v, ok := get("spool_dir"); ok {
		p.Spool.Dir = v
	}
	if v, ok := get("spool_max_size"); ok {
		if p.Spool.MaxBytes, err = parseSize(v); err != nil {
			return fmt.Errorf("spool_max_size: %w", err)
		}
	}
	if v, ok := get("spool_sync"); ok {
		if p.Spool.SyncInterval, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("spool_sync: %w: %v", ErrBadSpec, err)
		}
	}
	return nil
}

// parseSize reads a byte count such as 100M or 1GiB.
func parseSize(s string) (int64, error) {
	n, err := units.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w: size %v", ErrBadSpec, err)
	}
	return n, nil
}

// redactSpec removes what could be a secret from a spec before it is
// logged: userinfo and token-like query values.
func redactSpec(spec string) string {
	base, q, ok := strings.Cut(spec, "?")
	if u, err := url.Parse(base); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		base = u.String()
	}
	if !ok {
		return base
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return base + "?REDACTED"
	}
	for k := range vals {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "token") && lk != "token_file" || strings.Contains(lk, "key") && lk != "key_file" ||
			strings.Contains(lk, "secret") || strings.Contains(lk, "pass") || strings.Contains(lk, "auth") {
			vals.Set(k, "REDACTED")
		}
	}
	return base + "?" + vals.Encode()
}

// tlsConfig builds a client TLS configuration, failing on files that do
// not load so a bad setting stops start-up rather than every connection.
func tlsConfig(o TLSOptions, host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if o.ServerName != "" {
		cfg.ServerName = o.ServerName
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s: no PEM certificate in it", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("cert_file and key_file: set both or neither")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// checkResolvable fails for a host name that does not exist. A temporary
// resolver failure (no network yet at boot) is not fatal: the spool
// holds records until the name resolves.
func checkResolvable(ctx context.Context, res *net.Resolver, host string) error {
	if net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return nil
	}
	if res == nil {
		res = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := res.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("host %s does not resolve: %w", host, err)
	}
	return nil
}
