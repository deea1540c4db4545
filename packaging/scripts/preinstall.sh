#!/bin/sh
# argus-sensor preinst (deb) and %pre (rpm).
#   deb: install [old-version] | upgrade old-version | abort-upgrade new-version
#   rpm: 1 (install) | 2 (upgrade)
#
# A fresh install is marked here for postinstall.sh, which enables the
# service only then. It cannot tell by itself on deb: a reinstall after
# `dpkg --remove` (configuration files kept) reaches postinst as
# "configure <old-version>", exactly like an upgrade, but unlike an upgrade
# the service was disabled by the removal and should be enabled again.
set -e

# The configuration file is shipped 0640 root:argus-sensor, so the group
# must exist before the files are unpacked (dpkg and rpm map the owner
# names at that moment). The sysusers.d file is not unpacked yet: give
# systemd-sysusers the same line inline.
if ! getent passwd argus-sensor >/dev/null; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers --inline 'u argus-sensor - "Argus host sensor" /var/lib/argus-sensor'
	elif getent group argus-sensor >/dev/null; then
		useradd --system --gid argus-sensor --home-dir /var/lib/argus-sensor \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "Argus host sensor" argus-sensor
	else
		useradd --system --user-group --home-dir /var/lib/argus-sensor \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "Argus host sensor" argus-sensor
	fi
fi

case "$1" in
install | 1)
	mkdir -p /var/lib/argus-sensor
	: >/var/lib/argus-sensor/.package-fresh-install
	;;
esac
exit 0
