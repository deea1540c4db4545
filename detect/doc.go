// Package detect runs Argus's detection rules on the host, live, over
// argus.v1 records.
//
// # t1587_develop_capabilities_unsigned_exec
//
// The seed rule, on the host: a process_launch whose executable (or, for
// an interpreter, whose script) is in a user-writable place (a path class
// such as tmp, downloads or hidden_dir, or memfd) and whose trust severity
// is not INFORMATIONAL, joined with a network_connection to an external
// destination by a process whose executable or script has the same sha256,
// on the same host, within one hour, in either order. That is YARA-L's hop
// window over (hostname, sha256): order does not matter.
//
// A binary that unlinks itself after it starts was not deleted when its
// launch was recorded; only its connections carry the deleted class. A
// connection whose executable is deleted, outside the system directories,
// at a path no package owns, with a trust other than INFORMATIONAL, stands
// for both halves: the detection then holds that one record.
//
// State is one entry per (hostname, sha256): the newest qualifying launch
// and the newest external connection since the key last fired, each kept
// as its encoded record, plus counts. A record fires against the kept
// record of the other half when the two are no more than Window apart (to
// the nanosecond), and then the key is quiet for a Window: at most one
// detection per (hostname, sha256) per window. Keeping the newest, not the
// first, is what makes the rule exact for records in time order: the
// newest record of a half pairs with every later record of the other half
// that an older one would, so a detection appears exactly when some launch
// and some connection of the key fall within the window (launches at 0
// and 50 minutes join a connection at 105 through the second). A late
// record, older than the one kept, is still judged against the other
// half, but does not displace it. The entries live in an LRU bounded by
// MaxKeys; entries older than Window are swept in LRU order. Time is the
// records' own time, so replayed telemetry correlates exactly as it did
// live.
//
// # Tests
//
// Every bound and allowlist condition has a test that it alone decides;
// go run ./internal/mutate applies the one-line mutations in
// mutations.txt and fails if any leaves the tests passing. FuzzReplay
// checks the rule against a brute-force oracle over generated telemetry.
//
// # npm_lifecycle_script_exec
//
// A shell or reconnaissance tool (sh, bash, dash, id, whoami, uname, curl,
// wget, python*) launched with a node, npm, npx or bun ancestor and a cwd
// or script under node_modules: what an npm post-install script looks like.
// One detection per (hostname, package directory) per window.
//
// # exe_relabeled_without_exec
//
// A network_connection whose process carries process.exe_relabeled: it
// made the kernel name another file as its executable without an exec
// (prctl PR_SET_MM_MAP or PR_SET_MM_EXE_FILE), which only checkpoint and
// restore tools do, and an implant passing as a trusted program. One
// detection per (hostname, process, label) per window.
//
// # connect_from_injected_code
//
// A network_connection whose process.code_origin says the code that made
// the call lives in memory no file backs, or in a file's text written to
// after it was mapped: a payload injected into a trusted program (ptrace,
// process_vm_writev, /proc/<pid>/mem), a packed or reflectively loaded
// one. Whatever the executable's verdict. One detection per (hostname,
// process, origin) per window.
//
// # Honesty
//
// A detection is marked degraded when the sensor lost or dropped events,
// or had to evict correlation state, within the window before it: the
// rule may have missed matches, and the picture it matched on may be
// incomplete. Callers report loss with [Engine.Loss].
//
// # Allowlists
//
// Entries match on executable path glob, sha256, parent executable glob,
// user, destination CIDR and destination port; an entry matches when all
// its conditions do. Path and sha256 conditions judge one identity at a
// time (the exe, or an interpreter's script), so allowing an interpreter
// does not allow the scripts it runs. A connection an entry allows does not count toward a
// correlation; a launch an entry allows (entries without network
// conditions) does not either. Every suppression is counted per entry.
package detect
