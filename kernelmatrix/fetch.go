package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// series is one kernel column: a Debian kernel line for one
// architecture, named by the metapackage that always depends on its
// newest ABI package.
type series struct {
	Name    string // "5.10", "6.1-arm64"
	Arch    string // Debian architecture, also the GOARCH: amd64, arm64
	Release string // Debian release whose archive carries it
	Meta    string // metapackage to resolve
}

// allSeries are the kernels users of Debian and its derivatives run: 5.10
// (bullseye, LTS until 2026), 6.1 (bookworm) and 6.12 (bookworm's newer
// kernel, trixie's default), on x86-64, and 6.1 and 6.12 on arm64 (AWS
// Graviton, Ampere, Azure Cobalt; Debian's arm64 5.10 cloud kernel has no
// BTF, so the sensor would refuse it).
var allSeries = []series{
	{Name: "5.10", Arch: "amd64", Release: "bullseye", Meta: "linux-image-cloud-amd64"},
	{Name: "6.1", Arch: "amd64", Release: "bookworm", Meta: "linux-image-cloud-amd64"},
	{Name: "6.12", Arch: "amd64", Release: "bookworm", Meta: "linux-image-6.12-cloud-amd64"},
	{Name: "6.1-arm64", Arch: "arm64", Release: "bookworm", Meta: "linux-image-cloud-arm64"},
	{Name: "6.12-arm64", Arch: "arm64", Release: "bookworm", Meta: "linux-image-6.12-cloud-arm64"},
}

// Suites of each release: kernel updates land in -security.
var releaseSuites = map[string][]string{
	"bullseye": {"bullseye", "bullseye-security"},
	"bookworm": {"bookworm", "bookworm-updates", "bookworm-security"},
}

// archive fetches Debian packages with apt-get, using private state under
// dir so the host's apt configuration and package lists are untouched.
// Each (release, architecture) pair has its own state: apt is told the
// architecture (APT::Architecture), so arm64 packages are fetched without
// dpkg --add-architecture on the host.
type archive struct {
	dir      string // cache root
	mirror   string // e.g. http://deb.debian.org/debian
	security string // e.g. http://deb.debian.org/debian-security
	keyring  string
	offline  bool
	log      *slog.Logger
	updated  map[dist]error // result of apt-get update, once per run
}

// dist is one package index: a Debian release for one architecture.
type dist struct {
	release, arch string
}

// aptDir is the private apt state of d. amd64 keeps the plain release
// name, the layout before arm64 was added, so existing caches stay valid.
func (a *archive) aptDir(d dist) string {
	name := d.release
	if d.arch != "amd64" {
		name += "-" + d.arch
	}
	return filepath.Join(a.dir, "apt", name)
}

// aptArgs points apt at the private state of dt.
func (a *archive) aptArgs(dt dist) []string {
	d := a.aptDir(dt)
	args := []string{
		"-o", "APT::Architecture=" + dt.arch,
		"-o", "APT::Architectures=" + dt.arch,
		"-o", "Dir::Etc::sourcelist=" + filepath.Join(d, "sources.list"),
		"-o", "Dir::Etc::sourceparts=" + filepath.Join(d, "empty"),
		"-o", "Dir::Etc::preferences=" + filepath.Join(d, "preferences"),
		"-o", "Dir::Etc::preferencesparts=" + filepath.Join(d, "empty"),
		"-o", "Dir::State::Lists=" + filepath.Join(d, "lists"),
		"-o", "Dir::State::status=" + filepath.Join(d, "status"),
		"-o", "Dir::Cache=" + filepath.Join(d, "cache"),
		"-o", "APT::Get::List-Cleanup=false",
	}
	if os.Geteuid() == 0 {
		// apt drops to _apt for downloads, which cannot enter a cache
		// directory in root's home.
		args = append(args, "-o", "APT::Sandbox::User=root")
	}
	return args
}

// update refreshes the package lists of dt, once per run.
func (a *archive) update(ctx context.Context, dt dist) error {
	if a.updated == nil {
		a.updated = map[dist]error{}
	}
	if err, ok := a.updated[dt]; ok {
		return err
	}
	err := a.doUpdate(ctx, dt)
	a.updated[dt] = err
	return err
}

func (a *archive) doUpdate(ctx context.Context, dt dist) error {
	if a.offline {
		return errors.New("offline")
	}
	suites, ok := releaseSuites[dt.release]
	if !ok {
		return fmt.Errorf("unknown Debian release %q", dt.release)
	}
	d := a.aptDir(dt)
	for _, sub := range []string{"lists/partial", "cache/archives/partial", "empty"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	var src strings.Builder
	for _, s := range suites {
		m := a.mirror
		if strings.HasSuffix(s, "-security") {
			m = a.security
		}
		fmt.Fprintf(&src, "deb [signed-by=%s] %s %s main\n", a.keyring, m, s)
	}
	if err := os.WriteFile(filepath.Join(d, "sources.list"), []byte(src.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "status"), nil, 0o644); err != nil {
		return err
	}
	_, err := a.apt(ctx, dt, "", "apt-get", "-q", "update")
	return err
}

func (a *archive) apt(ctx context.Context, dt dist, dir, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, append(a.aptArgs(dt), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return out, nil
}

// resolve returns the package a metapackage currently depends on.
func (a *archive) resolve(ctx context.Context, dt dist, meta string) (string, error) {
	out, err := a.apt(ctx, dt, "", "apt-cache", "depends", "--no-recommends", "--no-suggests", meta)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: "); ok && strings.HasPrefix(p, "linux-image-") {
			return p, nil
		}
	}
	return "", fmt.Errorf("resolve %s in %s/%s: no linux-image dependency in %q", meta, dt.release, dt.arch, out)
}

