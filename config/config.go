// Package config reads argus-sensor's YAML configuration file.
//
// Every setting has a default, so the sensor runs with no file at all;
// Default returns them. Load starts from the defaults and decodes the file
// over them: a key the file does not give keeps its default, a list it
// gives replaces the default list, and a map it gives (the path class
// rules) replaces only the entries it names.
//
// Bad input is refused whole, with the file, the line and the key: unknown
// keys (the decoder runs with KnownFields, so a misspelt key cannot be
// silently ignored), values of the wrong type, and values that parse but
// are invalid (a CIDR, a duration, a ring size that is not a power of two,
// an output spec, an allowlist glob). For the last kind the file is also
// decoded as a yaml.Node tree, and the key path of the failing value is
// looked up there for its line.
//
// The package only parses and validates: it sits below the daemon it
// configures, and cmd/argus-sensor composes agent.Config from a Config.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/enrich"
	"github.com/argus-sensor/argus-sensor/filter"
	"github.com/argus-sensor/argus-sensor/forward"
	"github.com/argus-sensor/argus-sensor/forward/format"
	"github.com/argus-sensor/argus-sensor/forward/spool"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/pdns"
	"github.com/argus-sensor/argus-sensor/prevalence"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// DefaultPath is where the packaged sensor looks for its configuration.
const DefaultPath = "/etc/argus-sensor/config.yaml"

// DefaultMetricsAddress serves /metrics and /healthz on loopback only.
const DefaultMetricsAddress = "127.0.0.1:9462"

// DefaultConnectFoldInterval is sensor.connect_fold_interval's default.
const DefaultConnectFoldInterval = time.Second

// Config is the whole configuration file.
type Config struct {
	LogLevel       string             `yaml:"log_level"`
	Outputs        []Output           `yaml:"outputs"`
	Spool          Spool              `yaml:"spool"`
	Sensor         Sensor             `yaml:"sensor"`
	HealthInterval Duration           `yaml:"health_interval"`
	Hashing        Hashing            `yaml:"hashing"`
	Trust          Trust              `yaml:"trust"`
	PathClasses    classify.PathRules `yaml:"path_classes"`
	// InternalNetworks are CIDRs judged internal on top of the built-in
	// private, loopback and link-local ranges.
	InternalNetworks []string `yaml:"internal_networks"`
	Detect           Detect   `yaml:"detect"`
	Metrics          Metrics  `yaml:"metrics"`
	ProcessTable     struct {
		MaxProcesses int `yaml:"max_processes"`
	} `yaml:"process_table"`
	// Snapshot reads running processes and open connections at start.
	Snapshot bool `yaml:"snapshot"`
	// Containers names the containers of processes (docs/containers.md).
	Containers Containers `yaml:"containers"`
	// StateDir holds what the sensor keeps across restarts (the
	// prevalence store).
	StateDir   string     `yaml:"state_dir"`
	Prevalence Prevalence `yaml:"prevalence"`
	// DNS is passive DNS: destination names on connections and
	// dns_query records.
	DNS DNS `yaml:"dns"`
}

// DNS configures passive DNS (docs/configuration.md#dns).
type DNS struct {
	// Capture loads the kernel hook that reads DNS responses; false
	// leaves connections without names and writes no dns_query records.
	Capture bool `yaml:"capture"`
	// Records writes a dns_query record per response read; false keeps
	// only the names on connections.
	Records bool `yaml:"records"`
	// RateLimit bounds the responses read per second over the host, in
	// the kernel (the rest are counted, not read); Burst is how many may
	// come at once.
	RateLimit float64 `yaml:"rate_limit"`
	Burst     int     `yaml:"burst"`
	// CacheSize bounds the address-to-name cache; MinTTL is the least
	// time an answer names its addresses.
	CacheSize int      `yaml:"cache_size"`
	MinTTL    Duration `yaml:"min_ttl"`
}

// DefaultStateDir is the packaged sensor's state directory.
const DefaultStateDir = "/var/lib/argus-sensor"

