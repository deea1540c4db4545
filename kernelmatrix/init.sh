#!/bin/busybox sh
# shellcheck shell=sh
# /init of the kernel-matrix initramfs, run by busybox sh as pid 1.
#
# It sets up what a booted system would have (proc, sys, devtmpfs, a tmpfs
# /tmp, tracefs, debugfs, bpffs, cgroup2, securityfs, loopback up), runs the
# steps its mode asks for, and powers off. The repository's source tree is
# at /src, so each test binary runs in its package directory as under
# go test. The host reads the serial console:
# each step is framed by "ARGUS-KM begin NAME" and
# "ARGUS-KM end NAME rc=N secs=S", "ARGUS-KM note TEXT" is shown in the
# report, and "ARGUS-KM done" means every step ran.
# Pass or fail is decided on the host (kernelmatrix/guest.go), not here.
#
# Kernel command line parameters (from the host):
#   argus.mode=full     check, then the sensor and command test binaries
#   argus.mode=refuse   check and run must refuse this kernel cleanly
#   argus.storm=F       ARGUS_STORM_SCALE for the storm tests
#   argus.patience=F    ARGUS_TEST_PATIENCE: the tests' waits, times F
#   argus.timeout=D     go test -test.timeout for each test binary
#   argus.hidebtf=1     hide /sys/kernel/btf, as on a kernel built without it
#   argus.run=REGEX     only the tests matching REGEX (go test -run)

/bin/busybox mkdir -p /proc /sys /dev /tmp /root
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
# /implants: the C test programs, built on the host (no compiler here).
export PATH=/bin HOME=/root TMPDIR=/tmp CI=true ARGUS_IMPLANTS=/implants ARGUS_KERNEL_MATRIX_GUEST=1

mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null # may be automounted already
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t securityfs securityfs /sys/kernel/security
ip link set lo up

mode=full storm=0.25 patience=1 timeout=4m hidebtf=0 run=.
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	argus.mode=*) mode=${arg#*=} ;;
	argus.storm=*) storm=${arg#*=} ;;
	argus.patience=*) patience=${arg#*=} ;;
	argus.timeout=*) timeout=${arg#*=} ;;
	argus.hidebtf=*) hidebtf=${arg#*=} ;;
	argus.run=*) run=${arg#*=} ;;
	esac
done
export ARGUS_TEST_PATIENCE="$patience"
if [ "$hidebtf" = 1 ]; then
	mount -t tmpfs -o ro,mode=0755 nobtf /sys/kernel/btf
fi

# uptime in centiseconds: /proc/uptime always has two decimals.
centis() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

step() {
	name=$1
	shift
	echo "ARGUS-KM begin $name"
	t0=$(centis)
	"$@" </dev/null 2>&1
	rc=$?
	t1=$(centis)
	d=$((t1 - t0))
	printf 'ARGUS-KM end %s rc=%d secs=%d.%02d\n' "$name" "$rc" $((d / 100)) $((d % 100))
}

echo "ARGUS-KM kernel $(uname -r) mode=$mode cpus=$(nproc) lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null)"
cd /tmp || exit 1
case "$mode" in
full)
	step check argus-sensor check
	# Each test binary runs in its package directory, as go test runs it.
	cd /src/sensor || exit 1
	step sensor-tests env ARGUS_STORM_SCALE="$storm" \
		sensor.test -test.v -test.count=1 -test.timeout="$timeout" -test.run="$run"
	# TestInspect reads /usr/bin/true and its dpkg database entry: neither
	# exists in this initramfs, and it exercises no kernel code. The host
	# column runs it.
	echo "ARGUS-KM note TestInspect not run: needs /usr/bin/true and a dpkg database"
	# Of the command's tests, the two that run the whole sensor against
	# this kernel: check, and run streaming schema-valid records. The rest
	# exercise no kernel code the sensor tests above do not, and each
	# sensor start costs 20-40 s of BPF verification under TCG; the host
	# column runs them all.
	cmdrun=$run
	[ "$cmdrun" = . ] && cmdrun='^(TestCheck|TestRunStreamsSchema)$'
	cd /src/cmd/argus-sensor || exit 1
	step cmd-tests cmd.test -test.v -test.count=1 -test.timeout="$timeout" -test.run="$cmdrun" \
		-test.skip '^TestInspect$'
	;;
refuse)
	step check argus-sensor check
	step run timeout 60 argus-sensor run
	;;
*)
	echo "ARGUS-KM unknown mode $mode"
	;;
esac
echo "ARGUS-KM done"
poweroff -f
