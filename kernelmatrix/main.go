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
	"strings"
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
	cfg := config{}
	kernels := fs.String("kernels", strings.Join(names, ","), "kernel series to boot, comma separated (none: \"\")")
	fs.StringVar(&cfg.repo, "repo", ".", "repository to build")
	fs.StringVar(&cfg.cache, "cache", defaultCache(), "where kernels, busybox and apt state are kept between runs ($ARGUS_KERNELMATRIX_CACHE)")
	fs.StringVar(&cfg.goTool, "go", "go", "go command")
	fs.BoolVar(&cfg.host, "host", true, "also run the suite natively on the host kernel (needs root)")
	fs.BoolVar(&cfg.refusals, "refusals", true, "also boot the scenarios the sensor must refuse (5.10 without BTF, 6.12 under lockdown)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (binaries, initramfs, console logs); kept anyway on failure")
	fs.StringVar(&cfg.vm.qemu, "qemu", "qemu-system-x86_64", "QEMU binary")
	fs.StringVar(&cfg.vm.accel, "accel", "tcg,thread=single", "QEMU accelerator; see docs/kernels.md for why not multi-threaded TCG")
	fs.IntVar(&cfg.vm.memMB, "memory", 1536, "guest memory, MiB")
	fs.IntVar(&cfg.vm.cpus, "cpus", 2, "guest CPUs")
	fs.Float64Var(&cfg.vm.storm, "storm", 0.25, "ARGUS_STORM_SCALE in guests (TCG is slow; every assertion still runs)")
	fs.DurationVar(&cfg.vm.timeout, "timeout", 5*time.Minute, "limit for one guest, boot to power-off (a guest normally takes under a minute)")
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
	if cfg.vm.storm <= 0 || cfg.hostStorm <= 0 {
		return cfg, errors.New("storm scales must be positive")
	}
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
	if len(scs) > 0 {
		if _, err := exec.LookPath(cfg.vm.qemu); err != nil {
			return false, fmt.Errorf("%w (apt-get install qemu-system-x86, or run kernelmatrix/run.sh)", err)
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
	binDir := filepath.Join(work, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return false, err
	}
	if err := build(ctx, log, cfg.goTool, repo, binDir); err != nil {
		return false, fmt.Errorf("build: %w", err)
	}

	var results []result
	if len(scs) > 0 {
		ar := &archive{dir: cfg.cache, mirror: cfg.mirror, security: cfg.security, keyring: cfg.keyring, offline: cfg.offline, log: log}
		busybox, err := ar.busybox(ctx)
		if err != nil {
			return false, err
		}
		kernels := map[string][2]string{}
		for _, s := range cfg.series {
			k, pkg, err := ar.kernel(ctx, s)
			if err != nil {
				return false, err
			}
			kernels[s.Name] = [2]string{k, pkg}
		}
		initrd := filepath.Join(work, "initramfs.cpio")
		if err := writeInitramfs(initrd, busybox, binDir, repo); err != nil {
			return false, err
		}
		for _, sc := range scs {
			k := kernels[sc.Series]
			log.Info("booting", "row", sc.Name, "kernel", k[1])
			r := result{sc: sc, pkg: k[1], logPath: filepath.Join(work, "console-"+strings.ReplaceAll(sc.Name, " ", "-")+".log")}
			t0 := time.Now()
			raw, err := cfg.vm.boot(ctx, sc, k[0], initrd, r.logPath)
			r.elapsed = time.Since(t0)
			r.log = cleanLog([]byte(raw))
			r.tr = parseTranscript(r.log)
			r.err = errors.Join(err, judge(sc, r.tr))
			log.Info("finished", "row", sc.Name, "result", r.status(), "duration", r.elapsed.Round(100*time.Millisecond))
			results = append(results, r)
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
		}
	}

	if cfg.host {
		sc := scenario{Name: "host", Mode: "full"}
		r := result{sc: sc, logPath: filepath.Join(work, "host.log")}
		if os.Geteuid() != 0 {
			r.skipped = "needs root to load BPF programs"
		} else {
			log.Info("running on the host kernel")
			t0 := time.Now()
			raw, err := runHost(ctx, hostRun{binDir: binDir, repo: repo, logPath: r.logPath, storm: cfg.hostStorm,
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
