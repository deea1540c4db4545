package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/argus-sensor/argus-sensor/event"
)

// noHash gives a record's executable no sha256, for the reason status, and
// the file identity dev:ino:ctime.
func noHash(status string, dev, ino uint64, ctime int64) recOpt {
	return func(r *event.Record) {
		x := &r.Process.Exe
		x.SHA256, x.HashStatus, x.Device, x.Inode, x.CtimeNs = "", status, dev, ino, ctime
	}
}

// A launch and a connection whose hash could not be had still make one
// detection, joined on the file, and the detection says so.
func TestT1587FileIdentityJoin(t *testing.T) {
	const tool = "/tmp/big-implant"
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, tool, "", unowned, noHash("too_large", 2049, 77, 1700000000123456789)),
		connect("h1", time.Minute, 10, tool, "", "192.0.2.1", noHash("too_large", 2049, 77, 1700000000123456789)),
		connect("h1", 2*time.Minute, 10, tool, "", "192.0.2.1", noHash("too_large", 2049, 77, 1700000000123456789)),
		// The same inode number, another file (another ctime): no join
		// with the first, and alone it has no launch.
		connect("h1", 3*time.Minute, 11, tool, "", "192.0.2.1", noHash("too_large", 2049, 77, 1800000000000000000)),
	)
	if len(dets) != 1 {
		t.Fatalf("%d detections, want 1", len(dets))
	}
	d := dets[0].Detection
	if d.SHA256 != "" || d.JoinKey != JoinFileIdentity || d.FileIdentity != "2049:77:1700000000123456789" ||
		d.HashStatus != "too_large" || len(d.Events) != 2 || !strings.Contains(d.Summary, "no sha256: too_large") {
		t.Fatalf("detection %+v", d)
	}
}

// A hash still pending joins nothing (its record comes back with the hash),
// and a digest, when there is one, is the key.
func TestT1587JoinKeyChoice(t *testing.T) {
	if k := (candidate{hashStatus: "pending", ino: 5}).joinKey(); k != "" {
		t.Errorf("pending: key %q", k)
	}
	if k := (candidate{hashStatus: "gone"}).joinKey(); k != "" {
		t.Errorf("no inode: key %q", k)
	}
	if k := (candidate{sha256: strings.ToUpper(shaImplant), hashStatus: "gone", ino: 5}).joinKey(); k != shaImplant {
		t.Errorf("digest: key %q", k)
	}
	dets, _, _ := replay(t, Config{},
		launch("h1", 0, 10, "/tmp/x", shaImplant, unowned),
		connect("h1", time.Minute, 10, "/tmp/x", shaImplant, "192.0.2.1"),
	)
	if len(dets) != 1 || dets[0].Detection.JoinKey != JoinSHA256 || dets[0].Detection.FileIdentity != "" {
		t.Fatalf("detections %+v", dets)
	}
	// No reason, no key: an identity with neither hash nor status is not
	// a candidate.
	dets, _, _ = replay(t, Config{},
		launch("h1", 0, 10, "/tmp/y", "", unowned, noHash("", 1, 2, 3)),
		connect("h1", time.Minute, 10, "/tmp/y", "", "192.0.2.1", noHash("", 1, 2, 3)),
	)
	if len(dets) != 0 {
		t.Fatalf("%d detections without hash or reason", len(dets))
	}
}
