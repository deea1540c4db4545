package detect

import (
	"strconv"
	"strings"
)

// The t1587 rule joins a launch and a connection on the content of what
// ran: (hostname, sha256). A hash can be missing for reasons an implant can
// provoke (a file over the size cap, a path too deep to walk, a FUSE mount
// the sensor cannot read, a flooded hash queue), and a missing hash must not
// lose the detection. Such an identity joins on the file instead: the
// device and inode the kernel recorded, with the inode's ctime at exec as
// its change counter, so an inode number reused by another file (whose
// ctime is its creation) does not join with the first. The detection says
// which key it used (join_key) and why the hash is missing (hash_status).

// Join keys, the detection's join_key.
const (
	JoinSHA256       = "sha256"
	JoinFileIdentity = "file_identity"
)

// fileKeyPrefix starts a window key that is a file identity; a sha256 is
// hex and never starts so.
const fileKeyPrefix = "file:"

// joinKey is the key c correlates on: its lowercase sha256, else its file
// identity when the hash is missing for a reason (not pending), else "".
func (c candidate) joinKey() string {
	if c.sha256 != "" {
		return strings.ToLower(c.sha256)
	}
	if c.hashStatus == "" || c.hashStatus == "pending" || c.ino == 0 {
		return ""
	}
	b := make([]byte, 0, 64)
	b = append(b, fileKeyPrefix...)
	b = strconv.AppendUint(b, c.dev, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, c.ino, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, c.ctimeNs, 10)
	return string(b)
}

// describeKey fills the detection's key fields from the window key id and
// the launch's identity.
func describeKey(id string, exe candidate) (sha, joinKey, fileIdentity, hashStatus string) {
	if rest, ok := strings.CutPrefix(id, fileKeyPrefix); ok {
		return "", JoinFileIdentity, rest, exe.hashStatus
	}
	return id, JoinSHA256, "", ""
}
