#!/bin/sh
# argus-sensor prerm (deb) and %preun (rpm).
#   deb: remove | upgrade new-version | deconfigure ... | failed-upgrade old-version
#   rpm: 0 (erase) | 1 (upgrade)
#
# On removal, stop and disable the service. On upgrade, leave it running:
# postinstall.sh restarts it on the new binary.
set -e

unit=argus-sensor.service
case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac
command -v systemctl >/dev/null 2>&1 || exit 0
if [ -d /run/systemd/system ]; then
	systemctl stop "$unit" || true
fi
systemctl disable "$unit" || true
exit 0
