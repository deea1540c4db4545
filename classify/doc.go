// Package classify puts what the sensor sees into the categories the
// detection rules reason about: where an executable lives (its path
// classes), whether a connection leaves the host's networks (external),
// and which file an interpreter is running (the script).
//
// # Path classes
//
// A path is matched against configured prefix and component rules (see
// [DefaultPathRules]): /tmp and /var/tmp are "tmp", /dev/shm is "shm",
// /run/user/* is "run_user", any /Downloads/ or /node_modules/ directory,
// and a component starting with "." below a home directory ("hidden_dir",
// as ~/.n2/pay). memfd and deleted executables get "memfd" and "deleted"
// from the kernel's flags. Paths under the system prefixes (/usr, /bin,
// /sbin, /lib*) never get a location class: they are not user-writable.
//
// # External destinations
//
// A destination is external unless it is loopback, RFC 1918, link-local,
// unspecified, multicast or broadcast (IPv4), or loopback, link-local,
// ULA, multicast or unspecified (IPv6), one of the host's own addresses, or
// in a configured internal range. IPv4-mapped IPv6 addresses are judged by
// their IPv4 address. The documentation ranges (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are external, as in the
// seed rule's regex. The host's addresses come from rtnetlink: dumped at
// start and kept current from RTM_NEWADDR/RTM_DELADDR notifications, and
// published as an immutable set behind an atomic pointer so the per-event
// check takes no lock.
package classify