// version returns the candidate version of pkg.
func (a *archive) version(ctx context.Context, dt dist, pkg string) (string, error) {
	out, err := a.apt(ctx, dt, "", "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("version of %s: none in apt-cache show", pkg)
}

// extract downloads pkg into a temporary directory and unpacks the members
// matching pattern (a tar wildcard such as ./boot/vmlinuz-*) into dst.
func (a *archive) extract(ctx context.Context, dt dist, pkg, dst, pattern string) error {
	tmp, err := os.MkdirTemp(a.dir, "download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if _, err := a.apt(ctx, dt, tmp, "apt-get", "-q", "download", pkg); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("download %s: %d .deb files", pkg, len(debs))
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	// dpkg-deb --fsys-tarfile | tar: only the wanted members reach the disk.
	deb := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", debs[0])
	tar := exec.CommandContext(ctx, "tar", "-x", "-C", dst, "--wildcards", pattern)
	pipe, err := deb.StdoutPipe()
	if err != nil {
		return err
	}
	tar.Stdin = pipe
	var stderr bytes.Buffer
	deb.Stderr, tar.Stderr = &stderr, &stderr
	if err := tar.Start(); err != nil {
		return fmt.Errorf("unpack %s: %w", pkg, err)
	}
	derr := deb.Run()
	terr := tar.Wait()
	if err := errors.Join(derr, terr); err != nil {
		return fmt.Errorf("unpack %s from %s: %w: %s", pattern, filepath.Base(debs[0]), err, lastLines(stderr.String(), 5))
	}
	return nil
}

// cached fetches the members matching pattern of pkg (or, with meta, of the
// package the metapackage pkg depends on) into dir/<package>_<version>,
// unless they are there already, and returns that directory and its name.
// When the archive cannot be reached it falls back to the newest download
// in dir.
func (a *archive) cached(ctx context.Context, dt dist, pkg string, meta bool, dir, pattern string) (string, string, error) {
	fallback := func(cause error) (string, string, error) {
		d, err := newestDir(dir)
		if err != nil {
			return "", "", fmt.Errorf("%w, and nothing cached in %s", cause, dir)
		}
		a.log.Warn("using cached package", "dir", d, "reason", cause)
		return d, filepath.Base(d), nil
	}
	if err := a.update(ctx, dt); err != nil {
		return fallback(err)
	}
	if meta {
		var err error
		if pkg, err = a.resolve(ctx, dt, pkg); err != nil {
			return fallback(err)
		}
	}
	ver, err := a.version(ctx, dt, pkg)
	if err != nil {
		return fallback(err)
	}
	id := pkg + "_" + strings.ReplaceAll(ver, ":", "%3a")
	d := filepath.Join(dir, id)
	if _, err := os.Stat(filepath.Join(d, ".complete")); err == nil {
		return d, id, pruneExcept(dir, id)
	}
	a.log.Info("downloading", "package", pkg, "version", ver, "release", dt.release, "arch", dt.arch)
	part := d + ".part"
	os.RemoveAll(part)
	if err := a.extract(ctx, dt, pkg, part, pattern); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(part, ".complete"), nil, 0o644); err != nil {
		return "", "", err
	}
	os.RemoveAll(d)
	if err := os.Rename(part, d); err != nil {
		return "", "", err
	}
	return d, id, pruneExcept(dir, id)
}

// pruneExcept removes the downloads in dir other than keep: a series needs
// only its current package, and the offline fallback takes the newest.
func pruneExcept(dir, keep string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() && e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("prune cache: %w", err)
			}
		}
	}
	return nil
}

// kernel returns the vmlinuz of s and the package it came from.
func (a *archive) kernel(ctx context.Context, s series) (string, string, error) {
	d, id, err := a.cached(ctx, dist{s.Release, s.Arch}, s.Meta, true, filepath.Join(a.dir, "kernels", s.Name), "./boot/vmlinuz-*")
	if err != nil {
		return "", "", fmt.Errorf("fetch kernel %s: %w", s.Name, err)
	}
	m, _ := filepath.Glob(filepath.Join(d, "boot", "vmlinuz-*"))
	if len(m) != 1 {
		return "", "", fmt.Errorf("fetch kernel %s: %d vmlinuz files in %s", s.Name, len(m), d)
	}
	return m[0], id, nil
}

// busybox returns a static busybox for arch from bookworm's
// busybox-static.
func (a *archive) busybox(ctx context.Context, arch string) (string, error) {
	dir := filepath.Join(a.dir, "busybox") // amd64: the layout before arm64
	if arch != "amd64" {
		dir += "-" + arch
	}
	d, _, err := a.cached(ctx, dist{"bookworm", arch}, "busybox-static", false, dir, "./bin/busybox")
	if err != nil {
		return "", fmt.Errorf("fetch busybox %s: %w", arch, err)
	}
	return filepath.Join(d, "bin", "busybox"), nil
}

// newestDir returns the most recently completed download in dir.
func newestDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	type cand struct {
		path string
		mod  int64
	}
	var cands []cand
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(filepath.Join(p, ".complete")); err == nil && e.IsDir() {
			cands = append(cands, cand{p, st.ModTime().UnixNano()})
		}
	}
	if len(cands) == 0 {
		return "", os.ErrNotExist
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].mod > cands[j].mod })
	return cands[0].path, nil
}

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
