#!/usr/bin/env bash
# package.sh [OUTDIR]: build the static binary and the .deb and .rpm that
# carry it, into OUTDIR (default dist/).
#
#   VERSION     version to stamp (default: git describe, as the Makefile)
#   GOARCH      target architecture: amd64 or arm64 (default: go env GOARCH);
#               Go cross-compiles and the BPF objects of both are committed
#   MAINTAINER  package maintainer, "Name <address>"
#
# Prints the path of each package built. nfpm runs as a Go tool pinned in
# go.mod, so nothing beyond Go is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
GOARCH=${GOARCH:-$(go env GOARCH)}
MAINTAINER=${MAINTAINER:-argus-sensor maintainers <packaging@argus-sensor.invalid>}

# Package version, valid and ordered right for both dpkg and rpm: no
# leading v; commits after a tag sort after it (1.2.0+git3.gabc123, where
# semver's 1.2.0-3-gabc123 would sort before 1.2.0); a pre-release sorts
# before its release (1.2.0~rc1); an untagged tree is 0.0.0~git.<commit>.
pkgversion() {
	local v=${1#v}
	case $v in
	[0-9]*.*) ;;
	*) v="0.0.0~git.$v" ;;
	esac
	printf '%s\n' "$v" | sed -E 's/-([0-9]+)-g([0-9a-f]+)/+git\1.g\2/; s/-dirty$/.dirty/; s/-/~/g'
}
pv=$(pkgversion "$VERSION")

case $GOARCH in
amd64) rpmarch=x86_64 ;;
arm64) rpmarch=aarch64 ;;
*) rpmarch=$GOARCH ;;
esac

# Reproducible file times in the packages: the last commit's.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH go build -trimpath \
	-ldflags "-X main.version=$VERSION" -o "$build/argus-sensor" ./cmd/argus-sensor

# nfpm itself runs on this machine: GOARCH names the packages' architecture
# only (PKGARCH in nfpm.yaml), never the architecture go tool builds nfpm for.
export VERSION=$pv PKGARCH=$GOARCH MAINTAINER BINARY=$build/argus-sensor
hostarch=$(GOARCH='' go env GOHOSTARCH)
deb=$out/argus-sensor_${pv}_${GOARCH}.deb
rpm=$out/argus-sensor-${pv}-1.${rpmarch}.rpm
GOARCH=$hostarch go tool nfpm package --config packaging/nfpm.yaml --packager deb --target "$deb" >&2
GOARCH=$hostarch go tool nfpm package --config packaging/nfpm.yaml --packager rpm --target "$rpm" >&2
printf '%s\n' "$deb" "$rpm"
