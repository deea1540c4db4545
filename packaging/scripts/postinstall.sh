#!/bin/sh
# argus-sensor postinst (deb) and %post (rpm).
#   deb: configure [old-version] | abort-upgrade | abort-remove | abort-deconfigure
#   rpm: 1 (install) | 2 (upgrade)
#
# Install: create the argus-sensor user, let it read the configuration
# (which may carry output tokens), enable the service, and start it when
# systemd is running (not in a chroot or an image build, where it starts
# at the next boot). Upgrade: restart the service if it was running;
# whether it is enabled is the administrator's choice and is left alone.
set -e

unit=argus-sensor.service
config=/etc/argus-sensor/config.yaml
marker=/var/lib/argus-sensor/.package-fresh-install

first=no
case "$1" in
configure)
	if [ -e "$marker" ]; then action=install; else action=upgrade; fi
	[ -n "$2" ] || first=yes
	;;
1) action=install first=yes ;;
2) action=upgrade ;;
abort-upgrade | abort-remove | abort-deconfigure) action=abort ;;
*) exit 0 ;;
esac
rm -f "$marker"

if ! getent passwd argus-sensor >/dev/null; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers argus-sensor.conf
	else
		useradd --system --user-group --home-dir /var/lib/argus-sensor \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "Argus host sensor" argus-sensor
	fi
fi

# Only on the very first install: later, the file and its mode are the
# administrator's.
if [ "$first" = yes ] && [ -f "$config" ]; then
	chgrp argus-sensor "$config"
	chmod 0640 "$config"
fi

# Debian's kernels default kernel.perf_event_paranoid to 3, where the
# service (CAP_PERFMON, not CAP_SYS_ADMIN) cannot open its syscall
# tracepoint; /usr/lib/sysctl.d/50-argus-sensor.conf sets 2 from the next
# boot on, and this sets it now. Nothing is lowered below 2, and a
# read-only /proc/sys (a container) is left alone.
paranoid=/proc/sys/kernel/perf_event_paranoid
if [ -r "$paranoid" ] && [ "$(cat "$paranoid")" -gt 2 ] 2>/dev/null; then
	echo 2 >"$paranoid" 2>/dev/null || true
fi

command -v systemctl >/dev/null 2>&1 || exit 0
running=no
if [ -d /run/systemd/system ]; then
	running=yes
	systemctl daemon-reload || true
fi
case "$action" in
install)
	systemctl enable "$unit" || true
	if [ "$running" = yes ] && ! systemctl start "$unit"; then
		echo "argus-sensor: the service did not start; see: journalctl -u $unit, argus-sensor check" >&2
	fi
	;;
upgrade)
	[ "$running" = no ] || systemctl try-restart "$unit" || true
	;;
abort)
	if [ "$running" = yes ] && systemctl --quiet is-enabled "$unit"; then
		systemctl start "$unit" || true
	fi
	;;
esac
exit 0
