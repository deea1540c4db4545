#!/usr/bin/env bash
# vagrant-box.sh: build the Vagrant box the VM boots (`make vagrant-box`),
# offline from Debian's packages: no box download. Prints the box file.
#
# A Debian 12 root (debootstrap, then apt in a chroot) with systemd,
# openssh-server, sudo and rsync, Debian's cloud kernel (it has BTF) and
# the tools the T1587 atomics run (gcc, gcc-multilib, liburing-dev,
# ima-evm-utils, openssl, nodejs, npm, python3, curl, iproute2); a `vagrant` user with Vagrant's insecure
# key and password-less sudo. The root becomes an ext4 image with
# mkfs.ext4 -d, goes into a disk image with one partition and GRUB in its
# boot sector (grub-mkimage, then written into the image file), and is
# converted to qcow2 and packed with its metadata as a libvirt box. No
# step mounts a disk image, so no loop device is needed.
#
#   ARGUS_VAGRANT_CACHE   where the box is kept (/var/cache/argus-sensor-vagrant)
#   ARGUS_DEBIAN_MIRROR   Debian mirror (http://deb.debian.org/debian)
#   ARGUS_DEBIAN_SECURITY security mirror (http://deb.debian.org/debian-security)
#   ARGUS_VAGRANT_DISK    disk size in GiB (10)
#   --force               rebuild even when the cached box is current
#
# The box is named after a hash of this script: a change here builds a new
# one, and an unchanged script reuses the cached box. Needs root
# (debootstrap, chroot). Takes about 7 minutes; the box is about 300 MB,
# the Debian root kept beside it about 850 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive LC_ALL=C
cache=${ARGUS_VAGRANT_CACHE:-/var/cache/argus-sensor-vagrant}
mirror=${ARGUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${ARGUS_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
disk_gib=${ARGUS_VAGRANT_DISK:-10}
force=no
[ "${1:-}" = --force ] && force=yes

# What goes in the VM besides debootstrap's minbase.
packages=(
	# boot and login
	linux-image-cloud-amd64 initramfs-tools systemd systemd-sysv udev dbus
	e2fsprogs kmod procps less openssh-server sudo rsync ca-certificates
	# the atomics: a compiler, evmctl and openssl for the IMA-signed test,
	# node and npm for the postinstall test, python3, curl, ip; 32-bit
	# static builds and liburing for the escape variants
	gcc libc6-dev ima-evm-utils openssl nodejs npm python3 curl iproute2
	gcc-multilib liburing-dev
	# the btrfs variant, and the container variant (its image: below)
	btrfs-progs podman runc
)

# Vagrant's well-known insecure public key: vagrant replaces it with a
# key of its own on the first `vagrant up`.
insecure_key='ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key'

stamp=$(sha256sum "$0" | cut -c1-12)
box=$cache/argus-sensor-bookworm-$stamp.box
if [ "$force" = no ] && [ -s "$box" ]; then
	echo "$box"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "vagrant-box: run as root (debootstrap, chroot)" >&2
	exit 2
fi

# The host's tools, from Debian's packages.
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v sfdisk >/dev/null || need+=(fdisk)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v grub-mkimage >/dev/null || need+=(grub-common)
[ -e /usr/lib/grub/i386-pc/boot.img ] || need+=(grub-pc-bin)
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
	echo "vagrant-box: installing ${need[*]}" >&2
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
log=$work/build.log
step() { echo "vagrant-box: $*" >&2; }
fail() {
	echo "vagrant-box: $1 failed; the last lines of its log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}

start=$(date +%s)
# The root is kept between builds, named after a hash of this script up
# to the end of its making: a change below that line (the disk, GRUB,
# the box) reuses it.
root_stamp=$(sed -n '1,/^# ---- the root ends here$/p' "$0" | sha256sum | cut -c1-12)
cached_root=$cache/root-$root_stamp
if [ -e "$cached_root.complete" ] && [ -d "$cached_root" ]; then
	step "using the Debian root in $cached_root"
	root=$cached_root
else
step "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >"$log" 2>&1 || fail debootstrap

cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
# Nothing starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# apt in the chroot, with /proc, /sys and /dev in a private mount
# namespace that ends with the command.
in_root() {
	# shellcheck disable=SC2016 # the inner shell expands them
	unshare --mount --fork -- sh -ec '
		root=$1; shift
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		# A /dev of its own: the host'"'"'s is not touched, nor trusted (its
		# modes), and apt'"'"'s unprivileged methods write to /dev/null.
		mount -t tmpfs -o mode=0755 tmpfs "$root/dev"
		mknod -m 666 "$root/dev/null" c 1 3
		mknod -m 666 "$root/dev/zero" c 1 5
		mknod -m 666 "$root/dev/full" c 1 7
		mknod -m 666 "$root/dev/random" c 1 8
		mknod -m 666 "$root/dev/urandom" c 1 9
		mknod -m 666 "$root/dev/tty" c 5 0
		mkdir -m 1777 "$root/dev/shm"
		ln -s /proc/self/fd "$root/dev/fd"
		exec chroot "$root" "$@"' sh "$root" "$@"
}
step "apt-get install ${packages[*]}"
in_root apt-get -q update >>"$log" 2>&1 || fail "apt-get update"
in_root apt-get -q -y dist-upgrade >>"$log" 2>&1 || fail "apt-get dist-upgrade"
in_root apt-get -q -y --no-install-recommends install "${packages[@]}" >>"$log" 2>&1 || fail "apt-get install"
in_root apt-get clean >>"$log" 2>&1
kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -1)
kver=${kernel#vmlinuz-}
[ -s "$root/boot/initrd.img-$kver" ] || fail "the initramfs for $kver"
[ -n "$(find "$root/lib/modules/$kver" -name 'virtio_blk.ko*' -print -quit)" ] ||
	grep -q '^CONFIG_VIRTIO_BLK=y' "$root/boot/config-$kver" || fail "the virtio_blk driver"
grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$root/boot/config-$kver" || fail "BTF in $kernel"

step "configure the system (kernel $kver)"
uuid=$(cat /proc/sys/kernel/random/uuid)
echo argus-sensor >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\targus-sensor\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo "UUID=$uuid / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
# A fresh machine id and fresh SSH host keys on every VM's first boot.
: >"$root/etc/machine-id"
rm -f "$root"/var/lib/dbus/machine-id "$root"/etc/ssh/ssh_host_*
cat >"$root/etc/systemd/system/ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
EOF
# DHCP on the first NIC: vagrant-libvirt finds the VM by its lease.
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/50-dhcp.network"
in_root systemctl enable systemd-networkd.service ssh-host-keys.service ssh.service >>"$log" 2>&1 || fail "systemctl enable"
# The Vagrant convention: user vagrant, password vagrant, sudo without one.
in_root useradd --create-home --shell /bin/bash --user-group vagrant >>"$log" 2>&1 || fail useradd
echo vagrant:vagrant | in_root chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/vagrant"
chmod 440 "$root/etc/sudoers.d/vagrant"
install -d -m 700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
[ "$(in_root id -u vagrant)" = 1000 ] || fail "uid 1000 for vagrant"
echo "$insecure_key" >"$root/home/vagrant/.ssh/authorized_keys"
chown 1000:1000 "$root/home/vagrant/.ssh/authorized_keys"
chmod 600 "$root/home/vagrant/.ssh/authorized_keys"
echo 'UseDNS no' >"$root/etc/ssh/sshd_config.d/vagrant.conf"
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
rm -rf "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/tmp/*

# The container atomic's image, the tests' own (internal/testutil:
# debootstrap minbase), as a tarball the Vagrantfile's tools provisioner
# imports into podman: the VM has no route to a mirror.
step "container image root (debootstrap minbase)"
ctr=$work/container-root
debootstrap --variant=minbase bookworm "$ctr" "$mirror" >>"$log" 2>&1 || fail "debootstrap (container image)"
install -d "$root/var/cache/argus-sensor-test"
tar -C "$ctr" -cf "$root/var/cache/argus-sensor-test/debian-minbase.tar" . || fail "container image tarball"
rm -rf "$ctr"

# GRUB reads this; the kernel and initramfs are the symlinks Debian keeps
# at / so an upgrade inside the VM boots the new kernel.
mkdir -p "$root/boot/grub"
cat >"$root/boot/grub/grub.cfg" <<EOF
set timeout=1
menuentry "Debian GNU/Linux (argus-sensor box)" {
	search --no-floppy --fs-uuid --set=root $uuid
	linux /vmlinuz root=UUID=$uuid ro console=tty0 console=ttyS0,115200n8 net.ifnames=0
	initrd /initrd.img
}
EOF
find "$cache" -maxdepth 1 -name 'root-*' -exec rm -rf {} +
mv "$root" "$cached_root"
root=$cached_root
: >"$cached_root.complete"
fi
# ---- the root ends here
uuid=$(sed -n 's|^UUID=\([^ ]*\) / .*|\1|p' "$root/etc/fstab")

step "disk image (${disk_gib} GiB, sparse)"
raw=$work/disk.raw
part_offset=$((1024 * 1024)) # 1 MiB: the first partition, after GRUB's core image
truncate -s "${disk_gib}G" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "$raw" >>"$log" 2>&1 || fail sfdisk
fs=$work/root.ext4
truncate -s $((disk_gib * 1024 * 1024 * 1024 - part_offset)) "$fs"
# No metadata_csum_seed or orphan_file: bookworm's GRUB cannot read them.
mkfs.ext4 -q -F -L root -U "$uuid" -O ^metadata_csum_seed,^orphan_file -d "$root" "$fs" >>"$log" 2>&1 || fail "mkfs.ext4 -d"
dd if="$fs" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none || fail "copy the filesystem into the disk"
rm -f "$fs"

# GRUB, as grub-install would put it on a BIOS disk, written into the
# image file: core.img (whose first sector already lists the sectors that
# follow it) in the gap after the boot sector, and the first 440 bytes of
# boot.img, which load sector 1, before the partition table.
grubdir=$work/grub
mkdir -p "$grubdir"
grub-mkimage -O i386-pc -o "$grubdir/core.img" -p '(hd0,msdos1)/boot/grub' \
	biosdisk part_msdos ext2 search search_fs_uuid normal linux configfile echo test >>"$log" 2>&1 || fail grub-mkimage
[ "$(stat -c %s "$grubdir/core.img")" -lt $((part_offset - 512)) ] || fail "core.img fits before the partition"
dd if="$grubdir/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
# Trust the boot drive the BIOS passes (grub-bios-setup does the same for
# a hard disk): two NOPs over the jump that would skip the check.
printf '\x90\x90' | dd of="$raw" bs=1 seek=$((0x66)) conv=notrunc status=none

step "qcow2 and box"
qemu-img convert -c -O qcow2 "$raw" "$work/box.img" >>"$log" 2>&1 || fail "qemu-img convert"
rm -f "$raw"
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %d}\n' "$disk_gib" >"$work/metadata.json"
cat >"$work/Vagrantfile" <<'EOF'
# Built by argus-sensor's packaging/vagrant-box.sh from Debian 12 packages.
Vagrant.configure("2") do |config|
  config.vm.provider "libvirt" do |v|
    v.disk_bus = "virtio"
  end
end
EOF
tar -C "$work" -cf "$box.part" metadata.json Vagrantfile box.img
mv "$box.part" "$box"
# Boxes of older versions of this script.
find "$cache" -maxdepth 1 -name 'argus-sensor-bookworm-*.box' ! -name "$(basename "$box")" -delete
step "done in $(($(date +%s) - start)) s: $(du -h "$box" | cut -f1)"
echo "$box"