// Output is one destination.
type Output struct {
	// Spec is stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT or
	// https://HOST/PATH, optionally with ?key=value options.
	Spec   string `yaml:"spec"`
	Format string `yaml:"format"`
	// Options are added to the spec's query options.
	Options map[string]string `yaml:"options"`
	// Headers are extra HTTP request headers.
	Headers   map[string]string `yaml:"headers"`
	Token     string            `yaml:"token"`
	TokenFile string            `yaml:"token_file"`
	// Kinds are the record kinds this output takes (all when empty):
	// process_launch, network_connection, detection, sensor_health,
	// hash_update, dns_query.
	Kinds []string `yaml:"kinds"`
	// Drop are conditions (package filter) on records this output does
	// not take. Neither changes what the rules see.
	Drop []string `yaml:"drop"`
}

// Spool is where network outputs keep what the receiver has not taken.
type Spool struct {
	Dir      string   `yaml:"dir"`
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Sensor tunes the kernel side.
type Sensor struct {
	RingBytes    ByteSize `yaml:"ring_bytes"`
	PollInterval Duration `yaml:"poll_interval"`
	QueueLen     int      `yaml:"queue_len"`
	// QueueBytes bounds the same events by size.
	QueueBytes ByteSize `yaml:"queue_bytes"`
	// LoaderEnv names the environment variables each launch carries
	// (process.loader_env), read in the kernel at exec. Default
	// LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT; [] captures none.
	LoaderEnv []string `yaml:"loader_env"`
	// Libraries reports files mapped executable (library_load). Default
	// true.
	Libraries *bool `yaml:"libraries"`
	// ConnectFoldInterval folds repeated identical connects (same
	// process, destination, protocol and result) in the kernel: the first
	// is reported at once, the rest within the interval come as one
	// summary record with their count (network.count). Default 1s; 0
	// reports every attempt.
	ConnectFoldInterval Duration `yaml:"connect_fold_interval"`
}

// Hashing tunes the hasher.
type Hashing struct {
	CacheSize   int      `yaml:"cache_size"`
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// SuspectMaxFileSize caps the executables the T1587 rule could fire
	// on (no package owns them, their path has a class); never below
	// MaxFileSize. Past it they join on their file identity instead.
	SuspectMaxFileSize ByteSize `yaml:"suspect_max_file_size"`
	Workers            int      `yaml:"workers"`
	Wait               Duration `yaml:"wait"`
	// QueueBytes bounds, by approximate size, the records waiting in
	// order for their hashes; the sensor stops taking events meanwhile.
	QueueBytes ByteSize `yaml:"queue_bytes"`
}

// Trust is where provenance comes from.
type Trust struct {
	// Root is the root of the package databases (/var/lib/dpkg, rpm).
	Root string `yaml:"root"`
	// TrustedKeys is the directory of IMA signing certificates.
	TrustedKeys string `yaml:"trusted_keys"`
}

// Detect tunes the rules.
type Detect struct {
	Window  Duration `yaml:"window"`
	MaxKeys int      `yaml:"max_keys"`
	// MaxBytes bounds the records the correlation entries keep.
	MaxBytes ByteSize            `yaml:"max_bytes"`
	Allow    []detect.AllowEntry `yaml:"allow"`
	// Novelty grades T1587 detections by the binary's age and
	// prevalence (docs/detection.md#novelty).
	Novelty detect.Novelty `yaml:"novelty"`
}

// Prevalence bounds the prevalence store.
type Prevalence struct {
	// Enabled keeps the store; false leaves prevalence off the records.
	Enabled    bool `yaml:"enabled"`
	MaxEntries int  `yaml:"max_entries"`
}

// Containers configures container context and in-container trust.
type Containers struct {
	// Enabled names every record's container and judges a container's
	// executables by its own packages; false judges them by the host's.
	Enabled bool `yaml:"enabled"`
	// MaxCgroups bounds the cgroups whose container is cached.
	MaxCgroups int `yaml:"max_cgroups"`
	// MaxImages bounds the container images whose package index is kept.
	MaxImages int `yaml:"max_images"`
	// MaxImageBytes bounds the same indexes by their approximate size.
	MaxImageBytes ByteSize `yaml:"max_image_bytes"`
}

// Metrics is the Prometheus endpoint.
type Metrics struct {
	// Address is host:port for /metrics and /healthz; empty disables.
	Address string `yaml:"address"`
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		LogLevel: "info",
		Outputs:  []Output{{Spec: "stdout"}},
		Spool:    Spool{Dir: spool.DefaultDir, MaxBytes: 1 << 30},
		Sensor: Sensor{RingBytes: ByteSize(sensor.DefaultRingBytes()), PollInterval: Duration(sensor.DefaultPollInterval), QueueLen: sensor.DefaultQueueLen,
			QueueBytes: sensor.DefaultQueueBytes, ConnectFoldInterval: Duration(DefaultConnectFoldInterval)},
		HealthInterval: Duration(time.Minute),
		Hashing: Hashing{
			CacheSize: hasher.DefaultCacheSize, MaxFileSize: hasher.DefaultMaxFileSize, SuspectMaxFileSize: hasher.DefaultSuspectMaxFileSize,
			Wait:       Duration(hasher.DefaultWait),
			QueueBytes: ByteSize(enrich.DefaultQueueBytes),
		},
		Trust:            Trust{Root: "/", TrustedKeys: "/etc/keys/ima"},
		PathClasses:      classify.DefaultPathRules(),
		InternalNetworks: []string{},
		Detect: Detect{Window: Duration(detect.DefaultWindow), MaxKeys: detect.DefaultMaxKeys, MaxBytes: detect.DefaultMaxBytes, Allow: []detect.AllowEntry{},
			Novelty: detect.Novelty{MaxAge: detect.DefaultNoveltyMaxAge, MaxExecutions: detect.DefaultNoveltyMaxExecutions,
				NewSeverity: "CRITICAL", EstablishedSeverity: "HIGH"}},
		Metrics:  Metrics{Address: DefaultMetricsAddress},
		Snapshot: true,
		Containers: Containers{Enabled: true, MaxCgroups: container.DefaultMaxEntries, MaxImages: signature.DefaultMaxImages,
			MaxImageBytes: signature.DefaultMaxImageBytes},
		StateDir:   DefaultStateDir,
		Prevalence: Prevalence{Enabled: true, MaxEntries: prevalence.DefaultMaxEntries},
		DNS: DNS{Capture: true, Records: true, RateLimit: sensor.DefaultDNSRate, Burst: sensor.DefaultDNSBurst,
			CacheSize: pdns.DefaultCacheSize, MinTTL: Duration(pdns.DefaultMinTTL)},
		ProcessTable: struct {
			MaxProcesses int `yaml:"max_processes"`
		}{MaxProcesses: 1 << 16},
	}
}

