package container

import (
	"strings"
	"testing"
)

const (
	id1 = "3f5c2a6e9b0d4c1f8a7e6d5c4b3a291807f6e5d4c3b2a1908f7e6d5c4b3a2918"
	id2 = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	uid = "5f1c0b3e-2a47-4d38-9b6e-0c8e1f2a3b4c"
)

// Paths as each runtime and driver writes them in /proc/<pid>/cgroup
// (taken from running hosts; ids replaced).
func TestParseCgroupPath(t *testing.T) {
	uidSystemd := strings.ReplaceAll(uid, "-", "_")
	cases := []struct {
		name, path string
		want       Ref
	}{
		{"docker systemd", "/system.slice/docker-" + id1 + ".scope", Ref{Runtime: Docker, ID: id1}},
		{"docker cgroupfs", "/docker/" + id1, Ref{Runtime: Docker, ID: id1}},
		{"docker cgroupfs v1 nested", "/docker/" + id1 + "/init.scope", Ref{Runtime: Docker, ID: id1}},
		{"containerd cgroupfs", "/default/" + id1, Ref{Runtime: Containerd, ID: id1}},
		{"containerd systemd nerdctl", "/system.slice/nerdctl-" + id1 + ".scope", Ref{Runtime: Containerd, ID: id1}},
		{"podman cgroupfs", "/libpod_parent/libpod-" + id1, Ref{Runtime: Podman, ID: id1}},
		{"podman systemd", "/machine.slice/libpod-" + id1 + ".scope", Ref{Runtime: Podman, ID: id1}},
		{"podman systemd container subgroup", "/machine.slice/libpod-" + id1 + ".scope/container", Ref{Runtime: Podman, ID: id1}},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id1 + ".scope", Ref{Runtime: Podman, ID: id1}},
		{"podman conmon is not the container", "/machine.slice/libpod-conmon-" + id1 + ".scope", Ref{}},
		{"nspawn service", `/machine.slice/systemd-nspawn@web\x2d1.service/payload/system.slice/cron.service`, Ref{Runtime: Nspawn, ID: "web-1", Name: "web-1"}},
		{"nspawn scope", `/machine.slice/machine-web\x2d1.scope`, Ref{Runtime: Nspawn, ID: "web-1", Name: "web-1"}},
		{"libvirt VM is no container", `/machine.slice/machine-qemu\x2d1\x2dvm1.scope/libvirt/emulator`, Ref{}},
		{"libvirt lxc", `/machine.slice/machine-lxc\x2d4242\x2dbox.scope`, Ref{Runtime: LXC, ID: "box", Name: "box"}},
		{"lxc 4 payload", "/lxc.payload.c1/system.slice/cron.service", Ref{Runtime: LXC, ID: "c1", Name: "c1"}},
		{"lxc monitor is not the container", "/lxc.monitor.c1", Ref{}},
		{"lxc v1", "/lxc/c1", Ref{Runtime: LXC, ID: "c1", Name: "c1"}},
		{"docker in nspawn: innermost", `/machine.slice/systemd-nspawn@ci.service/payload/system.slice/docker-` + id1 + ".scope", Ref{Runtime: Docker, ID: id1}},
		{"kubepods systemd containerd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/cri-containerd-" + id1 + ".scope",
			Ref{Runtime: Containerd, ID: id1, PodUID: uid}},
		{"kubepods systemd cri-o", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-" + id1 + ".scope",
			Ref{Runtime: CRIO, ID: id1, PodUID: uid}},
		{"kubepods systemd guaranteed", "/kubepods.slice/kubepods-pod" + uidSystemd + ".slice/crio-" + id1 + ".scope",
			Ref{Runtime: CRIO, ID: id1, PodUID: uid}},
		{"kubepods systemd cri-o conmon", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-conmon-" + id1 + ".scope", Ref{}},
		{"kubepods cgroupfs containerd", "/kubepods/burstable/pod" + uid + "/" + id1, Ref{ID: id1, PodUID: uid}},
		{"kubepods cgroupfs guaranteed", "/kubepods/pod" + uid + "/" + id1, Ref{ID: id1, PodUID: uid}},
		{"kubepods cgroupfs cri-o", "/kubepods/besteffort/pod" + uid + "/crio-" + id1, Ref{Runtime: CRIO, ID: id1, PodUID: uid}},
		{"kubepods docker systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/docker-" + id1 + ".scope",
			Ref{Runtime: Docker, ID: id1, PodUID: uid}},
		{"kind node: kubepods inside docker", "/docker/" + id2 + "/kubepods/burstable/pod" + uid + "/" + id1, Ref{ID: id1, PodUID: uid}},
		{"host service", "/system.slice/ssh.service", Ref{}},
		{"host session", "/user.slice/user-1000.slice/session-3.scope", Ref{}},
		{"root", "/", Ref{}},
		{"empty", "", Ref{}},
		{"short hex is no id", "/docker/3f5c2a6e9b0d", Ref{}},
		{"upper-case hex is no id", "/docker/" + strings.ToUpper(id1), Ref{}},
		{"pod outside kubepods is no pod", "/podabc/pod" + uid + "/" + id1, Ref{Runtime: Containerd, ID: id1}},
	}
	for _, c := range cases {
		got, ok := ParseCgroupPath(c.path)
		if ok != (c.want != Ref{}) || got != c.want {
			t.Errorf("%s: ParseCgroupPath(%q) = %+v, %v; want %+v", c.name, c.path, got, ok, c.want)
		}
	}
}

