// Package container names the container a process runs in, for the
// process.container and process.k8s fields of its records.
//
// # From the cgroup
//
// The kernel stamps every exec and connect record with the task's cgroup
// v2 id. The first time an id is seen, the Resolver reads the process's
// /proc/<pid>/cgroup, checks that its v2 path is still the cgroup with
// that id (a cgroup's id is its inode number in the cgroup v2 mount), and
// parses the path with ParseCgroupPath. Every runtime names its cgroups
// its own way, and each has a systemd and a cgroupfs driver:
//
//	docker      /system.slice/docker-<id>.scope        /docker/<id>
//	containerd  .../cri-containerd-<id>.scope          /<namespace>/<id>
//	CRI-O       .../crio-<id>.scope                    .../pod<uid>/crio-<id>
//	podman      /machine.slice/libpod-<id>.scope       /libpod_parent/libpod-<id>
//	nspawn      /machine.slice/systemd-nspawn@<name>.service, machine-<name>.scope
//	LXC         /lxc.payload.<name>                    /lxc/<name> (v1)
//
// Kubernetes puts a pod's containers below the pod's cgroup:
// /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
// under systemd (the uid's dashes written as underscores), and
// /kubepods/burstable/pod<uid>/ under cgroupfs, where the container's own
// directory is its bare id and names no runtime. The innermost container
// in a path wins. On a hybrid host (cgroup v1 controllers, an empty v2
// hierarchy) runc still places containers in the v2 hierarchy; a process
// in the v2 root is the host's, answered without reading anything (runc's
// init, exec'd there before it joins the container's cgroup, is too). On
// a host with no v2 hierarchy every process reports the same id: the
// cgroup file's v1 lines are parsed per process, nothing is cached by id,
// and the enricher keeps the result with the process.
//
// A process already gone when its record is read leaves no cgroup file.
// The kernel reports every new v2 cgroup (a cgroup record, from the
// cgroup_mkdir tracepoint) before any process runs in it, so its record
// is read first: Created keeps the paths that name a container, and the
// Resolver names the process's container from there, even when the
// container is gone too (podman run --rm that lasts milliseconds while the
// sensor is behind: an implant author's way to run unnamed). Without that
// record (a cgroup made before the sensor started, or a kernel that could
// not attach the hook) it walks the v2 hierarchy for the directory whose
// inode number is the id (bounded at 16,384 directories).
//
// # From the runtime's state
//
// The name and image come from what each runtime keeps on disk, read once
// per container: docker's containers/<id>/config.v2.json; containers/
// storage's overlay-containers/containers.json for podman and CRI-O (with
// the container's userdata/config.json, the OCI spec whose io.kubernetes.*
// annotations name CRI-O's pod); and containerd's task bundle
// (io.containerd.runtime.v2.task/<namespace>/<id>/config.json), whose
// io.kubernetes.cri.* annotations name the image and pod. No runtime API
// is called: reading files needs no socket access and cannot block on a
// busy daemon. nspawn and LXC keep no image; their name is in the path.
//
// # The writable layer
//
// The overlay mounted at the root of the process's mount namespace (the
// last "/" mount in /proc/<pid>/mountinfo) names its upper directory: the
// container's writable layer, on the host. An executable that exists there
// at its path was written or modified after the container started; the
// enricher gives it the path class container_upper.
//
// # Bounds
//
// The cache holds DefaultMaxEntries cgroups (containers and host cgroups
// alike, so a host process also costs one lookup), least recently used
// first out, and remembers as many container cgroups from their creation.
// Sweep, which the enricher calls every few seconds, drops the
// cgroups that no longer exist, so a host that starts and stops
// containers all day holds only the live ones.
package container
