package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernelmatrix:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernelmatrix:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	repo     string
	cache    string
	goTool   string
	series   []series
	host     bool
	refusals bool
	keep     bool
	parallel int
	vm       vmConfig

	hostStorm   float64
	hostTimeout time.Duration

	mirror, security, keyring string
	offline                   bool
	log                       *slog.Logger
}

func defaultCache() string {
	if d := os.Getenv("ARGUS_KERNELMATRIX_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "argus-kernelmatrix")
	}
	return filepath.Join(os.TempDir(), "argus-kernelmatrix")
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("kernelmatrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, s := range allSeries {
		names = append(names, s.Name)
	}
	cfg := config{vm: vmConfig{qemu: map[string]string{}, storm: map[string]float64{}}}
	kernels := fs.String("kernels", strings.Join(names, ","), "kernel series to boot, comma separated (none: \"\")")
	fs.StringVar(&cfg.repo, "repo", ".", "repository to build")
	fs.StringVar(&cfg.cache, "cache", defaultCache(), "where kernels, busybox and apt state are kept between runs ($ARGUS_KERNELMATRIX_CACHE)")
	fs.StringVar(&cfg.goTool, "go", "go", "go command")
	fs.BoolVar(&cfg.host, "host", true, "also run the suite natively on the host kernel (needs root)")
	fs.BoolVar(&cfg.refusals, "refusals", true, "also boot the scenarios the sensor must refuse (5.10 without BTF, 6.12 under lockdown)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (binaries, initramfs, console logs); kept anyway on failure")
	qemuAMD64 := fs.String("qemu", guestArches["amd64"].qemu, "QEMU binary for the x86-64 guests")
	qemuARM64 := fs.String("qemu-arm64", guestArches["arm64"].qemu, "QEMU binary for the arm64 guests")
	fs.StringVar(&cfg.vm.accel, "accel", "tcg,thread=single", "QEMU accelerator; see docs/kernels.md for why not multi-threaded TCG")
	fs.IntVar(&cfg.vm.memMB, "memory", 1536, "guest memory, MiB")
	fs.IntVar(&cfg.vm.cpus, "cpus", 2, "guest CPUs")
	fs.IntVar(&cfg.parallel, "parallel", runtime.NumCPU(), "guests booted at once; each single-threaded TCG guest keeps one host CPU busy")
	stormAMD64 := fs.Float64("storm", guestArches["amd64"].storm, "ARGUS_STORM_SCALE in the x86-64 guests (TCG is slow; every assertion still runs)")
	stormARM64 := fs.Float64("storm-arm64", guestArches["arm64"].storm, "ARGUS_STORM_SCALE in the arm64 guests (slower still under TCG on x86)")
	fs.DurationVar(&cfg.vm.timeout, "timeout", 8*time.Minute, "limit for one x86-64 guest, boot to power-off (one takes 2 to 3 minutes here, 5 on a loaded machine); arm64 guests get three times as long")
	fs.Float64Var(&cfg.hostStorm, "host-storm", 1, "ARGUS_STORM_SCALE on the host")
	fs.StringVar(&cfg.mirror, "mirror", "http://deb.debian.org/debian", "Debian archive")
	fs.StringVar(&cfg.security, "security-mirror", "http://deb.debian.org/debian-security", "Debian security archive")
	fs.StringVar(&cfg.keyring, "keyring", "/usr/share/keyrings/debian-archive-keyring.gpg", "keyring that signs the archives")
	fs.BoolVar(&cfg.offline, "offline", false, "do not contact the archive: use the newest cached kernels")
	fs.StringVar(&cfg.vm.run, "run", "", "only run tests matching this go test -run pattern (no spaces)")
	appendArgs := fs.String("append", "", "extra kernel command line for every guest, e.g. loglevel=7")
	verbose := fs.Bool("v", false, "copy guest consoles and host test output to stderr as they run")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, n := range strings.Split(*kernels, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		found := false
		for _, s := range allSeries {
			if s.Name == n {
				cfg.series, found = append(cfg.series, s), true
			}
		}
		if !found {
			return cfg, fmt.Errorf("unknown kernel series %q (have %s)", n, strings.Join(names, ", "))
		}
	}
	if cfg.parallel < 1 {
		return cfg, errors.New("-parallel must be at least 1")
	}
	if *stormAMD64 <= 0 || *stormARM64 <= 0 || cfg.hostStorm <= 0 {
		return cfg, errors.New("storm scales must be positive")
	}
	cfg.vm.qemu["amd64"], cfg.vm.qemu["arm64"] = *qemuAMD64, *qemuARM64
	cfg.vm.storm["amd64"], cfg.vm.storm["arm64"] = *stormAMD64, *stormARM64
	if strings.ContainsAny(cfg.vm.run, " \t") {
		return cfg, errors.New("-run: the pattern travels on the kernel command line and cannot hold spaces")
	}
	cfg.vm.append = strings.Fields(*appendArgs)
	cfg.hostTimeout = cfg.vm.timeout
	if *verbose {
		cfg.vm.verbose = stderr
	}
	cfg.log = slog.New(slog.NewTextHandler(stderr, nil))
	return cfg, nil
}

