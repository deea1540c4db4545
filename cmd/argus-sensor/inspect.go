package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/classify"
	"github.com/argus-sensor/argus-sensor/container"
	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/hasher"
	"github.com/argus-sensor/argus-sensor/signature"
)

// inspection is what the sensor would conclude about a file.
type inspection struct {
	// PID is the process inspected with --pid; Path is then its
	// executable's path in the process's mount namespace.
	PID         uint32           `json:"pid,omitempty"`
	Container   *event.Container `json:"container,omitempty"`
	K8s         *event.K8s       `json:"k8s,omitempty"`
	Path        string           `json:"path"`
	Size        int64            `json:"size"`
	Device      uint64           `json:"device"`
	Inode       uint64           `json:"inode"`
	MtimeNs     int64            `json:"mtime_ns"`
	CtimeNs     int64            `json:"ctime_ns"`
	SHA256      string           `json:"sha256,omitempty"`
	HashStatus  string           `json:"hash_status,omitempty"`
	Trust       *event.Trust     `json:"trust,omitempty"`
	PathClasses []string         `json:"path_classes"`
	Error       string           `json:"error,omitempty"`
}

// inspectCommand prints one JSON object per file: its identity, sha256,
// trust verdict and path classes, as the sensor would see them. Files that
// cannot be inspected are reported, and make the exit status non-zero,
// after the others are printed.
func inspectCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxSize := fs.Int64("max-size", hasher.DefaultMaxFileSize, "largest file to hash, in bytes")
	keys := fs.String("trusted-keys", "/etc/keys/ima", "directory of trusted IMA signing certificates")
	root := fs.String("root", "/", "root of the package databases")
	var pids []uint32
	fs.Func("pid", "inspect the executable of running process `PID`, container included (repeatable)", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("%q: want a process id", s)
		}
		pids = append(pids, uint32(n))
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: argus-sensor inspect [flags] FILE...\n       argus-sensor inspect [flags] --pid PID [--pid PID...] [FILE...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err.Error()}
	}
	if fs.NArg() == 0 && len(pids) == 0 {
		fs.Usage()
		return usageError{"inspect: name at least one FILE or --pid"}
	}
	chk, err := signature.New(signature.Options{Root: *root, TrustedKeyDir: *keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	paths, err := classify.NewPaths(classify.DefaultPathRules())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	failed := 0
	var ctrs *container.Resolver
	if len(pids) > 0 {
		if ctrs, err = container.New(container.Options{}); err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
	}
	for _, pid := range pids {
		in := inspectPID(pid, *maxSize, chk, paths, ctrs)
		if in.Error != "" {
			failed++
			fmt.Fprintf(stderr, "argus-sensor: inspect --pid %d: %s\n", pid, in.Error)
		}
		if err := enc.Encode(in); err != nil {
			return err
		}
	}
	for _, name := range fs.Args() {
		in := inspect(name, *maxSize, chk, paths)
		if in.Error != "" {
			failed++
			fmt.Fprintf(stderr, "argus-sensor: inspect %s: %s\n", name, in.Error)
		}
		if err := enc.Encode(in); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("inspect: %d of %d could not be inspected", failed, fs.NArg()+len(pids))
	}
	return nil
}

func inspect(name string, maxSize int64, chk *signature.Checker, paths *classify.Paths) inspection {
	in := inspection{Path: name}
	abs, err := filepath.Abs(name)
	if err == nil {
		if real, rerr := filepath.EvalSymlinks(abs); rerr == nil {
			abs = real
		}
		in.Path = abs
	}
	owner, owned := chk.Owner(in.Path)
	res, id, err := hasher.HashFile(in.Path, maxSize, owned && owner.NeedsMD5())
	if err != nil {
		in.Error = err.Error()
		return in
	}
	in.Size, in.Device, in.Inode, in.MtimeNs, in.CtimeNs = id.Size, id.Dev, id.Ino, id.MtimeNs, id.CtimeNs
	in.SHA256, in.HashStatus = res.SHA256, string(res.Status)
	v := chk.Verdict(signature.Input{
		Path: in.Path, XattrPath: in.Path, ID: id, SHA256: res.SHA256, MD5: res.MD5, HashStatus: string(res.Status),
	})
	in.Trust = &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	in.PathClasses = paths.Classes(in.Path, false, false)
	if in.PathClasses == nil {
		in.PathClasses = []string{}
	}
	return in
}

// inspectPID is inspect for the executable of a running process, as the
// sensor would judge it at its next record: read through /proc/<pid>/exe,
// and for a container's process by the container's own packages, with
// container_upper for a file in its writable layer.
func inspectPID(pid uint32, maxSize int64, chk *signature.Checker, paths *classify.Paths, ctrs *container.Resolver) inspection {
	in := inspection{PID: pid}
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	exe := proc + "/exe"
	p, err := os.Readlink(exe)
	if err != nil {
		in.Error = err.Error()
		return in
	}
	in.Path = p
	info := ctrs.Lookup(pid, 0)
	if info != nil {
		in.Container, in.K8s = info.Container, info.K8s
	}
	owner, owned := chk.Owner(p)
	if info != nil {
		root := info.Root
		if root == "" {
			root = proc + "/root"
		}
		owner, owned = chk.OwnerIn(info.Image, root, p)
	}
	res, id, err := hasher.HashFile(exe, maxSize, owned && owner.NeedsMD5())
	if err != nil {
		in.Error = err.Error()
		return in
	}
	in.Size, in.Device, in.Inode, in.MtimeNs, in.CtimeNs = id.Size, id.Dev, id.Ino, id.MtimeNs, id.CtimeNs
	in.SHA256, in.HashStatus = res.SHA256, string(res.Status)
	sin := signature.Input{Path: p, ID: id, SHA256: res.SHA256, MD5: res.MD5, HashStatus: string(res.Status), ProcExe: exe}
	var v signature.Trust
	if info != nil {
		root := info.Root
		if root == "" {
			root = proc + "/root"
		}
		v = chk.VerdictIn(info.Image, root, sin)
	} else {
		sin.XattrPath = p
		v = chk.Verdict(sin)
	}
	in.Trust = &event.Trust{Verdict: string(v.Verdict), Severity: string(v.Severity), Package: v.Package, Signer: v.Signer, Reason: v.Reason}
	in.PathClasses = paths.Classes(p, false, false)
	var sfs unix.Statfs_t
	if info != nil && unix.Statfs(exe, &sfs) == nil && sfs.Type == unix.OVERLAYFS_SUPER_MAGIC && info.InUpper(p, id.Size) {
		in.PathClasses = append(in.PathClasses, classify.ClassContainerUpper)
	}
	if in.PathClasses == nil {
		in.PathClasses = []string{}
	}
	return in
}
