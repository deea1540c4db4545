package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeHost is a /proc, a cgroup v2 mount and podman's state in temp
// directories: a cgroup's id is its directory's inode number, as in the
// kernel's cgroup2 filesystem.
type fakeHost struct {
	t                     *testing.T
	proc, cgroups, stored string
}

func newFakeHost(t *testing.T) *fakeHost {
	d := t.TempDir()
	h := &fakeHost{t: t, proc: d + "/proc", cgroups: d + "/cgroup", stored: d + "/storage"}
	write(t, h.proc+"/self/mountinfo", "51 104 0:42 / /var/lib/containers/storage/overlay/L1/merged rw - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/containers/storage/overlay/L1/diff,workdir=/w\n")
	write(t, h.stored+"/overlay-containers/containers.json", "[]")
	if err := os.MkdirAll(h.cgroups, 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// start makes a container cgroup and a process in it, and returns the
// cgroup's id.
func (h *fakeHost) start(pid int, id string) uint64 {
	path := "/libpod_parent/libpod-" + id
	if err := os.MkdirAll(h.cgroups+path, 0o755); err != nil {
		h.t.Fatal(err)
	}
	p := h.proc + "/" + strconv.Itoa(pid)
	write(h.t, p+"/cgroup", "4:memory:"+path+"\n0::"+path+"\n")
	write(h.t, p+"/mountinfo", "81 47 0:42 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/containers/storage/overlay/L1/diff,workdir=/w\n")
	var st unix.Stat_t
	if err := unix.Stat(h.cgroups+path, &st); err != nil {
		h.t.Fatal(err)
	}
	return st.Ino
}

func (h *fakeHost) resolver(max int) *Resolver {
	r, err := New(Options{ProcRoot: h.proc, CgroupRoot: h.cgroups, MaxEntries: max,
		State: StateRoots{Storage: h.stored, Docker: h.stored + "/none", Containerd: h.stored + "/none"}})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func TestResolverCachesAndSweeps(t *testing.T) {
	h := newFakeHost(t)
	if err := os.MkdirAll(h.cgroups+"/system.slice/ssh.service", 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, h.proc+"/7/cgroup", "0::/system.slice/ssh.service\n")
	var st unix.Stat_t
	unix.Stat(h.cgroups+"/system.slice/ssh.service", &st)
	hostID := st.Ino

	cg := h.start(100, id1)
	r := h.resolver(0)
	info := r.Lookup(100, cg)
	if info == nil || info.Container.ID != id1 || info.Container.Runtime != Podman ||
		info.Upper != "/var/lib/containers/storage/overlay/L1/diff" || info.Root != "/var/lib/containers/storage/overlay/L1/merged" {
		t.Fatalf("Lookup = %+v", info)
	}
	if r.Lookup(7, hostID) != nil {
		t.Fatal("a host service named as a container")
	}
	// A process in the v2 root (a host process, or runc's init before it
	// joins the container's cgroup) is the host's, whatever its cgroup
	// file says by the time it is read.
	var root unix.Stat_t
	unix.Stat(h.cgroups, &root)
	write(t, h.proc+"/8/cgroup", "0::/libpod_parent/libpod-"+id1+"\n")
	if got := r.Lookup(8, root.Ino); got != nil {
		t.Fatalf("a process in the v2 root named as container %+v", got.Container)
	}
	// Cached: a second process of the container, already gone, is named
	// by its cgroup id alone, and shares the Info.
	if again := r.Lookup(101, cg); again != info {
		t.Fatalf("second lookup %p, want the cached %p", again, info)
	}
	if s := r.Stats(); s.Misses != 2 || s.Cached != 2 || s.Containers != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The container's first record read after its process exited: the
	// cgroup is found in the hierarchy by its id.
	cg2 := h.start(200, id2)
	os.RemoveAll(h.proc + "/200")
	if got := r.Lookup(200, cg2); got == nil || got.Container.ID != id2 {
		t.Fatalf("gone process: %+v", got)
	}
	// A pid reused by another process elsewhere: the kernel's id wins.
	write(t, h.proc+"/300/cgroup", "0::/system.slice/ssh.service\n")
	cg3 := h.start(301, "3333333333333333333333333333333333333333333333333333333333333333")
	if got := r.Lookup(300, cg3); got == nil || got.Container.ID[0] != '3' {
		t.Fatalf("reused pid: %+v", got)
	}

	// The containers stop: their cgroups go, and the sweep drops them.
	for _, id := range []string{id1, id2} {
		if err := os.Remove(h.cgroups + "/libpod_parent/libpod-" + id); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Sweep(); n != 2 {
		t.Fatalf("sweep dropped %d, want 2", n)
	}
	if s := r.Stats(); s.Cached != 2 || s.Swept != 2 {
		t.Fatalf("after the sweep: %+v", s)
	}
}

// 200 short-lived containers, 50 at a time: the cache never holds more
// than its bound, and once they are gone the sweep leaves none of them.
// (The kernel never reuses a cgroup id; a test directory's inode number
// can be reused once it is removed, so each batch is swept before the
// next.)
func TestResolverBounded(t *testing.T) {
	h := newFakeHost(t)
	r := h.resolver(32)
	for b := range 4 {
		var ids []string
		for i := range 50 {
			n := b*50 + i
			id := fmt.Sprintf("%064x", n+1)
			cg := h.start(1000+n, id)
			if got := r.Lookup(uint32(1000+n), cg); got == nil || got.Container.ID != id {
				t.Fatalf("container %d: %+v", n, got)
			}
			if c := r.Stats().Cached; c > 32 {
				t.Fatalf("%d cgroups cached, bound 32", c)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if err := os.Remove(filepath.Join(h.cgroups, "libpod_parent", "libpod-"+id)); err != nil {
				t.Fatal(err)
			}
		}
		r.Sweep()
		if c := r.Stats().Cached; c != 0 {
			t.Fatalf("batch %d: %d cgroups still cached after their containers went", b, c)
		}
	}
	if s := r.Stats(); s.Evicted != 4*(50-32) || s.Swept != 4*32 {
		t.Fatalf("after 200 containers came and went: %+v", s)
	}
}

// A host without a cgroup v2 hierarchy: every process reports the same
// id, so nothing is cached by it and each process's v1 lines decide.
func TestResolverWithoutV2(t *testing.T) {
	h := newFakeHost(t)
	write(t, h.proc+"/10/cgroup", "12:pids:/docker/"+id1+"\n4:memory:/docker/"+id1+"\n")
	write(t, h.proc+"/11/cgroup", "12:pids:/user.slice\n4:memory:/user.slice\n")
	r, err := New(Options{ProcRoot: h.proc, CgroupRoot: h.cgroups + "/not-mounted",
		State: StateRoots{Storage: h.stored, Docker: h.stored + "/none", Containerd: h.stored + "/none"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Lookup(10, 1); got == nil || got.Container.ID != id1 || got.Container.Runtime != Docker {
		t.Fatalf("docker process: %+v", got)
	}
	if got := r.Lookup(11, 1); got != nil {
		t.Fatalf("host process with the same id named as %+v", got.Container)
	}
	if s := r.Stats(); s.Cached != 0 {
		t.Fatalf("%d cached by an id every process shares", s.Cached)
	}
}

// TestResolverNamesFromCreation: a container that lived for milliseconds
// while the sensor was behind. By the time its exec record is read, the
// process and the cgroup are both gone; only the kernel's record of the
// cgroup's creation, read before it, can name the container. Host
// cgroups are not remembered, and without the record the container is
// unnamed (and counted so).
func TestResolverNamesFromCreation(t *testing.T) {
	h := newFakeHost(t)
	r := h.resolver(2)
	cg := h.start(200, id1)
	path := "/libpod_parent/libpod-" + id1
	r.Created(cg, path)
	r.Created(cg+1000, "/system.slice/cron.service")
	gone := h.start(201, id2)
	for _, p := range []string{h.proc + "/200", h.proc + "/201", h.cgroups + path, h.cgroups + "/libpod_parent/libpod-" + id2} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	info := r.Lookup(200, cg)
	if info == nil || info.Container.ID != id1 || info.Container.Runtime != Podman {
		t.Fatalf("container gone with its cgroup, creation recorded: Lookup = %+v", info)
	}
	if info := r.Lookup(201, gone); info != nil {
		t.Fatalf("gone, no creation record: Lookup = %+v", info)
	}
	st := r.Stats()
	if st.Created != 1 || st.FromCreation != 1 || st.Containers != 1 || st.Unresolved != 1 {
		t.Fatalf("stats %+v: want 1 created (the host cgroup is not kept), 1 named from it, 1 unresolved", st)
	}
	// The memory is bounded: the oldest creation records give way.
	for i := range 3 {
		r.Created(uint64(5000+i), fmt.Sprintf("/libpod_parent/libpod-%064d", i))
	}
	if n := r.born.Len(); n != 2 {
		t.Fatalf("%d creation records kept, bound 2", n)
	}
}
