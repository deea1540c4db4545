package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExampleIsTheDefaults(t *testing.T) {
	cfg, err := Load("../packaging/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("the shipped example differs from the defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestEmptyFileMeansDefaults(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := Parse("empty.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if !reflect.DeepEqual(cfg, Default()) {
			t.Fatalf("%q: not the defaults", src)
		}
	}
}

func TestOverrides(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`
log_level: debug
outputs:
  - spec: file:/var/log/argus/events.jsonl
    format: ecs
    options: {keep: "3", max_size: 10M}
  - spec: https://siem.example/ingest
    format: udm
    options: {mode: generic}
    headers: {X-Tenant: blue}
    token: s3cret
sensor: {ring_bytes: 16MiB, connect_fold_interval: 0s}
containers: {max_image_bytes: 8MiB}
hashing: {max_file_size: 64M, suspect_max_file_size: 2GiB, wait: 500ms}
path_classes:
  prefixes:
    tmp: [/tmp]
    opt_drop: [/opt/drop]
internal_networks: [100.64.0.0/10]
detect:
  allow:
    - name: builds
      exe: ["/builds/**"]
      destinations: [10.0.0.0/8]
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "debug" || int64(cfg.Sensor.RingBytes) != 16<<20 || int64(cfg.Containers.MaxImageBytes) != 8<<20 || int64(cfg.Hashing.MaxFileSize) != 64<<20 ||
		int64(cfg.Hashing.SuspectMaxFileSize) != 2<<30 || cfg.Sensor.ConnectFoldInterval != 0 || Default().Sensor.ConnectFoldInterval != Duration(time.Second) ||
		time.Duration(cfg.Hashing.Wait) != 500*time.Millisecond || cfg.Hashing.CacheSize != Default().Hashing.CacheSize {
		t.Errorf("scalars: %+v", cfg)
	}
	if got := cfg.PathClasses.Prefixes; !reflect.DeepEqual(got["tmp"], []string{"/tmp"}) || got["shm"] == nil || got["opt_drop"] == nil {
		t.Errorf("path classes: given classes replace theirs, others keep defaults: %v", got)
	}
	outs, err := cfg.ForwardOutputs()
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Spec != "file:/var/log/argus/events.jsonl?keep=3&max_size=10M" || outs[0].Format != "ecs" {
		t.Errorf("output 0: %+v", outs[0])
	}
	if outs[1].HTTP.Headers["X-Tenant"] != "blue" || outs[1].HTTP.Token != "s3cret" {
		t.Errorf("output 1: %+v", outs[1].HTTP)
	}
	if len(cfg.Detect.Allow) != 1 || cfg.Detect.Allow[0].Exe[0] != "/builds/**" {
		t.Errorf("allow: %+v", cfg.Detect.Allow)
	}
}

// TestRefusesBadInput: each problem is named with its line and key.
func TestRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"log_level: info\noutputz: []\n", "line 2: field outputz is not a known key"},
		{"sensor:\n  ring_bytes: 3MiB\n", "line 2: sensor.ring_bytes"},
		{"sensor:\n  ring_bytes: lots\n", "line 2"},
		{"hashing:\n  wait: soon\n", "line 2"},
		{"hashing:\n  max_file_size: 1GiB\n  suspect_max_file_size: 512MiB\n", "line 3: hashing.suspect_max_file_size"},
		{"log_level: loud\n", "line 1: log_level"},
		{"outputs:\n  - spec: kafka://x\n", "line 2: outputs"},
		{"outputs:\n  - spec: stdout\n    format: xml\n", "line 3: outputs[0].format"},
		{"internal_networks:\n  - 10.0.0.0/8\n  - 10.0.0.0/99\n", "line 3: internal_networks[1]"},
		{"detect:\n  allow:\n    - name: x\n      destinations: [nope]\n", "line 3: detect.allow[0]"},
		{"detect:\n  allow:\n    - name: x\n      colour: red\n", "line 4: field colour is not a known key"},
		{"path_classes:\n  prefixes:\n    tmp: [relative]\n", "line 2: path_classes"},
		{"metrics:\n  address: nowhere\n", "line 2: metrics.address"},
		{"sensor: [1, 2]\n", "line 1"},
		{"containers:\n  max_image_bytes: 4KiB\n", "line 2: containers.max_image_bytes"},
		{"sensor:\n  connect_fold_interval: -1s\n", "line 2: sensor.connect_fold_interval"},
		{"sensor:\n  connect_fold_interval: 2m\n", "line 2: sensor.connect_fold_interval"},
		{"sensor:\n  connect_fold_interval: 1ms\n", "line 2: sensor.connect_fold_interval"},
		{"outputs:\n  - spec: stdout\n    kinds: [detection, launches]\n", "line 3: outputs[0].kinds[1]: unknown record kind \"launches\""},
		{"outputs:\n  - spec: stdout\n  - spec: file:/tmp/x\n    drop:\n      - kind == \"detection\"\n      - 'process.exe.path ==='\n", "line 6: outputs[1].drop[1]"},
		{"outputs:\n  - spec: stdout\n    drop: ['proces.exe.path == \"/x\"']\n", "line 3: outputs[0].drop[0]"},
		{"{{{", "config bad.yaml"},
	} {
		_, err := Parse("bad.yaml", []byte(tc.src))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.src, err, tc.want)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/argus.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/argus.yaml") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "64k": 64 << 10, "8MiB": 8 << 20, "512M": 512 << 20, "1GiB": 1 << 30, "1G": 1 << 30, "2TB": 2 << 40} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5G", "lots", "99999999999T"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("../packaging/config.yaml")
	f.Add(b)
	f.Add([]byte("outputs: [{spec: stdout}]\ndetect: {allow: [{name: a}]}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse("fuzz.yaml", src)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}

// Per-output filters from the file reach the forwarder's outputs as
// written, and the common split (everything to a file, detections and
// health to the SIEM) validates.
func TestOutputFilters(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`
outputs:
  - spec: file:/var/log/argus/events.jsonl
    drop:
      - kind == "process_launch" && process.exe.trust.verdict == "package_verified" && glob("/usr/**", process.exe.path)
  - spec: https://siem.example.com/ingest
    kinds: [detection, sensor_health]
`))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := cfg.ForwardOutputs()
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || len(outs[0].Drop) != 1 || outs[0].Kinds != nil ||
		!reflect.DeepEqual(outs[1].Kinds, []string{"detection", "sensor_health"}) || outs[1].Drop != nil {
		t.Fatalf("outputs: %+v", outs)
	}
	if !strings.HasPrefix(outs[0].Drop[0], `kind == "process_launch" &&`) {
		t.Errorf("drop condition: %q", outs[0].Drop[0])
	}
}
