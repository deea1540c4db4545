module github.com/argus-sensor/argus-sensor

go 1.26.0

require (
	github.com/cilium/ebpf v0.22.0
	github.com/hashicorp/golang-lru/v2 v2.0.7
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

tool github.com/cilium/ebpf/cmd/bpf2go
