// Package prevalence remembers, per binary, when this host first and last
// saw it execute, how often, from where, and whether it ever connected
// outside: how new and how rare a program is here. An implant is new (on
// disk minutes before it ran) and rare (run a handful of times, nothing
// else shares its hash); a monitoring agent in /opt is old and runs every
// day. The T1587 rule shows both, and raises its severity for new ones.
//
// # Storage
//
// Entries live in a SQLite database (the pure-Go modernc.org/sqlite the
// sensor already links for rpm databases) under the state directory, one
// row per key: the binary's sha256, or its file identity (device, inode,
// change time) when there is no hash. Writes are crash-safe (SQLite's
// write-ahead log) and survive restarts and upgrades.
//
// # The record path
//
// Observe and Lookup answer from memory: a bounded LRU of recently used
// entries, backed by one indexed read on a miss. Updates are marked dirty
// and written in batches by a background goroutine (every FlushInterval,
// or sooner when many are waiting), in one transaction each, so an exec
// never waits on a disk write. A crash loses at most the last interval's
// counts, never the store.
//
// # Bounds
//
// The store holds at most MaxEntries rows. After each flush that leaves
// it over the bound, the rows seen least recently are deleted (an index
// on last_seen keeps that cheap), so the most recent binaries are kept.
// Each entry keeps at most MaxPaths paths and MaxParents parent
// executables, first come first kept.
//
// # Damage
//
// A store that does not open, fails SQLite's quick_check, or has an
// unknown schema is moved aside (to NAME.corrupt-UNIXTIME) and a new one
// created; Open reports that in Rebuilt so the sensor says so in a
// sensor_health record. A later write error is counted and logged, and
// the in-memory counts carry on.
package prevalence