func TestParseProcCgroup(t *testing.T) {
	// A hybrid host where the runtime placed the process in v1 only.
	hybridV1 := "12:pids:/docker/" + id1 + "\n9:name=systemd:/docker/" + id1 + "\n0::/\n"
	// This machine: podman with runc, v2 path in the unified hierarchy.
	hybridV2 := "9:name=systemd:/\n4:memory:/libpod_parent/libpod-" + id1 + "\n0::/libpod_parent/libpod-" + id1 + "\n"
	// A unified host.
	unified := "0::/system.slice/docker-" + id2 + ".scope\n"
	host := "9:name=systemd:/user.slice/user-0.slice/session-1.scope\n0::/user.slice/user-0.slice/session-1.scope\n"
	cases := []struct {
		name, in string
		want     Ref
		v2       string
	}{
		{"hybrid v1 only", hybridV1, Ref{Runtime: Docker, ID: id1}, "/"},
		{"hybrid v2", hybridV2, Ref{Runtime: Podman, ID: id1}, "/libpod_parent/libpod-" + id1},
		{"unified", unified, Ref{Runtime: Docker, ID: id2}, "/system.slice/docker-" + id2 + ".scope"},
		{"host", host, Ref{}, "/user.slice/user-0.slice/session-1.scope"},
		{"path with colon", "0::/odd:name/docker-" + id1 + ".scope\n", Ref{Runtime: Docker, ID: id1}, "/odd:name/docker-" + id1 + ".scope"},
		{"garbage", "no colons here\n::\n", Ref{}, ""},
	}
	for _, c := range cases {
		got, v2, ok := ParseProcCgroup([]byte(c.in))
		if ok != (c.want != Ref{}) || got != c.want || v2 != c.v2 {
			t.Errorf("%s: got %+v, %q, %v; want %+v, %q", c.name, got, v2, ok, c.want, c.v2)
		}
	}
}

func TestRootUpper(t *testing.T) {
	// /proc/<pid>/mountinfo of a podman container on this kind of host.
	mi := `1047 895 0:89 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containers/storage/overlay/l/ABC:/var/lib/containers/storage/overlay/l/DEF,upperdir=/var/lib/containers/storage/overlay/0f1e/diff,workdir=/var/lib/containers/storage/overlay/0f1e/work,redirect_dir=nofollow,uuid=on,metacopy=on
1048 1047 0:92 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1049 1047 0:93 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
`
	if got, want := RootUpper([]byte(mi)), "/var/lib/containers/storage/overlay/0f1e/diff"; got != want {
		t.Errorf("RootUpper = %q, want %q", got, want)
	}
	host := "25 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw,discard\n"
	if got := RootUpper([]byte(host)); got != "" {
		t.Errorf("host root: RootUpper = %q, want none", got)
	}
	// A read-only overlay without an upper layer, then a later mount over it.
	over := "1 0 0:1 / / ro - overlay overlay ro,lowerdir=/a:/b\n2 1 0:2 / / rw - overlay overlay rw,lowerdir=/c,upperdir=/with\\040space/diff,workdir=/w\n"
	if got, want := RootUpper([]byte(over)), "/with space/diff"; got != want {
		t.Errorf("stacked: RootUpper = %q, want %q", got, want)
	}
	if got := RootUpper([]byte("1 0 0:1 / / ro - overlay overlay ro,lowerdir=/a:/b\n")); got != "" {
		t.Errorf("no upper: RootUpper = %q, want none", got)
	}
}

// FuzzParseCgroup: no input panics, and what is parsed is consistent:
// an id is never empty, a 64-hex runtime id is what the runtimes that use
// them name, and a pod uid is a UUID found in the path.
func FuzzParseCgroup(f *testing.F) {
	f.Add("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id1 + ".scope\n")
	f.Add("12:pids:/docker/" + id1 + "\n0::/\n")
	f.Add(`0::/machine.slice/systemd-nspawn@a\x2.service` + "\n")
	f.Add("0::/lxc.payload./x\n")
	f.Fuzz(func(t *testing.T, s string) {
		ref, _, ok := ParseProcCgroup([]byte(s))
		if !ok {
			if ref != (Ref{}) {
				t.Fatalf("not found, but %+v", ref)
			}
			return
		}
		if ref.ID == "" {
			t.Fatalf("empty id in %+v", ref)
		}
		switch ref.Runtime {
		case Docker, Containerd, CRIO, Podman, "":
			if !isID(ref.ID) {
				t.Fatalf("runtime %q with id %q", ref.Runtime, ref.ID)
			}
		case Nspawn, LXC:
		default:
			t.Fatalf("unknown runtime %q", ref.Runtime)
		}
		if ref.PodUID != "" && (!isUID(ref.PodUID) || !strings.Contains(strings.ReplaceAll(s, "_", "-"), ref.PodUID)) {
			t.Fatalf("pod uid %q not from %q", ref.PodUID, s)
		}
		RootUpper([]byte(s))
	})
}
