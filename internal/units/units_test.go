package units

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "64k": 64 << 10, "8MiB": 8 << 20, "512M": 512 << 20, "1GiB": 1 << 30,
		"1G": 1 << 30, "2TB": 2 << 40, " 3 KiB ": 3 << 10} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5G", "lots", "99999999999T"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
