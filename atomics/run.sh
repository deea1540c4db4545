#!/bin/sh
# Runs the T1587 atomics against the real argus-sensor binary and writes
# docs/atomic-results.md. Needs root (uses sudo otherwise), Go, and the
# atomics' tools: cc, evmctl, openssl, node and npm, python3, curl, ip.
# Extra arguments go to go test, e.g. -run 'TestAtomicT1587/V2' or
# -args -atomics.get-prereqs.
set -eu
cd "$(dirname "$0")/.."
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
exec $sudo env "PATH=$PATH" go test -count=1 -v -run TestAtomicT1587 ./atomics/ "$@"
