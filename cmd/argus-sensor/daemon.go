package main

import (
	"log/slog"
	"time"

	"github.com/argus-sensor/argus-sensor/agent"
	"github.com/argus-sensor/argus-sensor/config"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/detect"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/prevalence"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/signature"
)

// agentConfig composes the daemon's configuration from the parsed and
// validated file: the config package only parses and validates, and knows
// nothing of the daemon it configures.
func agentConfig(c *config.Config, version string, log *slog.Logger) (agent.Config, error) {
	outs, err := c.ForwardOutputs()
	if err != nil {
		return agent.Config{}, err
	}
	health := time.Duration(c.HealthInterval)
	if health == 0 {
		health = -1 // 0 in the file disables; agent.Config's 0 means default
	}
	return agent.Config{
		Outputs:        outs,
		SpoolDir:       c.Spool.Dir,
		HealthInterval: health,
		HashWait:       time.Duration(c.Hashing.Wait),
		QueueBytes:     int64(c.Hashing.QueueBytes),
		Sensor: sensor.Options{
			RingBytes:    int(c.Sensor.RingBytes),
			PollInterval: time.Duration(c.Sensor.PollInterval),
			QueueLen:     c.Sensor.QueueLen,
			QueueBytes:   int64(c.Sensor.QueueBytes),
			DNS:          sensor.DNSOptions{Off: !c.DNS.Capture, Rate: c.DNS.RateLimit, Burst: c.DNS.Burst},
			LoaderEnv:    c.Sensor.LoaderEnv,
			NoLibraries:  c.Sensor.Libraries != nil && !*c.Sensor.Libraries,
			FoldInterval: time.Duration(c.Sensor.ConnectFoldInterval),
		},
		Hasher: hasher.Options{
			CacheSize: c.Hashing.CacheSize, MaxFileSize: int64(c.Hashing.MaxFileSize), SuspectMaxFileSize: int64(c.Hashing.SuspectMaxFileSize), Workers: c.Hashing.Workers,
		},
		Signature: signature.Options{Root: c.Trust.Root, TrustedKeyDir: c.Trust.TrustedKeys, MaxImages: c.Containers.MaxImages,
			MaxImageBytes: int64(c.Containers.MaxImageBytes)},
		Containers:   container.Options{MaxEntries: c.Containers.MaxCgroups},
		NoContainers: !c.Containers.Enabled,
		PathRules:    c.PathClasses,
		Internal:     c.InternalNetworks,
		Detect: detect.Config{Window: time.Duration(c.Detect.Window), MaxKeys: c.Detect.MaxKeys, MaxBytes: int64(c.Detect.MaxBytes), Allow: c.Detect.Allow,
			Novelty: c.Detect.Novelty},
		MaxProcesses: c.ProcessTable.MaxProcesses,
		NoSnapshot:   !c.Snapshot,
		MetricsAddr:  c.Metrics.Address,
		StateDir:     stateDir(c),
		Prevalence:   prevalence.Options{MaxEntries: c.Prevalence.MaxEntries},
		DNSCacheSize: c.DNS.CacheSize,
		DNSMinTTL:    time.Duration(c.DNS.MinTTL),
		NoDNSRecords: !c.DNS.Records,
		Version:      version,
		Logger:       log,
	}, nil
}

// stateDir is where the prevalence store lives, "" when it is disabled.
func stateDir(c *config.Config) string {
	if !c.Prevalence.Enabled {
		return ""
	}
	return c.StateDir
}
