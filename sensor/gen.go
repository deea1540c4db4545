package sensor

// The BPF objects are generated from ../bpf and committed, so building the
// sensor needs no clang. `go generate ./sensor` rebuilds them with Debian's
// clang-19 and libbpf-dev headers; CI regenerates and fails on any diff.
//
// connect is built twice: the default object needs bpf_task_pt_regs and
// bpf_get_current_task_btf (Linux 5.15+); connectlegacy (-DARGUS_LEGACY)
// serves older kernels with an entry/exit pair and helper reads.
//
// dns (the DNS response hook) reads no kernel structs, so one build serves
// every kernel.

//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target amd64,arm64 -type exec_event -type event_header -type task_info -type file_info -type event_type -type stat_index -type exec_flag -type file_flag -type connect_flag -type connect_via exec ../bpf/exec.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target amd64,arm64 -type exit_event -type fork_event -type cgroup_event -type cgroup_flag lifecycle ../bpf/lifecycle.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target amd64,arm64 -type connect_event connect ../bpf/connect.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include -DARGUS_LEGACY" -target amd64,arm64 connectlegacy ../bpf/connect.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target amd64,arm64 sockaddr ../bpf/sockaddr.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include -DARGUS_LEGACY" -target amd64,arm64 -type library_event -type library_flag mmap ../bpf/mmap.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include -DARGUS_LEGACY" -target amd64,arm64 sockaddrlegacy ../bpf/sockaddr.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target amd64,arm64 -type dns_event -type dns_flag dns ../bpf/dns.bpf.c
