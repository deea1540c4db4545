// Package snapshot reads what was already running when the sensor
// started: processes from /proc, and their open connections from the
// kernel's sock_diag interface.
//
// The kernel hooks only see what happens after they attach. An implant
// started before the sensor, or running across a sensor restart, would
// otherwise have no launch for its connections to correlate with, and a
// connection it opened earlier would never be seen at all. The snapshot
// closes both gaps once, at start.
//
// # Processes
//
// Every /proc/<pid> is read for its stat (ppid, start time), exe (path and,
// through stat(2) on the magic link, the executed file's identity), cwd
// and cmdline, with the reader the process table uses too
// (internal/procfs.ReadImage), then for its real uid and gid (status) and
// network namespace. A process that exits during the scan is skipped.
//
// # Connections
//
// For each network namespace in use (one netlink socket per namespace,
// opened with the namespace's /proc/<pid>/ns/net), TCP sockets in states
// SYN-SENT and ESTABLISHED and connected UDP sockets are dumped with
// SOCK_DIAG_BY_FAMILY for IPv4 and IPv6. A socket whose local port has a
// listener in the same namespace was accepted, not connected, and is left
// out. Sockets are mapped to processes by their inode through the
// /proc/<pid>/fd links.
package snapshot
