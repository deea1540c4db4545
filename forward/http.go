package forward

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// HTTP batch limits per mode (see docs/forwarding.md for why).
const (
	defaultBatchRecords   = 1000
	defaultGenericBytes   = 4 << 20
	defaultChronicleBytes = 1_000_000
	defaultSplunkBytes    = 1_000_000
)

// httpSink POSTs batches: a JSON array or NDJSON (generic), an
// events:import body (chronicle) or concatenated HEC events (splunk_hec).
// It is used by the sink's sender goroutine only.
type httpSink struct {
	url        string
	mode, body string
	client     *http.Client
	headers    map[string]string
	authScheme string
	token      string
	tokenFile  string
	tokenMod   time.Time
	gzip       bool
	maxRecords int
	maxBody    int
	log        *slog.Logger

	sourceType, source, index string
	lastReject                time.Time

	buf  bytes.Buffer
	zbuf bytes.Buffer
	zw   *gzip.Writer
}

func newHTTPSink(p *parsedOutput, log *slog.Logger) (*httpSink, error) {
	o := p.HTTP
	h := &httpSink{
		url: p.url.String(), mode: o.Mode, body: o.Body, headers: o.Headers,
		authScheme: "Bearer", token: o.Token, tokenFile: o.TokenFile, gzip: !o.NoGzip,
		maxRecords: o.MaxBatchRecords, maxBody: o.MaxBatchBytes, log: log,
		sourceType: o.SourceType, source: o.Source, index: o.Index,
	}
	if h.mode == "splunk_hec" {
		h.authScheme = "Splunk"
		if h.sourceType == "" {
			h.sourceType = "argus:" + string(p.Format)
		}
		if h.source == "" {
			h.source = syslogAppName
		}
	}
	if h.maxRecords <= 0 {
		h.maxRecords = defaultBatchRecords
	}
	if h.maxBody <= 0 {
		switch h.mode {
		case "chronicle":
			h.maxBody = defaultChronicleBytes
		case "splunk_hec":
			h.maxBody = defaultSplunkBytes
		default:
			h.maxBody = defaultGenericBytes
		}
	}
	if h.tokenFile != "" {
		if err := h.readToken(); err != nil {
			return nil, fmt.Errorf("token_file: %w", err)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if strings.EqualFold(p.url.Scheme, "https") {
		cfg, err := tlsConfig(o.TLS, p.host)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	h.client = &http.Client{Transport: tr, Timeout: timeout}
	h.zw, _ = gzip.NewWriterLevel(&h.zbuf, gzip.BestSpeed)
	return h, nil
}

// payloadLimits returns the records and payload bytes per batch that keep
// a request body, with its per-record wrapping, within the mode's limits.
func (h *httpSink) payloadLimits() (records, bytes int) {
	per, fixed := 1, 2
	if h.mode == "chronicle" {
		per, fixed = len(`{"udm":},`), len(`{"inlineSource":{"events":[]}}`)
	}
	b := h.maxBody - fixed - per*h.maxRecords
	if b < h.maxBody/2 {
		b = h.maxBody / 2
	}
	return h.maxRecords, b
}

// envelope wraps each record as a HEC event in splunk_hec mode, with the
// record's time and host: HEC would otherwise stamp the time of arrival,
// which after an outage is wrong.
func (h *httpSink) envelope(b []byte, r *event.Record, msg []byte) ([]byte, bool) {
	if h.mode != "splunk_hec" {
		return append(b, msg...), true
	}
	t := r.Time
	b = append(b, `{"time":`...)
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, '.')
	us := t.Nanosecond() / 1000
	for d := 100000; d >= 1; d /= 10 {
		b = append(b, byte('0'+us/d%10))
	}
	b = append(b, `,"host":`...)
	b = event.AppendString(b, r.Host.Hostname)
	b = append(b, `,"source":`...)
	b = event.AppendString(b, h.source)
	b = append(b, `,"sourcetype":`...)
	b = event.AppendString(b, h.sourceType)
	if h.index != "" {
		b = append(b, `,"index":`...)
		b = event.AppendString(b, h.index)
	}
	b = append(b, `,"event":`...)
	b = append(b, msg...)
	return append(b, '}'), true
}

func (h *httpSink) readToken() error {
	st, err := os.Stat(h.tokenFile)
	if err != nil {
		return err
	}
	if st.ModTime().Equal(h.tokenMod) && h.token != "" {
		return nil
	}
	b, err := os.ReadFile(h.tokenFile)
	if err != nil {
		return err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return fmt.Errorf("%s is empty", h.tokenFile)
	}
	h.token, h.tokenMod = tok, st.ModTime()
	return nil
}

// deliver posts recs. A 400, 413 or 422 means the receiver will not take
// this body as it is: one bad record makes Chronicle and HEC refuse the
// whole request, so the batch is split in halves until the record at
// fault is alone, and only that record is dropped (counted as rejected).
// Other failures are returned for retry; 401/403/404 too, because they
// are configuration faults that dropping records would not fix.
func (h *httpSink) deliver(ctx context.Context, recs [][]byte) (int, error) {
	status, wait, msg, err := h.post(ctx, recs)
	if err != nil {
		return 0, err
	}
	switch {
	case status >= 200 && status < 300:
		return 0, nil
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge ||
		status == http.StatusUnprocessableEntity:
		if len(recs) == 1 {
			// A receiver that refuses everything would otherwise log every
			// record: log one in ten seconds, count them all.
			if now := time.Now(); now.Sub(h.lastReject) >= 10*time.Second {
				h.lastReject = now
				h.log.Error("receiver rejected a record; dropped", "status", status, "response", msg,
					"record", truncateForLog(recs[0]))
			}
			return 1, nil
		}
		mid := len(recs) / 2
		r1, err := h.deliver(ctx, recs[:mid])
		if err != nil {
			return r1, err
		}
		r2, err := h.deliver(ctx, recs[mid:])
		return r1 + r2, err
	}
	err = fmt.Errorf("post %s: HTTP %d: %s", h.url, status, msg)
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		err = fmt.Errorf("post %s: HTTP %d (check the token): %s", h.url, status, msg)
	}
	return 0, &retryAfter{err: err, after: wait}
}

func truncateForLog(b []byte) string {
	if len(b) > 512 {
		return string(b[:512]) + "..."
	}
	return string(b)
}

func (h *httpSink) post(ctx context.Context, recs [][]byte) (status int, wait time.Duration, msg string, err error) {
	h.buf.Reset()
	switch h.mode {
	case "chronicle":
		h.buf.WriteString(`{"inlineSource":{"events":[`)
		for i, r := range recs {
			if i > 0 {
				h.buf.WriteByte(',')
			}
			h.buf.WriteString(`{"udm":`)
			h.buf.Write(r)
			h.buf.WriteByte('}')
		}
		h.buf.WriteString(`]}}`)
	case "splunk_hec":
		for _, r := range recs {
			h.buf.Write(r)
			h.buf.WriteByte('\n')
		}
	default:
		if h.body == "ndjson" {
			for _, r := range recs {
				h.buf.Write(r)
				h.buf.WriteByte('\n')
			}
		} else {
			h.buf.WriteByte('[')
			for i, r := range recs {
				if i > 0 {
					h.buf.WriteByte(',')
				}
				h.buf.Write(r)
			}
			h.buf.WriteByte(']')
		}
	}
	body := h.buf.Bytes()
	if h.gzip {
		h.zbuf.Reset()
		h.zw.Reset(&h.zbuf)
		h.zw.Write(body)
		if err := h.zw.Close(); err != nil {
			return 0, 0, "", fmt.Errorf("compress: %w", err)
		}
		body = h.zbuf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", fmt.Errorf("post %s: %w", h.url, err)
	}
	if h.mode == "generic" && h.body == "ndjson" {
		req.Header.Set("Content-Type", "application/x-ndjson")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", syslogAppName)
	if h.tokenFile != "" {
		if err := h.readToken(); err != nil {
			h.log.Warn("token_file unreadable; using the previous token", "err", err)
		}
	}
	if h.token != "" {
		req.Header.Set("Authorization", h.authScheme+" "+h.token)
	}
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, 0, "", fmt.Errorf("post %s: %w", h.url, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	resp.Body.Close()
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), strings.TrimSpace(string(b)), nil
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func (h *httpSink) close() error {
	h.client.CloseIdleConnections()
	return nil
}