// run builds, boots every scenario, runs the host column, and reports. It
// returns false if any row failed, and an error only when the matrix
// itself could not be set up.
func run(ctx context.Context, cfg config, stdout io.Writer) (bool, error) {
	start := time.Now()
	log := cfg.log
	repo, err := filepath.Abs(cfg.repo)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		return false, fmt.Errorf("repository %s: %w", repo, err)
	}
	scs := scenarios(cfg.series, cfg.refusals)
	// The architectures to build for: the host's, for the host column,
	// and each guest's, in a stable order.
	var arches []string
	if cfg.host {
		arches = append(arches, runtime.GOARCH)
	}
	for _, sc := range scs {
		if !slices.Contains(arches, sc.Arch) {
			arches = append(arches, sc.Arch)
		}
		if _, err := exec.LookPath(cfg.vm.qemu[sc.Arch]); err != nil {
			return false, fmt.Errorf("%w (apt-get install %s, or run kernelmatrix/run.sh)", err, guestArches[sc.Arch].qemuPkg)
		}
	}
	if err := os.MkdirAll(cfg.cache, 0o755); err != nil {
		return false, fmt.Errorf("cache directory: %w", err)
	}
	work, err := os.MkdirTemp("", "argus-kernelmatrix-")
	if err != nil {
		return false, err
	}
	keep := cfg.keep
	defer func() {
		if keep {
			log.Info("work directory kept", "dir", work)
		} else {
			os.RemoveAll(work)
		}
	}()
	binDir := func(arch string) string { return filepath.Join(work, "bin-"+arch) }
	for _, arch := range arches {
		if err := os.MkdirAll(binDir(arch), 0o755); err != nil {
			return false, err
		}
		if err := build(ctx, log, cfg.goTool, repo, binDir(arch), arch); err != nil {
			return false, fmt.Errorf("build %s: %w", arch, err)
		}
	}

	var results []result
	if len(scs) > 0 {
		ar := &archive{dir: cfg.cache, mirror: cfg.mirror, security: cfg.security, keyring: cfg.keyring, offline: cfg.offline, log: log}
		// One initramfs per guest architecture: its busybox and binaries.
		initrds := map[string]string{}
		for _, sc := range scs {
			if _, ok := initrds[sc.Arch]; ok {
				continue
			}
			busybox, err := ar.busybox(ctx, sc.Arch)
			if err != nil {
				return false, err
			}
			initrd := filepath.Join(work, "initramfs-"+sc.Arch+".cpio")
			if err := writeInitramfs(initrd, sc.Arch, busybox, binDir(sc.Arch), repo); err != nil {
				return false, err
			}
			initrds[sc.Arch] = initrd
		}
		kernels := map[string][2]string{}
		for _, s := range cfg.series {
			k, pkg, err := ar.kernel(ctx, s)
			if err != nil {
				return false, err
			}
			kernels[s.Name] = [2]string{k, pkg}
		}
		results = bootAll(ctx, cfg, scs, func(sc scenario) result {
			k := kernels[sc.Series]
			log.Info("booting", "row", sc.Name, "arch", sc.Arch, "kernel", k[1])
			r := result{sc: sc, pkg: k[1], logPath: filepath.Join(work, "console-"+strings.ReplaceAll(sc.Name, " ", "-")+".log")}
			t0 := time.Now()
			raw, err := cfg.vm.boot(ctx, sc, k[0], initrds[sc.Arch], r.logPath)
			r.elapsed = time.Since(t0)
			r.log = cleanLog([]byte(raw))
			r.tr = parseTranscript(r.log)
			r.err = errors.Join(err, judge(sc, r.tr))
			log.Info("finished", "row", sc.Name, "result", r.status(), "duration", r.elapsed.Round(100*time.Millisecond))
			return r
		})
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}

	if cfg.host {
		sc := scenario{Name: "host", Arch: runtime.GOARCH, Mode: "full"}
		r := result{sc: sc, logPath: filepath.Join(work, "host.log")}
		if os.Geteuid() != 0 {
			r.skipped = "needs root to load BPF programs"
		} else {
			log.Info("running on the host kernel")
			t0 := time.Now()
			raw, err := runHost(ctx, hostRun{binDir: binDir(runtime.GOARCH), repo: repo, logPath: r.logPath, storm: cfg.hostStorm,
				timeout: cfg.hostTimeout, run: cfg.vm.run, verbose: cfg.vm.verbose})
			r.elapsed = time.Since(t0)
			r.log = raw
			r.tr = parseTranscript(raw)
			r.err = errors.Join(err, judge(sc, r.tr))
			log.Info("finished", "row", sc.Name, "result", r.status(), "duration", r.elapsed.Round(100*time.Millisecond))
		}
		results = append(results, r)
	}

	ok := true
	for _, r := range results {
		if r.err != nil {
			ok = false
		}
	}
	if !ok {
		keep = true
	}
	printReport(stdout, results, time.Since(start))
	return ok, nil
}

// bootAll runs boot for every scenario, cfg.parallel at a time, and
// returns the results in the scenarios' order. Guests share nothing but the
// read-only kernels and initramfs, and each writes its own console log.
func bootAll(ctx context.Context, cfg config, scs []scenario, boot func(scenario) result) []result {
	results := make([]result, len(scs))
	sem := make(chan struct{}, cfg.parallel)
	var wg sync.WaitGroup
	for i, sc := range scs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = boot(sc)
		}()
	}
	wg.Wait()
	// A row not booted because the run was cancelled has no result.
	return slices.DeleteFunc(results, func(r result) bool { return r.sc.Name == "" })
}
