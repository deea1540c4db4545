# Two entry points do everything on a fresh machine:
#   make run    build the sensor and run it (events as JSON lines on stdout)
#   make test   run every test, privileged ones included
# Both use sudo when not already root.

GO      ?= go
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
TESTEXEC := $(if $(SUDO),-exec sudo,)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test generate check-generated lint bench package kernel-matrix vagrant-box vagrant-dist vagrant-atomics

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/argus-sensor ./cmd/argus-sensor

run: build
	$(SUDO) ./bin/argus-sensor run $(ARGS)

# -p 1: privileged packages each load their own sensor, and one package's
# exec or connect storm would otherwise land in another's ring buffer.
test:
	$(GO) test -p 1 -count=1 $(TESTEXEC) ./...

# Rebuild the BPF objects (needs clang-19 and libbpf-dev).
generate:
	$(GO) generate ./...

# Fail if the committed BPF objects differ from what the sources build.
check-generated: generate
	git diff --exit-code -- sensor/ || (echo "generated BPF objects are stale: run make generate and commit" >&2; exit 1)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) run ./bench $(ARGS)

# dist/argus-sensor_<version>_<arch>.deb and dist/argus-sensor-<version>-1.<rpmarch>.rpm
package:
	VERSION=$(VERSION) packaging/package.sh dist

# The privileged tests on Debian's 5.10, 6.1 and 6.12 kernels under QEMU, and on this host (docs/kernels.md).
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
