// Package filter decides which records an output takes: the "what goes
// where" of forwarding. Detection never goes through it; the rules see
// every record, and a filter only changes what one output is sent.
//
// A Filter has two parts, both from an entry of the configuration's
// outputs list. Kinds (kinds:) is the set of record kinds the output takes,
// all when empty. Drop (drop:) is a list of conditions, each an expression
// in the expr language (github.com/expr-lang/expr) over the record in its
// argus.v1 JSON shape: `kind`, `process.exe.path`,
// `process.exe.trust.verdict`, `network.external`, `detection.rule`, and
// so on, as docs/schema.md names them. A record that matches any
// condition is dropped from that output.
//
// Conditions are compiled once, when the configuration is loaded or
// reloaded; a condition that does not compile, or does not yield a
// boolean, is a configuration error naming its index. Member access is
// nil-safe: `network.external == false` is simply false on a launch,
// which has no network object, rather than an error. A condition that
// still fails at run time keeps the record (an output never loses data
// to a broken filter) and is counted in Errors.
//
// Besides expr's own operators (==, in, matches, startsWith, contains,
// and, or, not), conditions may call glob(pattern, path), which matches
// like path.Match with ** also matching across slashes, and
// cidr(prefix, ip), true when the address is inside the prefix.
//
// The record's JSON shape is built once per record, and only when some
// output has drop conditions (Env), so outputs without conditions cost
// nothing.
package filter
