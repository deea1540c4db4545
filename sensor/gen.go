package sensor

// The BPF objects are generated from ../bpf and committed, so building the
// sensor needs no clang. `go generate ./sensor` rebuilds them with Debian's
// clang-19 and libbpf-dev headers; CI regenerates and fails on any diff.

//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target bpfel -type exec_event -type event_header -type task_info -type file_info -type event_type -type stat_index -type exec_flag -type file_flag -type connect_flag exec ../bpf/exec.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target bpfel -type exit_event -type fork_event lifecycle ../bpf/lifecycle.bpf.c
//go:generate go tool bpf2go -cc clang-19 -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target bpfel -type connect_event connect ../bpf/connect.bpf.c
