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

case "$1" in
install | 1)
	mkdir -p /var/lib/argus-sensor
	: >/var/lib/argus-sensor/.package-fresh-install
	;;
esac
exit 0
