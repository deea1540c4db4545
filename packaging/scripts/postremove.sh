#!/bin/sh
# argus-sensor postrm (deb) and %postun (rpm).
#   deb: remove | purge | upgrade ... | failed-upgrade ... | abort-install ... | abort-upgrade ... | disappear ...
#   rpm: 0 (erase) | 1 (upgrade)
#
# The spool (/var/lib/argus-sensor) and file outputs (/var/log/argus-sensor)
# survive a removal, so records not yet delivered are not lost to a
# reinstall; a deb purge deletes them. rpm has no purge: delete them by
# hand after `rpm -e`. The argus-sensor user is left in place, as files it
# owned may remain (remove it with userdel).
set -e

case "$1" in
purge)
	rm -rf /var/lib/argus-sensor /var/log/argus-sensor
	;;
abort-install)
	rm -f /var/lib/argus-sensor/.package-fresh-install
	;;
esac
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
exit 0
