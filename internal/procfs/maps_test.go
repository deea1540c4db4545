package procfs

import (
	"errors"
	"testing"
)

func TestParseMappingAt(t *testing.T) {
	maps := []byte(`55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 247849                     /usr/bin/true
55d0c0a02000-55d0c0a06000 r-xp 00002000 fe:00 247849                     /usr/bin/true
7f1c2c000000-7f1c2c021000 rwxp 00000000 00:00 0 
7f1c2d400000-7f1c2d5a6000 r-xp 00026000 fe:00 262210                     /tmp/my dir/lib x.so (deleted)
7ffd5b1e0000-7ffd5b201000 rw-p 00000000 00:00 0                          [stack]
7ffd5b3f6000-7ffd5b3f8000 r-xp 00000000 00:00 0                          [vdso]
`)
	for _, tc := range []struct {
		addr uint64
		ok   bool
		path string
		anon bool
	}{
		{0x55d0c0a02010, true, "/usr/bin/true", false},
		{0x7f1c2c000000, true, "", true},
		{0x7f1c2c020fff, true, "", true},
		{0x7f1c2c021000, false, "", false}, // the end is not in the range
		{0x7f1c2d400123, true, "/tmp/my dir/lib x.so (deleted)", false},
		{0x7ffd5b1e0100, true, "[stack]", true},
		{0x7ffd5b3f6100, true, "[vdso]", false},
		{0x1000, false, "", false},
	} {
		m, ok, err := ParseMappingAt(maps, tc.addr)
		if err != nil || ok != tc.ok || m.Path != tc.path || ok && m.Anonymous() != tc.anon {
			t.Errorf("%#x: %+v %v %v; want found %v path %q anonymous %v", tc.addr, m, ok, err, tc.ok, tc.path, tc.anon)
		}
	}
	for _, bad := range []string{"garbage\n", "1000-zz r-xp 0 0:0 0\n", "1000-2000 r-xp 0\n", "1000-2000 r-xp 0 0:0 x\n"} {
		if _, _, err := ParseMappingAt([]byte(bad), 0x1800); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v, want ErrFormat", bad, err)
		}
	}
}

func FuzzParseMappingAt(f *testing.F) {
	f.Add([]byte("1000-2000 r-xp 00000000 fe:00 12 /bin/x\n3000-4000 rwxp 0 00:00 0 \n"), uint64(0x3800))
	f.Fuzz(func(t *testing.T, b []byte, addr uint64) {
		m, ok, err := ParseMappingAt(b, addr)
		if err == nil && ok && (addr < m.Lo || addr >= m.Hi) {
			t.Fatalf("%#x not in the mapping found, %+v", addr, m)
		}
	})
}
