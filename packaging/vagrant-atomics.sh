#!/usr/bin/env bash
# vagrant-atomics.sh: `make vagrant-atomics`. Boots the Vagrantfile's VM
# from the offline box, installs the .deb as a user would, checks the
# service is enabled and active, runs the T1587 atomics against it, prints
# the results table, and destroys the VM. Run as root on a Debian host;
# CI runs it as it is.
#
#   1. installs what is missing: vagrant and vagrant-libvirt, libvirt's
#      daemons, QEMU, dnsmasq (the VM's DHCP), iptables, rsync
#   2. builds the box if it is missing (packaging/vagrant-box.sh) and adds it
#   3. starts virtlogd and libvirtd when nothing runs them (no systemd
#      here), and the storage pool vagrant-libvirt uses
#   4. builds the .deb and the atomics runner on the host (make vagrant-dist)
#   5. vagrant up; provisioners tools, package, atomics (Vagrantfile)
#   6. prints the results table; on a failure, the VM's journal (or its
#      serial console when it never came up); vagrant destroy -f
#
# The VM is on an isolated libvirt network (host and VM only, DHCP from
# the host, no route beyond it); the atomics' connections stay inside the
# VM, in the runner's network namespaces.
#
#   ARGUS_VAGRANT_DRIVER  qemu (default: TCG, as nested KVM hangs on CI
#                         machines) or kvm
#   ARGUS_VAGRANT_KEEP=1  leave the VM running (vagrant ssh; destroy it
#                         with this script's state, printed at the end)
#   ARGUS_VAGRANT_CACHE   box and state (/var/cache/argus-sensor-vagrant)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

export PATH="/usr/local/go/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then
	echo "vagrant-atomics: run as root (libvirtd, apt-get)" >&2
	exit 2
fi

cache=${ARGUS_VAGRANT_CACHE:-/var/cache/argus-sensor-vagrant}
export ARGUS_VAGRANT_CACHE=$cache
state=$cache/state
mkdir -p "$state"

timings=()
stage_name=
stage_start=$(date +%s)
run_start=$stage_start
stage() {
	local now
	now=$(date +%s)
	[ -z "$stage_name" ] || timings+=("$(printf '%-36s %5ds' "$stage_name" $((now - stage_start)))")
	stage_name=$1
	stage_start=$now
	[ -z "$1" ] || echo "=== vagrant-atomics: $1"
}

# without_progress runs a command without the progress bars vagrant
# redraws with carriage returns (kilobytes of them in a log).
without_progress() {
	"$@" 2>&1 | tr '\r' '\n' | grep --line-buffered -v 'Progress: '
	return "${PIPESTATUS[0]}"
}

stage "host tools"
need=()
command -v vagrant >/dev/null || need+=(vagrant)
dpkg-query -W -f '${Status}' vagrant-libvirt 2>/dev/null | grep -q 'install ok installed' || need+=(vagrant-libvirt)
command -v libvirtd >/dev/null || need+=(libvirt-daemon-system)
command -v virsh >/dev/null || need+=(libvirt-clients)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v iptables >/dev/null || need+=(iptables)
command -v rsync >/dev/null || need+=(rsync)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}"
	apt-get update -qq
	# No recommends: vagrant-libvirt's are an NFS server and libguestfs.
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}" >/dev/null
fi

stage "box (packaging/vagrant-box.sh)"
box_file=$(packaging/vagrant-box.sh)
box=$(basename "$box_file" .box)

export VAGRANT_HOME=$cache/vagrant.d
export VAGRANT_DOTFILE_PATH=$state/dotfile
export VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_DEFAULT_PROVIDER=libvirt
export ARGUS_VAGRANT_BOX=$box
export ARGUS_VAGRANT_DRIVER=${ARGUS_VAGRANT_DRIVER:-qemu}
export ARGUS_VAGRANT_NETWORK=isolated
export ARGUS_VAGRANT_BUILD=0
export ARGUS_VAGRANT_CONSOLE=$state/console.log

