#!/usr/bin/env bash
# Kernel matrix entry point, for CI (.ci/run) and `make kernel-matrix`.
# Installs QEMU (x86-64 and arm64 system emulators) and Debian's archive
# key when they are missing, then runs the matrix:
# go run ./kernelmatrix with the flags given here (-h lists them).
# Run as root: the host column loads BPF, and apt-get installs QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

for tool in apt-get dpkg-deb tar; do
	command -v "$tool" >/dev/null || {
		echo "kernelmatrix: $tool not found: the matrix fetches Debian kernels with apt" >&2
		exit 2
	}
done

need_apt=()
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
# The arm64 guests. Their kernels and busybox need no host change: the
# matrix's private apt state for arm64 sets APT::Architecture itself.
command -v qemu-system-aarch64 >/dev/null || need_apt+=(qemu-system-arm)
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need_apt+=(debian-archive-keyring)
if [ ${#need_apt[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "kernelmatrix: missing ${need_apt[*]}: run as root, or apt-get install them" >&2
		exit 2
	fi
	echo "--- installing ${need_apt[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

exec go run ./kernelmatrix "$@"