// Error is a configuration problem, located in its file.
type Error struct {
	File string
	Line int    // 0 when the problem is the file as a whole
	Key  string // dotted path, e.g. "detect.allow[0].destinations"
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return Parse(path, b)
}

// Parse validates a configuration; name is used in errors.
func Parse(name string, b []byte) (*Config, error) {
	cfg := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlError(name, err)
	}
	// An empty file, or one of only comments, means every default.
	if len(bytes.TrimSpace(b)) > 0 && root.Kind != 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(name, err)
		}
	}
	if err := cfg.validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return nil, &Error{File: name, Line: lineOf(&root, ke.path), Key: ke.path, Err: ke.err}
		}
		return nil, &Error{File: name, Err: err}
	}
	return cfg, nil
}

// yamlError turns a decoder error ("yaml: line 4: field x not found in
// type ...") into an Error with the line.
func yamlError(name string, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if n, perr := strconv.Atoi(rest[:i]); perr == nil {
				line, msg = n, rest[i+2:]
			}
		}
	}
	msg = strings.Replace(msg, " not found in type ", " is not a known key in ", 1)
	return &Error{File: name, Line: line, Err: errors.New(msg)}
}

// keyError is a validation failure of the value at a key path.
type keyError struct {
	path string
	err  error
}

func (e *keyError) Error() string { return e.path + ": " + e.err.Error() }

