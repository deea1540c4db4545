// Command kernelmatrix proves the sensor on the kernels users run: it boots
// Debian's 5.10, 6.1 and 6.12 x86-64 cloud kernels and its 6.1 and 6.12
// arm64 cloud kernels under QEMU and runs the sensor's own check and
// privileged test suites inside each, then runs the same binaries on the
// host kernel, and prints one row per kernel with its architecture.
//
//	go run ./kernelmatrix [flags]      (as root, for the host column)
//	kernelmatrix/run.sh [flags]        the same, installing QEMU if missing
//
// # Mechanism
//
// Kernels come from the Debian archive with apt-get, never from the host's
// apt configuration: each release (bullseye, bookworm) has a private
// sources list and private state and cache directories under the cache
// directory, so nothing on the host changes. A kernel series is named by
// its metapackage (linux-image-cloud-amd64 in bullseye is 5.10), resolved
// to the current ABI package at each run, downloaded with apt-get download,
// and only /boot/vmlinuz is unpacked from it: the cloud kernels have the
// serial console, initramfs and tmpfs built in, and the tests need no
// device or module. busybox comes the same way, from busybox-static, so the
// host's own busybox (dynamic, or absent) does not matter. Downloads and
// unpacked kernels are kept in the cache directory, keyed by package
// version; with -offline, or when the archive cannot be reached, the newest
// cached kernel of each series is used. Each series names its architecture;
// arm64 packages come through a private apt state of their own with
// APT::Architecture=arm64, so the host needs no dpkg --add-architecture.
//
// The repository is built once per architecture in the run, statically
// (CGO_ENABLED=0, GOARCH set; Go cross-compiles and the BPF objects of both
// architectures are committed): the argus-sensor binary, and the test
// binaries of ./sensor and ./cmd/argus-sensor (go test -c). Every binary
// and busybox is checked to be static and of the guest's ELF machine. These re-execute themselves as the
// programs they observe, so they need nothing else in the guest, except
// the C implants: the socket address hook tests' (sensor/testdata/escape.c,
// 64-bit with liburing, and -m32), the relabelling implant and the
// injector (internal/testutil/testdata/relabel.c and inject.c), which gcc
// builds statically on the host for the x86-64 guests only into /implants,
// found by the tests through ARGUS_IMPLANTS; arm64 guests skip those
// tests. They are
// packed with busybox, init.sh (the guest's /init) and the source tree
// (at /src, so each test binary runs in its package directory, as go test
// runs it) into a newc cpio archive written by this program (cpio.go), one
// per architecture.
//
// Each kernel boots under TCG (KVM is not assumed to work on CI machines,
// and cannot run arm64 on x86 anyway), two CPUs, no network device (-nic
// none: the tests only use loopback) and a serial console: x86-64 kernels
// under qemu-system-x86_64 on its default board (console ttyS0), arm64
// kernels under qemu-system-aarch64 -M virt -cpu neoverse-n1 (console
// ttyAMA0, the board's PL011). arm64 emulated on x86 is several times
// slower, so its guests run smaller storms (-storm-arm64) and their waits
// and time limit are three times longer (ARGUS_TEST_PATIENCE in the
// guest, which the tests' hang detectors scale by). TCG runs single-threaded:
// multi-threaded TCG does not synchronise the kernel's live code patching
// (text_poke_bp, used when the sensor attaches and detaches its syscall
// tracepoints) and made guests lock up or oops at random; docs/kernels.md
// has the evidence. /init prints each step framed by "ARGUS-KM begin/end"
// markers; the host parses the console log and decides pass or fail per
// kernel (transcript.go). A guest that hangs is killed at -timeout. Two
// refusal scenarios boot kernels where the sensor must not run, 5.10 with
// BTF hidden and 6.12 under lockdown=confidentiality, and pass only if
// check and run both exit 1 with the right reason and no panic.
//
// # Why a Go program
//
// The work is mostly structured: resolve and cache packages, write an
// archive, supervise processes with timeouts, parse a log into steps, judge
// them and print a table. In Go each of those is a small function with a
// unit test (the archive writer and the log parser are tested without
// QEMU), errors carry their cause, and the harness builds with the same
// toolchain as the code it tests. Only the guest's /init is shell, because
// busybox sh is what the guest has.
package main
