package schematest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/argus-sensor/argus-sensor/event/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSON))
	if err != nil {
		return nil, fmt.Errorf("parse argus.v1 schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schema.ID, doc); err != nil {
		return nil, fmt.Errorf("load argus.v1 schema: %w", err)
	}
	s, err := c.Compile(schema.ID)
	if err != nil {
		return nil, fmt.Errorf("compile argus.v1 schema: %w", err)
	}
	return s, nil
})

// Validate checks one encoded record (one JSON object, as a line of the
// native format) against the argus.v1 schema.
func Validate(record []byte) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	// UnmarshalJSON keeps numbers as json.Number: a uint64 near 2^64 is
	// compared exactly, not as a rounded float.
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(record))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// Check fails t, naming the record, if record is not a valid argus.v1
// record.
func Check(t testing.TB, record []byte) {
	t.Helper()
	if err := Validate(record); err != nil {
		t.Errorf("record does not match the argus.v1 schema: %v\n%s", err, clip(record))
	}
}

// Lines validates every non-empty line of b, failing t for each invalid
// one (the first ten are shown), and returns how many lines it checked.
func Lines(t testing.TB, b []byte) int {
	t.Helper()
	n, bad := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		if err := Validate(line); err != nil {
			bad++
			if bad <= 10 {
				t.Errorf("line %d does not match the argus.v1 schema: %v\n%s", n, err, clip(line))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("read records: %v", err)
	}
	if bad > 10 {
		t.Errorf("%d of %d lines do not match the argus.v1 schema", bad, n)
	}
	return n
}

// File validates every line of the JSON-lines file at path; see Lines.
func File(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read records: %v", err)
	}
	return Lines(t, b)
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}
