// Package enrich turns decoded kernel events into argus.v1 records, and
// owns each record until it is complete.
//
// # What goes in and what comes out
//
// Events go in through Handle, and at start the snapshot's processes and
// connections through Seed and SeedConnections. Records come out through
// Ready, Tick and Drain, in the order their events went in, as Out values
// that say where each goes: to the outputs (Send), to the rules (Observe),
// or both. Full says when the caller should stop taking events. The caller
// does nothing else with a record: the agent hands Send records to forward
// and Observe records to detect, side by side.
//
// # Process table (table.go)
//
// A table keyed by (pid, start time), fed by exec, fork and exit records,
// lets a connect record, which carries only the task's identity, be
// reported with the process's executable path, argv and cwd as captured in
// the kernel at exec. A fork copies the parent's entry to the child; an
// exit removes the entry. A process the sensor never saw start (it
// predates the sensor, or its records were lost) is read once from /proc
// (internal/procfs) and accepted only if its start time matches the
// kernel's before and after the read, so a recycled pid can never lend its
// details to another process; one /proc cannot vouch for is remembered
// with what the kernel said, so its next connect does not try again. The
// table is bounded (LRU, MaxProcesses); evictions are counted.
//
// A new entry starts what its records will need at once: the executable's
// hash (hasher, by file identity, through /proc/<pid>/exe), whether a
// package owns the path (signature; md5 is then hashed in the same read),
// and, for an interpreter running a script (classify.ScriptPath), the
// script's identity and hash.
//
// # Libraries (library.go)
//
// A Library event becomes a library_load record: the loading process as
// the table knows it, and the library's path classes, hash (by path,
// checked against the kernel's identity; a memfd or unlinked one has none
// and joins on its identity) and trust verdict. A library a package or
// signature vouches for is handed to Options.TrustLibrary, so the kernel
// stops reporting it. The entry remembers its libraries; its connections
// carry the untrusted ones (process.libraries, the likeliest implants
// first), which makes them identities of the process for the rules, as a
// script is. An exec's loader variables become process.loader_env with the
// path classes of the paths they name; a library its LD_PRELOAD, or
// /etc/ld.so.preload (a container's own, read within its root), names is
// marked so.
//
// # Record building (record.go, seed.go)
//
// An exec becomes a process_launch and a connect a network_connection,
// each with the process's credentials from the kernel record, its path and
// argv from the table, the executable's path classes (computed once per
// process and reload), the parent and up to AncestorDepth ancestors. A
// record's id is reproducible: boot id, CLOCK_BOOTTIME stamp, thread and
// kind, so a redelivered copy carries the same id. Seeded records are
// process_launch records with process.source "procfs" and
// network_connection records with network.source "sock_diag", stamped
// with the time of the snapshot.
//
// # Connect folding (connect.go)
//
// A blocking connect a signal interrupts returns a kernel restart code and
// is normally restarted as the same call, which brings its own record. The
// interrupted one is held, keyed by thread, and dropped when the restarted
// call (same fd and destination) reports, so one connection gives one
// record. If the thread's next connect is another one, the interrupted
// call went back to the program as EINTR and its record joins the order
// first; one that nothing follows joins it after InterruptedHold.
//
// # Completion (complete.go)
//
// Records wait in order until every hash they carry is known; then their
// sha256, hash_status and trust verdicts are filled in and they go out
// with Send and Observe. The head of the order waits at most HashWait
// (Ready returns the channel it waits on and its deadline, so the caller
// can sleep on both). Past it, the record goes out with hash_status
// "pending": to the outputs, but not to the rules if its executable's
// hash is the one pending, since they join on it. It is kept on a late
// list (bounded; what falls off is counted in Stats.LateDropped), and the
// Tick after its hashes are known brings it back: for a process_launch a
// hash_update record (Send) that carries the digest to the outputs, and
// the completed record for the rules (Observe). A record whose only
// pending hash was its script's reaches the rules both times. Records
// behind a waiting head wait too, so the outputs see events in order; with
// QueueLimit records waiting, Full tells the caller to stop reading, and
// the sensor's own bounded queue takes the pressure and counts what it
// cannot hold.
//
// An Enricher is used from one goroutine.
package enrich