func bad(path string, format string, args ...any) error {
	return &keyError{path: path, err: fmt.Errorf(format, args...)}
}

// Validate checks a configuration built or changed in code (flags over a
// file), reporting the key at fault.
func (c *Config) Validate(name string) error {
	if err := c.validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return &Error{File: name, Key: ke.path, Err: ke.err}
		}
		return &Error{File: name, Err: err}
	}
	return nil
}

func (c *Config) validate() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	outs, err := c.ForwardOutputs()
	if err != nil {
		return err
	}
	if err := forward.Validate(outs); err != nil {
		return bad("outputs", "%v", err)
	}
	if c.Spool.Dir == "" {
		return bad("spool.dir", "must not be empty")
	}
	if c.Spool.MaxBytes < 1<<20 {
		return bad("spool.max_bytes", "%d: want at least 1MiB", c.Spool.MaxBytes)
	}
	rb := int(c.Sensor.RingBytes)
	if rb < os.Getpagesize() || rb&(rb-1) != 0 {
		return bad("sensor.ring_bytes", "%d: want a power of two of at least %d", rb, os.Getpagesize())
	}
	if c.Sensor.PollInterval <= 0 || time.Duration(c.Sensor.PollInterval) > time.Second {
		return bad("sensor.poll_interval", "%v: want more than 0 and at most 1s", time.Duration(c.Sensor.PollInterval))
	}
	if f := time.Duration(c.Sensor.ConnectFoldInterval); f != 0 && (f < 10*time.Millisecond || f > time.Minute) {
		return bad("sensor.connect_fold_interval", "%v: want 0 (off), or 10ms to 1m", f)
	}
	if err := sensor.CheckLoaderEnv(c.Sensor.LoaderEnv); err != nil {
		return bad("sensor.loader_env", "%v", err)
	}
	if c.Sensor.QueueLen <= 0 {
		return bad("sensor.queue_len", "%d: want a positive number", c.Sensor.QueueLen)
	}
	if c.Sensor.QueueBytes < 1<<20 {
		return bad("sensor.queue_bytes", "%d: want at least 1MiB", c.Sensor.QueueBytes)
	}
	if c.HealthInterval < 0 {
		return bad("health_interval", "must not be negative (0 disables)")
	}
	if c.Hashing.CacheSize <= 0 {
		return bad("hashing.cache_size", "%d: want a positive number", c.Hashing.CacheSize)
	}
	if c.Hashing.MaxFileSize <= 0 {
		return bad("hashing.max_file_size", "want a positive size")
	}
	if c.Hashing.SuspectMaxFileSize < c.Hashing.MaxFileSize {
		return bad("hashing.suspect_max_file_size", "%d: want at least hashing.max_file_size (%d)", c.Hashing.SuspectMaxFileSize, c.Hashing.MaxFileSize)
	}
	if c.Hashing.Workers < 0 {
		return bad("hashing.workers", "must not be negative (0 means half the CPUs, at least one)")
	}
	if c.Hashing.Wait <= 0 {
		return bad("hashing.wait", "want a positive duration")
	}
	if c.Hashing.QueueBytes < 1<<20 {
		return bad("hashing.queue_bytes", "want at least 1MiB")
	}
	if c.Containers.MaxCgroups <= 0 {
		return bad("containers.max_cgroups", "%d: want a positive number", c.Containers.MaxCgroups)
	}
	if c.Containers.MaxImages <= 0 {
		return bad("containers.max_images", "%d: want a positive number", c.Containers.MaxImages)
	}
	if c.Containers.MaxImageBytes < 1<<20 {
		return bad("containers.max_image_bytes", "want at least 1MiB")
	}
	if c.Trust.Root == "" || !strings.HasPrefix(c.Trust.Root, "/") {
		return bad("trust.root", "%q: want an absolute path", c.Trust.Root)
	}
	if _, err := classify.NewPaths(c.PathClasses); err != nil {
		return bad("path_classes", "%v", err)
	}
	for i, n := range c.InternalNetworks {
		if _, err := classify.ParsePrefixes([]string{n}); err != nil {
			return bad(fmt.Sprintf("internal_networks[%d]", i), "%v", err)
		}
	}
	if c.Detect.Window <= 0 {
		return bad("detect.window", "want a positive duration")
	}
	if c.Detect.MaxKeys <= 0 {
		return bad("detect.max_keys", "%d: want a positive number", c.Detect.MaxKeys)
	}
	if c.Detect.MaxBytes < 1<<20 {
		return bad("detect.max_bytes", "%d: want at least 1MiB", c.Detect.MaxBytes)
	}
	for i := range c.Detect.Allow {
		if _, err := detect.New(detect.Config{Allow: c.Detect.Allow[i : i+1]}); err != nil {
			return bad(fmt.Sprintf("detect.allow[%d]", i), "%v", err)
		}
	}
	if a := c.Metrics.Address; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return bad("metrics.address", "%q: want host:port, e.g. 127.0.0.1:9462", a)
		}
	}
	if c.StateDir == "" || !strings.HasPrefix(c.StateDir, "/") {
		return bad("state_dir", "%q: want an absolute path", c.StateDir)
	}
	if c.Prevalence.MaxEntries <= 0 {
		return bad("prevalence.max_entries", "%d: want a positive number", c.Prevalence.MaxEntries)
	}
	if _, err := detect.New(detect.Config{Novelty: c.Detect.Novelty}); err != nil {
		return bad("detect.novelty", "%v", err)
	}
	if c.DNS.RateLimit <= 0 {
		return bad("dns.rate_limit", "%v: want a positive number of responses per second", c.DNS.RateLimit)
	}
	if c.DNS.Burst <= 0 {
		return bad("dns.burst", "%d: want a positive number", c.DNS.Burst)
	}
	if c.DNS.CacheSize <= 0 {
		return bad("dns.cache_size", "%d: want a positive number", c.DNS.CacheSize)
	}
	if c.DNS.MinTTL <= 0 {
		return bad("dns.min_ttl", "want a positive duration")
	}
	if c.ProcessTable.MaxProcesses <= 0 {
		return bad("process_table.max_processes", "%d: want a positive number", c.ProcessTable.MaxProcesses)
	}
	return nil
}