virsh=(virsh --connect qemu:///system)
started=()
cleanup() {
	local rc=$?
	if [ "${ARGUS_VAGRANT_KEEP:-0}" != 1 ] && [ -d "$VAGRANT_DOTFILE_PATH" ]; then
		stage "vagrant destroy"
		vagrant destroy -f || true
		# The isolated network, when vagrant-libvirt left it.
		"${virsh[@]}" net-destroy argus-vagrant >/dev/null 2>&1 || true
		"${virsh[@]}" net-undefine argus-vagrant >/dev/null 2>&1 || true
	fi
	# Only the daemons this script started.
	for pidfile in "${started[@]}"; do
		if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
	done
	stage ""
	echo "=== vagrant-atomics: stage times"
	printf '%s\n' "${timings[@]}"
	printf '%-36s %5ds\n' "total" $(($(date +%s) - run_start))
	if [ "${ARGUS_VAGRANT_KEEP:-0}" = 1 ]; then
		echo "VM kept: VAGRANT_HOME=$VAGRANT_HOME VAGRANT_DOTFILE_PATH=$VAGRANT_DOTFILE_PATH ARGUS_VAGRANT_BOX=$box ARGUS_VAGRANT_DRIVER=$ARGUS_VAGRANT_DRIVER ARGUS_VAGRANT_NETWORK=isolated vagrant ssh"
	fi
	exit $rc
}
trap cleanup EXIT

stage "libvirtd, virtlogd, storage pool"
if ! "${virsh[@]}" version >/dev/null 2>&1; then
	if ! pgrep -x virtlogd >/dev/null; then
		virtlogd --daemon
		started+=(/run/virtlogd.pid)
	fi
	if ! pgrep -x libvirtd >/dev/null; then
		libvirtd --daemon
		started+=(/run/libvirtd.pid)
	fi
	for _ in $(seq 60); do
		"${virsh[@]}" version >/dev/null 2>&1 && break
		sleep 0.5
	done
	"${virsh[@]}" version >/dev/null
fi
if ! "${virsh[@]}" pool-info default >/dev/null 2>&1; then
	"${virsh[@]}" pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
	"${virsh[@]}" pool-build default >/dev/null
fi
# (Output in a variable first: grep -q stops reading early, and pipefail
# would count the writer's SIGPIPE as a failure.)
pool=$("${virsh[@]}" pool-info default)
grep -Eq '^State:[[:space:]]+running' <<<"$pool" || "${virsh[@]}" pool-start default >/dev/null


# A VM left by a run that was killed.
if [ -d "$VAGRANT_DOTFILE_PATH/machines" ]; then
	vagrant destroy -f >/dev/null 2>&1 || true
fi
rm -rf "$VAGRANT_DOTFILE_PATH"
# libvirt hands the file to QEMU's user.
: >"$ARGUS_VAGRANT_CONSOLE"

boxes=$(vagrant box list 2>/dev/null || true)
if ! grep -q "^$box " <<<"$boxes"; then
	# Boxes and pool volumes of older box builds.
	awk '/^argus-sensor-bookworm-/ {print $1}' <<<"$boxes" | while read -r old; do
		vagrant box remove --force --all "$old" >/dev/null 2>&1 || true
	done
	"${virsh[@]}" vol-list default 2>/dev/null | awk '/argus-sensor-bookworm-/ {print $1}' | while read -r vol; do
		"${virsh[@]}" vol-delete --pool default "$vol" >/dev/null 2>&1 || true
	done
	without_progress vagrant box add --name "$box" "$box_file"
fi

stage "build .deb and runner (make vagrant-dist)"
make --no-print-directory vagrant-dist

# journal prints what the VM logged, or its console when ssh fails.
journal() {
	echo "=== vagrant-atomics: the VM's journal (this boot, last 300 lines)"
	if ! vagrant ssh -c 'sudo journalctl --boot --no-pager --lines 300; sudo journalctl --unit argus-sensor --no-pager --lines 100' 2>&1; then
		echo "=== vagrant-atomics: no ssh; the VM's serial console:"
		tail -n 200 "$ARGUS_VAGRANT_CONSOLE" 2>/dev/null || echo "(no console log)"
	fi
}
step() {
	if ! "$@"; then
		echo "=== vagrant-atomics: FAILED: $*" >&2
		journal
		exit 1
	fi
}

stage "vagrant up ($ARGUS_VAGRANT_DRIVER)"
step without_progress vagrant up --provider libvirt --no-provision
stage "provision: tools"
step vagrant provision --provision-with tools
stage "provision: package (apt install ./argus-sensor_*.deb)"
step vagrant provision --provision-with package
stage "provision: atomics against the service"
atomics_rc=0
vagrant provision --provision-with atomics || atomics_rc=$?
results=$repo/dist/vagrant/atomic-results.md
vagrant ssh -c 'cat /vagrant/dist/vagrant/atomic-results.md' >"$results" 2>/dev/null || rm -f "$results"
if [ -s "$results" ]; then
	echo "=== vagrant-atomics: results ($results)"
	cat "$results"
fi
if [ $atomics_rc -ne 0 ]; then
	echo "=== vagrant-atomics: FAILED: the atomics (exit $atomics_rc)" >&2
	journal
	exit 1
fi
step vagrant ssh -c 'systemctl is-active argus-sensor && systemctl is-enabled argus-sensor'
echo "=== vagrant-atomics: every T1587 atomic passed against the argus-sensor service in the VM"
