package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// auditKey tags the harness's audit rules and the records they make.
const auditKey = "argus-bench"

// auditdConf is Debian's auditd.conf, pointed at a private log.
const auditdConf = `local_events = yes
write_logs = yes
log_file = %s
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 1024
num_logs = 5
priority_boost = 4
name_format = NONE
max_log_file_action = IGNORE
space_left = 75
space_left_action = IGNORE
verify_email = no
action_mail_acct = root
admin_space_left = 50
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
use_libwrap = no
tcp_listen_queue = 5
tcp_max_per_addr = 1
tcp_client_max_idle = 0
transport = TCP
krb5_principal = auditd
distribute_network = no
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = %s
end_of_event_timeout = 2
`

// auditdProc is Debian's auditd, run by the harness with a private
// configuration and log, logging execve and connect like a typical
// deployment (backlog 8192, Debian's default).
type auditdProc struct {
	cmd *exec.Cmd
	dir string
	log string
}

func haveAuditd() bool {
	_, err1 := exec.LookPath("auditd")
	_, err2 := exec.LookPath("auditctl")
	return err1 == nil && err2 == nil
}

// ensureAuditd makes the baseline peer available: when auditd is missing
// it installs Debian's auditd package with apt-get, with a policy-rc.d in
// place so the package's own service is not started (the harness runs its
// own instance, and a second daemon would take the audit netlink socket).
// It returns why the auditd condition can't run, or "" when it can.
func ensureAuditd() string {
	if haveAuditd() {
		return ""
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "auditd is not installed and apt-get is not available (install the auditd package)"
	}
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); os.IsNotExist(err) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\n# argus bench: install auditd without starting it\nexit 101\n"), 0o755); err == nil {
			defer os.Remove(policy)
		}
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	install := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", "--no-install-recommends", "auditd")
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	out, err := install()
	if err != nil {
		upd := exec.Command("apt-get", "update", "-q")
		upd.Env = env
		upd.Run()
		out, err = install()
	}
	if err != nil {
		return fmt.Sprintf("installing auditd failed: %v: %s", err, lastLine(out))
	}
	if !haveAuditd() {
		return "auditd was installed but auditd or auditctl is still not in PATH"
	}
	return ""
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func auditctl(args ...string) error {
	if out, err := exec.Command("auditctl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("auditctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func startAuditd(dir string) (*auditdProc, error) {
	a := &auditdProc{dir: dir, log: filepath.Join(dir, "audit.log")}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(auditdConf, a.log, filepath.Join(dir, "plugins"))
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	a.cmd = exec.Command("auditd", "-n", "-c", dir)
	var stderr bytes.Buffer
	a.cmd.Stderr = &stderr
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start auditd: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("auditctl", "-s").Output()
		if bytes.Contains(out, []byte("pid "+strconv.Itoa(a.cmd.Process.Pid))) {
			break
		}
		if time.Now().After(deadline) {
			a.cmd.Process.Kill()
			a.cmd.Wait()
			return nil, fmt.Errorf("auditd did not register within 10s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"-D"}, {"-b", "8192"}, {"-f", "1"}, {"-e", "1"},
		{"-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", auditKey},
		{"-a", "always,exit", "-F", "arch=b64", "-S", "connect", "-k", auditKey},
	} {
		if err := auditctl(args...); err != nil {
			a.stop()
			return nil, err
		}
	}
	return a, nil
}

// stop removes the rules, disables auditing and stops the daemon.
func (a *auditdProc) stop() error {
	auditctl("-D")
	auditctl("-e", "0")
	a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-done
	}
	return nil
}

// lost is the kernel's count of audit records it could not queue.
func auditLost() uint64 {
	out, _ := exec.Command("auditctl", "-s").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "lost "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// count returns the SYSCALL records for execve (59) and connect (42) with
// the harness's key that match (the workload's executable).
func (a *auditdProc) count(match func(string) bool) (execs, connects uint64, err error) {
	f, err := os.Open(a.log)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "type=SYSCALL") || !strings.Contains(l, `key="`+auditKey+`"`) || !match(l) {
			continue
		}
		switch {
		case strings.Contains(l, " syscall=59 ") || strings.Contains(l, "SYSCALL=execve"):
			execs++
		case isConnect(l):
			connects++
		}
	}
	return execs, connects, sc.Err()
}

// cpuTicks is user+system time, in USER_HZ ticks, of pid.
func cpuTicks(pid int) uint64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(fields[11], 10, 64)
	st, _ := strconv.ParseUint(fields[12], 10, 64)
	return ut + st
}

// kauditdPID finds the kernel's audit thread.
func kauditdPID() int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if strings.TrimSpace(string(comm)) == "kauditd" {
			return pid
		}
	}
	return 0
}

func isConnect(l string) bool {
	return strings.Contains(l, " syscall=42 ") || strings.Contains(l, "SYSCALL=connect")
}
