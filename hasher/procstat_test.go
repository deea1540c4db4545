package hasher

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"testing"
)

func TestParseStartTicks(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 10\n", 42, true},
		// comm holds spaces, parentheses and a newline: count from the last ')'.
		{"7 (a) b (c)\nd) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789 0 0\n", 123456789, true},
		{"7 () R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615\n", 1<<64 - 1, true},
		{"7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\n", 0, false},      // too few fields
		{"7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0\n", 0, false}, // negative
		{"7 x S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0\n", 0, false},    // no comm
		{"", 0, false},
	} {
		got, err := parseStartTicks([]byte(c.in))
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("%q: %d, %v; want %d", c.in, got, err, c.want)
		}
		if !c.ok && (err == nil || !errors.Is(err, errStatFormat)) {
			t.Errorf("%q: %d, %v; want a format error", c.in, got, err)
		}
	}
}

func TestReadStartTicksSelf(t *testing.T) {
	ticks, err := readStartTicks("/proc", uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if want := startNs(t, os.Getpid()) / nsPerTick; ticks != want {
		t.Fatalf("start %d ticks, want %d", ticks, want)
	}
}

// FuzzParseStartTicks checks the parser against a plain split of the text
// after the last ')'.
func FuzzParseStartTicks(f *testing.F) {
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("7 (a) b (c)\nd) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789 0 0\n"))
	f.Add([]byte("1 (x)  S  1\n\n2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStartTicks(b)
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			if err == nil {
				t.Fatalf("no ')' but parsed %d", got)
			}
			return
		}
		fields := bytes.FieldsFunc(b[i+1:], func(r rune) bool { return r == ' ' || r == '\n' })
		if len(fields) < startTimeField-2 {
			if err == nil {
				t.Fatalf("%d fields but parsed %d", len(fields), got)
			}
			return
		}
		want, werr := strconv.ParseUint(string(fields[startTimeField-3]), 10, 64)
		if (err == nil) != (werr == nil) || err == nil && want != got {
			t.Fatalf("parsed %d, %v; reference %d, %v", got, err, want, werr)
		}
	})
}