// ForwardOutputs turns the outputs into the forwarder's form.
func (c *Config) ForwardOutputs() ([]forward.Output, error) {
	var outs []forward.Output
	for i, o := range c.Outputs {
		key := fmt.Sprintf("outputs[%d]", i)
		if o.Spec == "" {
			return nil, bad(key+".spec", "must not be empty")
		}
		fo := forward.Output{Spec: o.Spec}
		if o.Format != "" {
			f, err := format.ParseFormat(o.Format)
			if err != nil {
				return nil, bad(key+".format", "%v", err)
			}
			fo.Format = f
		}
		if len(o.Options) > 0 {
			sep := "?"
			if strings.Contains(fo.Spec, "?") {
				sep = "&"
			}
			keys := make([]string, 0, len(o.Options))
			for k := range o.Options {
				keys = append(keys, k)
			}
			slicesSort(keys)
			for _, k := range keys {
				fo.Spec += sep + k + "=" + o.Options[k]
				sep = "&"
			}
		}
		fo.HTTP.Headers, fo.HTTP.Token, fo.HTTP.TokenFile = o.Headers, o.Token, o.TokenFile
		fo.Kinds, fo.Drop = o.Kinds, o.Drop
		if _, err := filter.Compile(o.Kinds, o.Drop); err != nil {
			var fe *filter.Error
			if errors.As(err, &fe) {
				return nil, bad(key+"."+fe.Field, "%v", fe.Err)
			}
			return nil, bad(key, "%v", err)
		}
		fo.Spool.MaxBytes = int64(c.Spool.MaxBytes)
		outs = append(outs, fo)
	}
	return outs, nil
}

// lineOf finds the line of the value at a dotted key path such as
// "detect.allow[0].destinations", or of the nearest key that exists.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		next := mapValue(n, name)
		if next == nil {
			return line
		}
		n, line = next, next.Line
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
