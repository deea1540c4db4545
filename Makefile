# Two entry points do everything on a fresh machine:
#   make run    build the sensor and run it (events as JSON lines on stdout)
#   make test   run every test, privileged ones included
# Both use sudo when not already root.

GO      ?= go
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
TESTEXEC := $(if $(SUDO),-exec sudo,)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test fuzz mutate generate check-generated lint bench package kernel-matrix vagrant-box vagrant-dist vagrant-atomics

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/argus-sensor ./cmd/argus-sensor

run: build
	$(SUDO) ./bin/argus-sensor run $(ARGS)

# -p 1: privileged packages each load their own sensor, and one package's
# exec or connect storm would otherwise land in another's ring buffer.
# RACE=1 runs them under the race detector; under CI=true it is the
# default (it costs CI about 1.2x the test time).
RACE ?= $(if $(filter true,$(CI)),1,)
RACEFLAG := $(if $(filter 1,$(RACE)),-race,)
# -timeout 30m: go test's default of 10 minutes per package is near what
# the agent package took on one CI machine under -race (442 s).
test:
	$(GO) test -p 1 -count=1 -timeout 30m $(RACEFLAG) $(TESTEXEC) ./...

# Every fuzz target for FUZZTIME each, from its committed corpus on
# (go test -fuzz takes one package and one target at a time).
FUZZTIME ?= 20s
fuzz:
	@set -e; for f in $$(git ls-files '*_test.go'); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "--- $$t ./$$(dirname $$f)"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
		done; \
	done

# Every one-line mutation in detect/mutations.txt must fail a detect test.
mutate:
	$(GO) run ./internal/mutate

# Rebuild the BPF objects (needs clang-19 and libbpf-dev) and docs/schema.md.
generate:
	$(GO) generate ./...

# Fail if the committed BPF objects, or docs/schema.md (rendered from
# event/schema/argus.v1.schema.json), differ from what the sources make.
check-generated: generate
	git diff --exit-code -- sensor/ docs/schema.md || (echo "generated files are stale: run make generate and commit" >&2; exit 1)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) run ./bench $(ARGS)

# dist/argus-sensor_<version>_<arch>.deb and dist/argus-sensor-<version>-1.<rpmarch>.rpm,
# for amd64 (x86_64) and arm64 (aarch64).
PACKAGE_ARCHES ?= amd64 arm64
package:
	for arch in $(PACKAGE_ARCHES); do VERSION=$(VERSION) GOARCH=$$arch packaging/package.sh dist || exit 1; done

# The privileged tests on Debian's 5.10, 6.1 and 6.12 x86-64 kernels and 6.1 and 6.12 arm64
# kernels under QEMU, and on this host (docs/kernels.md).
kernel-matrix:
	$(SUDO) kernelmatrix/run.sh $(ARGS)

# The Vagrant box, built offline from Debian's packages (packaging/vagrant-box.sh).
vagrant-box:
	$(SUDO) packaging/vagrant-box.sh

# What the VM installs and runs, built here: the .deb and the atomics
# runner (go test -c), in dist/vagrant/. `vagrant up` runs this first.
vagrant-dist:
	rm -rf dist/vagrant
	VERSION=$(VERSION) packaging/package.sh dist/vagrant >/dev/null
	rm -f dist/vagrant/*.rpm
	CGO_ENABLED=0 $(GO) test -c -o dist/vagrant/atomics.test ./atomics/
	@ls dist/vagrant

# The VM from the offline box, the package installed in it, the T1587
# atomics against its service, then destroyed (README: "Vagrant").
vagrant-atomics:
	$(SUDO) packaging/vagrant-atomics.sh
