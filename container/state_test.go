package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/argus-sensor/argus-sensor/event"
)

func write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The runtimes' state files, trimmed to the fields around the ones read
// but in the runtimes' own shapes.
func TestStateRoots(t *testing.T) {
	dir := t.TempDir()
	s := StateRoots{Docker: dir + "/docker", Storage: dir + "/storage", Containerd: dir + "/containerd"}.withDefaults()
	write(t, s.Docker+"/containers/"+id1+"/config.v2.json", `{"StreamConfig":{},"State":{"Running":true,"Pid":4242},
		"ID":"`+id1+`","Created":"2026-12-06T10:00:00Z","Path":"sleep","Args":["infinity"],
		"Config":{"Hostname":"3f5c2a6e9b0d","Image":"debian:12","Labels":{"maintainer":"x"}},
		"Image":"sha256:1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d","Name":"/web","Driver":"overlay2"}`)
	write(t, s.Storage+"/overlay-containers/containers.json", `[{"id":"`+id1+`","names":["relaxed_turing"],
		"image":"2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e","layer":"0f1e",
		"metadata":"{\"image-name\":\"localhost/argus-test/debian:v1\",\"image-id\":\"2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e\",\"name\":\"relaxed_turing\",\"created-at\":1765015200}",
		"created":"2026-12-06T10:00:00Z"},
		{"id":"`+id2+`","names":["k8s_web_web-7d4b9_shop_`+uid+`_0"],"image":"3f3f","layer":"aa",
		"metadata":"{\"pod-name\":\"web-7d4b9\",\"pod-id\":\"99\",\"image-name\":\"registry.example/shop/web:1.4\",\"image-id\":\"3f3f\",\"name\":\"k8s_web_web-7d4b9_shop_`+uid+`_0\",\"metadata-name\":\"web\"}"}]`)
	write(t, s.Storage+"/overlay-containers/"+id2+"/userdata/config.json", `{"ociVersion":"1.0.2","process":{},
		"annotations":{"io.kubernetes.pod.name":"web-7d4b9","io.kubernetes.pod.namespace":"shop","io.kubernetes.pod.uid":"`+uid+`","io.kubernetes.container.name":"web","io.kubernetes.cri-o.ImageName":"registry.example/shop/web:1.4"}}`)
	const id3 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	write(t, s.Containerd+"/io.containerd.runtime.v2.task/k8s.io/"+id3+"/config.json", `{"ociVersion":"1.1.0",
		"annotations":{"io.kubernetes.cri.container-name":"api","io.kubernetes.cri.container-type":"container",
		"io.kubernetes.cri.image-name":"registry.example/shop/api:2.0","io.kubernetes.cri.sandbox-id":"dd",
		"io.kubernetes.cri.sandbox-name":"api-5c6","io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"`+uid+`"}}`)

	cases := []struct {
		name string
		ref  Ref
		want state
	}{
		{"docker", Ref{Runtime: Docker, ID: id1}, state{runtime: Docker, name: "web", image: "debian:12",
			imageID: "sha256:1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d"}},
		{"podman", Ref{Runtime: Podman, ID: id1}, state{runtime: Podman, name: "relaxed_turing", image: "localhost/argus-test/debian:v1",
			imageID: "2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e"}},
		{"cri-o", Ref{Runtime: CRIO, ID: id2, PodUID: uid}, state{runtime: CRIO, name: "k8s_web_web-7d4b9_shop_" + uid + "_0",
			image: "registry.example/shop/web:1.4", imageID: "3f3f",
			k8s: event.K8s{PodName: "web-7d4b9", Namespace: "shop", PodUID: uid, ContainerName: "web"}}},
		{"containerd by kubepods cgroupfs", Ref{ID: id3, PodUID: uid}, state{runtime: Containerd, name: "api", image: "registry.example/shop/api:2.0",
			k8s: event.K8s{PodName: "api-5c6", Namespace: "shop", PodUID: uid, ContainerName: "api"}}},
		{"cri-o by kubepods cgroupfs", Ref{ID: id2, PodUID: uid}, state{runtime: CRIO, name: "k8s_web_web-7d4b9_shop_" + uid + "_0",
			image: "registry.example/shop/web:1.4", imageID: "3f3f",
			k8s: event.K8s{PodName: "web-7d4b9", Namespace: "shop", PodUID: uid, ContainerName: "web"}}},
		{"unknown container", Ref{Runtime: Docker, ID: id2}, state{}},
	}
	for _, c := range cases {
		if got := s.read(c.ref); got != c.want {
			t.Errorf("%s: read = %+v\nwant %+v", c.name, got, c.want)
		}
	}
	// A corrupt file gives nothing, not a crash.
	write(t, s.Storage+"/overlay-containers/containers.json", `[{"id":`)
	if got := s.read(Ref{Runtime: Podman, ID: id1}); got != (state{}) {
		t.Errorf("corrupt containers.json: %+v", got)
	}
}
