// Package packaging holds what turns the sensor into an installed service,
// and the tests that prove the result works the way an operator meets it.
// It has no Go code of its own.
//
// # What is shipped
//
// package.sh builds a static binary (CGO_ENABLED=0, the BPF objects
// embedded) and hands it, with argus-sensor.service, the sysusers entry,
// the commented config.yaml and the documentation, to nfpm (a Go tool pinned
// in go.mod), once for a .deb and once for an .rpm. `make package` does
// that for amd64 and arm64: Go cross-compiles, the arm64 BPF objects are
// committed next to the x86 ones, and nfpm runs on the build machine
// whatever the target (package.sh names the target to nfpm as PKGARCH, so
// GOARCH never makes go tool build nfpm for the wrong machine). The
// maintainer scripts
// in scripts/ serve both formats: each one tells dpkg's arguments
// ("configure 1.2.0") from rpm's (an instance count) and does the same
// thing for both. On install they create the argus-sensor user, enable the
// service and start it when systemd is running; on upgrade they restart it
// if it ran; on removal they stop and disable it and keep the spool; a deb
// purge deletes it.
//
// The unit runs the sensor as that user with five capabilities (CAP_BPF,
// CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN) inside a systemd
// sandbox. Which capabilities, and which sandbox settings, were found by
// running the sensor with each one taken away; operations.md has the table.
//
// # Tests
//
// TestDeb and TestRPM build both packages for each architecture once
// (package.sh, as `make package` does) and check what is in them: files,
// modes, conffiles, scripts, metadata (Architecture arm64, rpm arch
// aarch64), that the binary is static, built for the package's machine
// (ELF header and Go build information) and carries its version, that the
// shipped configuration validates, and that `systemd-analyze verify`
// accepts the unit against the package's own file tree. The arm64 binary
// cannot run here, so only the host architecture's package runs `version`
// and `check --config`; TestDeb proves every other file of the arm64 .deb
// identical to the amd64 one's.
// TestUnitPrivileges keeps the unit's capabilities and the Privileges
// table of docs/operations.md in step. None of these needs root.
//
// TestSystemd is the real thing. It boots Debian bookworm with systemd in
// a container (systemd-nspawn -b, no network but loopback) over a cached
// debootstrap root, installs the .deb with dpkg, and checks that the
// service is enabled and running with its user, capabilities and seccomp
// filter; that an execution in the container shows in its output with a
// hash it could only compute with its capabilities; that reload applies a
// good file, refuses a bad one, and does not leave the sensor dead when it
// comes straight after a start; that an upgrade restarts it; that after a
// reboot it was up before basic.target and user sessions; that a stop is
// clean (the last record is sensor_health "stopped"); that remove,
// reinstall and purge do what the scripts promise; and then the same for
// the .rpm, installed with Debian's rpm, so the scripts also run under
// rpm's arguments. It needs root, and skips without it unless CI=true.
//
// TestVagrantfile runs `vagrant validate` on the repository's Vagrantfile.
package packaging
