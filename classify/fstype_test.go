package classify

import (
	"slices"
	"testing"
)

func TestWithFS(t *testing.T) {
	for _, c := range []struct {
		in     []string
		fs     string
		want   []string
		reason string
	}{
		{nil, "tmpfs", []string{"tmpfs"}, "a tmpfs at an unclassified path"},
		{nil, "fuse", []string{"fuse"}, "FUSE"},
		{nil, "ramfs", []string{"ramfs"}, "ramfs"},
		{[]string{"shm"}, "tmpfs", []string{"shm"}, "the name says it already"},
		{nil, "ext4", nil, "a disk filesystem adds nothing"},
		{nil, "", nil, "unknown filesystem"},
	} {
		in := slices.Clone(c.in)
		if got := WithFS(in, c.fs); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v", c.reason, got)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("%s: input modified", c.reason)
		}
	}
	if FSType(0x01021994) != "tmpfs" || FSType(0x9123683E) != "btrfs" || FSType(1) != "" {
		t.Error("FSType names")
	}
}
