// Package atomics holds the Atomic Red Team tests for T1587 and the
// runner that checks argus-sensor against them, end to end.
//
// # The atomics
//
// T1587/T1587.yaml is an Atomic Red Team technique file with the seed's
// three tests: a self-signed binary run from a user-writable path, an npm
// package whose postinstall script runs a shell, and a custom ELF compiled
// and run in /tmp that connects out. argus/T1587-variants.yaml holds, in
// the same format, more ways the seed's named groups deploy their tools
// or shake off their identity (/dev/shm, a memfd, a binary that deletes
// itself, a Python payload in ~/.n2, the connect escapes of V5-V14, a
// binary that touches itself, a btrfs subvolume, a Python payload that
// unlinks itself), and argus/T1587-controls.yaml the seed's false positives,
// which must give no detection. T1587/src holds what the tests build and
// run. Every file passes the checks of Atomic Red Team's validator
// (Validate), so the same YAML runs under Invoke-AtomicTest in a lab VM.
//
// # The runner
//
// TestAtomicT1587 builds the real argus-sensor binary, runs it with a file
// output, and drives every atomic the way Invoke-AtomicTest does: it runs
// each dependency's prereq_command, substitutes #{arguments} and
// PathToAtomicsFolder (Expand), runs the executor's command with "sh -c"
// exactly as the YAML has it, waits for the telemetry, and runs the
// cleanup_command. Connections go to 192.0.2.1 and 10.9.0.1, which on
// these machines are real addresses outside: the runner makes a pair of
// network namespaces joined only to each other (testutil.NetPair), serves
// the test hosts in one, and passes "ip netns exec <other>" as the
// atomics' netns_exec argument, so no packet leaves the machine.
//
// The sensor sees the whole host. The runner follows its output file
// (through size rotation) and keeps only the records of its own
// descendants, found by pid and by the ancestry each process_launch
// carries; an atomic's records are those of the process tree under the
// shell that ran its command. Expectations (suite_test.go) are conditions
// on those records and on the detections that name them: a
// process_launch with this path, trust and path classes, a
// network_connection from that process to this address, a detection by
// this rule keyed on the digest the runner computed itself from the
// file, or no detection at all. The verdicts are judged again once the
// sensor has stopped and drained, and written to docs/atomic-results.md;
// a failed expectation fails the test with the record that came closest.
//
// Run it as root: go test ./atomics/ -run TestAtomicT1587 -v, or
// atomics/run.sh. Without root it skips, or fails under CI=true.
package atomics
