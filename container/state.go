package container

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/argus-sensor/argus-sensor/event"
)

// StateRoots are where the runtimes keep their state on disk.
type StateRoots struct {
	Docker     string // "/var/lib/docker": containers/<id>/config.v2.json
	Storage    string // "/var/lib/containers/storage" (podman, CRI-O): overlay-containers/
	Containerd string // "/run/containerd": io.containerd.runtime.v2.task/<namespace>/<id>/config.json
}

func (s StateRoots) withDefaults() StateRoots {
	if s.Docker == "" {
		s.Docker = "/var/lib/docker"
	}
	if s.Storage == "" {
		s.Storage = "/var/lib/containers/storage"
	}
	if s.Containerd == "" {
		s.Containerd = "/run/containerd"
	}
	return s
}

// maxStateFile bounds a state file read: containers.json of a host with
// thousands of containers is a few MiB.
const maxStateFile = 64 << 20

// state is what a runtime's files say about one container.
type state struct {
	runtime              string
	name, image, imageID string
	k8s                  event.K8s
}

// read looks the container up in its runtime's state. Kubernetes
// containers under the cgroupfs driver do not name their runtime, so each
// runtime's state is tried in turn.
func (s StateRoots) read(ref Ref) state {
	switch ref.Runtime {
	case Docker:
		st, _ := s.docker(ref.ID)
		return st
	case Podman, CRIO:
		st, _ := s.storage(ref.ID, ref.Runtime)
		return st
	case Containerd:
		st, _ := s.containerd(ref.ID)
		return st
	case "":
		if st, ok := s.containerd(ref.ID); ok {
			return st
		}
		if st, ok := s.storage(ref.ID, CRIO); ok {
			return st
		}
		if st, ok := s.docker(ref.ID); ok {
			return st
		}
	}
	return state{}
}

func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxStateFile))
}

// dockerConfig is the part of docker's config.v2.json the sensor reads.
type dockerConfig struct {
	Name   string
	Image  string // the image id, sha256:...
	Config struct {
		Image  string
		Labels map[string]string
	}
}

func (s StateRoots) docker(id string) (state, bool) {
	b, err := readSmall(filepath.Join(s.Docker, "containers", id, "config.v2.json"))
	if err != nil {
		return state{}, false
	}
	var c dockerConfig
	if json.Unmarshal(b, &c) != nil {
		return state{}, false
	}
	st := state{runtime: Docker, name: strings.TrimPrefix(c.Name, "/"), image: c.Config.Image, imageID: c.Image}
	st.k8s = kubeAnnotations(c.Config.Labels)
	return st, true
}

// storageContainer is one entry of containers/storage's containers.json.
type storageContainer struct {
	ID       string   `json:"id"`
	Names    []string `json:"names"`
	Image    string   `json:"image"`
	Metadata string   `json:"metadata"`
}

// storageMetadata is the metadata podman and CRI-O keep with it.
type storageMetadata struct {
	ImageName string `json:"image-name"`
	ImageID   string `json:"image-id"`
	Name      string `json:"name"`
	PodName   string `json:"pod-name"`
	// CRI-O: the container's name in the pod spec.
	MetadataName string `json:"metadata-name"`
}

func (s StateRoots) storage(id, runtime string) (state, bool) {
	b, err := readSmall(filepath.Join(s.Storage, "overlay-containers", "containers.json"))
	if err != nil {
		return state{}, false
	}
	var cs []storageContainer
	if json.Unmarshal(b, &cs) != nil {
		return state{}, false
	}
	for _, c := range cs {
		if c.ID != id {
			continue
		}
		st := state{runtime: runtime, imageID: c.Image}
		if len(c.Names) > 0 {
			st.name = c.Names[0]
		}
		var m storageMetadata
		if c.Metadata != "" && json.Unmarshal([]byte(c.Metadata), &m) == nil {
			st.image = m.ImageName
			if m.ImageID != "" {
				st.imageID = m.ImageID
			}
			if m.Name != "" {
				st.name = m.Name
			}
		}
		// CRI-O writes the OCI spec, with the pod's annotations, into the
		// container's userdata.
		if spec, err := readSmall(filepath.Join(s.Storage, "overlay-containers", id, "userdata", "config.json")); err == nil {
			var sp ociSpec
			if json.Unmarshal(spec, &sp) == nil {
				st.k8s = kubeAnnotations(sp.Annotations)
				if st.k8s != (event.K8s{}) {
					st.runtime = CRIO
				}
			}
		}
		return st, true
	}
	return state{}, false
}

// ociSpec is the part of an OCI runtime spec the sensor reads.
type ociSpec struct {
	Annotations map[string]string `json:"annotations"`
}

func (s StateRoots) containerd(id string) (state, bool) {
	matches, _ := filepath.Glob(filepath.Join(s.Containerd, "io.containerd.runtime.v2.task", "*", id, "config.json"))
	for _, m := range matches {
		b, err := readSmall(m)
		if err != nil {
			continue
		}
		var sp ociSpec
		if json.Unmarshal(b, &sp) != nil {
			continue
		}
		a := sp.Annotations
		st := state{runtime: Containerd, image: a["io.kubernetes.cri.image-name"], k8s: kubeAnnotations(a)}
		st.name = a["io.kubernetes.cri.container-name"]
		if st.name == "" {
			st.name = a["nerdctl/name"]
		}
		return st, true
	}
	return state{}, false
}

// kubeAnnotations reads a pod's identity from the annotations CRI-O and
// containerd put in the OCI spec, or the labels dockershim gave docker.
func kubeAnnotations(a map[string]string) event.K8s {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := a[k]; v != "" {
				return v
			}
		}
		return ""
	}
	return event.K8s{
		PodName:       first("io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"),
		Namespace:     first("io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"),
		PodUID:        first("io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"),
		ContainerName: first("io.kubernetes.container.name", "io.kubernetes.cri.container-name"),
	}
}
