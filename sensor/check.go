package sensor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// ErrUnsupported matches (errors.Is) every reason this kernel or process
// cannot run the sensor, so callers can tell "cannot run here" from a
// transient failure.
var ErrUnsupported = errors.New("sensor unsupported")

// UnsupportedError lists why the sensor cannot run here, one reason each.
type UnsupportedError struct {
	Reasons []string
}

func (e *UnsupportedError) Error() string { return strings.Join(e.Reasons, "; ") }

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Capability is a Linux capability the sensor may need.
type Capability struct {
	Name   string
	Bit    uint
	Why    string
	Needed bool // without it the sensor cannot start
	Have   bool
}

// capabilities the sensor uses. CAP_SYS_ADMIN substitutes for CAP_BPF and
// CAP_PERFMON on kernels before 5.8, which the sensor does not support.
var capabilities = []Capability{
	{Name: "CAP_BPF", Bit: 39, Why: "load BPF programs and create maps", Needed: true},
	{Name: "CAP_PERFMON", Bit: 38, Why: "attach tracing programs and tracepoints, read kernel memory", Needed: true},
	{Name: "CAP_SYS_RESOURCE", Bit: 24, Why: "raise RLIMIT_MEMLOCK on kernels before 5.11"},
	{Name: "CAP_SYS_PTRACE", Bit: 19, Why: "read /proc/<pid>/exe and cwd of other users' processes"},
	{Name: "CAP_DAC_READ_SEARCH", Bit: 2, Why: "read executables and package databases regardless of mode"},
	{Name: "CAP_SYS_ADMIN", Bit: 21, Why: "mount tracefs or bpffs when they are missing"},
}

// Capabilities reports the effective capabilities of this process.
func Capabilities() ([]Capability, error) {
	eff, err := effectiveCaps()
	if err != nil {
		return nil, err
	}
	caps := append([]Capability(nil), capabilities...)
	for i := range caps {
		caps[i].Have = eff&(1<<caps[i].Bit) != 0
		// tracefs is mode 0700 root: a sensor that is not root reads the
		// tracepoint ids in it only with CAP_DAC_READ_SEARCH.
		if caps[i].Name == "CAP_DAC_READ_SEARCH" && os.Geteuid() != 0 {
			caps[i].Needed = true
			caps[i].Why = "read tracefs (mode 0700) when not root, and executables and package databases regardless of mode"
		}
	}
	return caps, nil
}

func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("read capabilities: no CapEff line in /proc/self/status")
}

// supported returns an *UnsupportedError when the sensor cannot run here.
func supported() error {
	var reasons []string
	caps, err := Capabilities()
	if err != nil {
		return err
	}
	for _, c := range caps {
		if c.Needed && !c.Have {
			reasons = append(reasons, fmt.Sprintf("missing %s (%s): run as root or grant it", c.Name, c.Why))
		}
	}
	if len(reasons) > 0 {
		// Without the capabilities the feature probes below only fail
		// with EPERM, which would hide the real reason.
		return &UnsupportedError{Reasons: reasons}
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		reasons = append(reasons, fmt.Sprintf("no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF): %v", err))
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		reasons = append(reasons, fmt.Sprintf("no BPF ring buffer (needs Linux 5.8 or later): %v", err))
	}
	if err := features.HaveBoundedLoops(); err != nil {
		reasons = append(reasons, fmt.Sprintf("no BPF bounded loops (needs Linux 5.3 or later): %v", err))
	}
	if lockdownConfidentiality() {
		reasons = append(reasons, "kernel lockdown is in confidentiality mode, which forbids BPF programs to read kernel memory (boot with lockdown=integrity or without lockdown=)")
	}
	if len(reasons) > 0 {
		return &UnsupportedError{Reasons: reasons}
	}
	return nil
}

// lockdownConfidentiality reports whether the lockdown LSM is in its
// confidentiality mode. There the bpf_probe_read_kernel helpers do not
// exist for tracing programs, so every program fails the verifier with
// "unknown func"; this names the cause instead. Integrity mode (what
// Secure Boot usually enables) does not affect the sensor. Without
// securityfs mounted the mode cannot be read, and the load error stands.
func lockdownConfidentiality() bool {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	return err == nil && strings.Contains(string(b), "[confidentiality]")
}

// Report is what `argus-sensor check` prints.
type Report struct {
	Kernel       string
	Capabilities []Capability
	BTF          error
	RingBuf      error
	BoundedLoops error
	Mounts       []MountState
	Hooks        []Hook
	// Folding is the connect fold interval in force (0: off); FoldingErr
	// why it is off although Options.FoldInterval asked for it.
	Folding    time.Duration
	FoldingErr error
	// CodeOrigin says whether connect records say where the calling code
	// lives (Sensor.CodeOrigin); CodeOriginErr why not.
	CodeOrigin    bool
	CodeOriginErr error
	// Err is nil when the sensor can run: every hook loaded and attached.
	Err error
}

// Check probes everything the sensor needs and, if the basics are there,
// loads and attaches every program for real, then detaches. It changes
// nothing else on the host except mounting a missing tracefs or bpffs.
func Check(opts Options) Report {
	var r Report
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		r.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	r.Capabilities, _ = Capabilities()
	_, r.BTF = btf.LoadKernelSpec()
	r.RingBuf = features.HaveMapType(ebpf.RingBuf)
	r.BoundedLoops = features.HaveBoundedLoops()
	s, err := New(opts)
	r.Mounts = MountStates()
	if err != nil {
		r.Err = err
		var ae *AttachError
		if errors.As(err, &ae) {
			r.Hooks = ae.Hooks
		}
		return r
	}
	r.Hooks = s.Hooks()
	r.Folding, r.FoldingErr = s.Folding()
	r.CodeOrigin, r.CodeOriginErr = s.CodeOrigin()
	r.Err = s.Close()
	return r
}
