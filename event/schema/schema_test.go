package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestDocIsCurrent fails when docs/schema.md is not what the schema
// renders: edit the schema, then run go generate ./event/schema.
func TestDocIsCurrent(t *testing.T) {
	want, err := Markdown()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("docs/schema.md is stale (run go generate ./event/schema); first difference at line %d:\n have: %s\n want: %s", i+1, g, w)
			}
		}
	}
}

func TestIDIsTheFilesID(t *testing.T) {
	var s struct {
		ID     string `json:"$id"`
		Schema string `json:"$schema"`
	}
	if err := json.Unmarshal(JSON, &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != ID || s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$id %q, $schema %q; want %q and draft 2020-12", s.ID, s.Schema, ID)
	}
}

// TestEveryObjectIsClosed holds the schema to its promise that a record
// with a member it lacks is invalid: every object with properties says
// additionalProperties false.
func TestEveryObjectIsClosed(t *testing.T) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok && len(props) > 0 && x["additionalProperties"] != false &&
				!strings.Contains(path, "/then") && !strings.Contains(path, "/if") && !strings.Contains(path, "dependentSchemas") && path != "" {
				t.Errorf("%s: object without additionalProperties false", path)
			}
			for k, c := range x {
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range x {
				walk(path+"/[]", c)
			}
		}
	}
	var root any
	if err := json.Unmarshal(JSON, &root); err != nil {
		t.Fatal(err)
	}
	walk("", root)
}

func TestMarkdownDocumentsEveryMember(t *testing.T) {
	md, err := Markdown()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"`sha256`", "`hash_status`", "`trust`", "`path_classes`", "`script`", "`external`", "`detection`", "`ref_id`", "`events`"} {
		if !bytes.Contains(md, []byte("| "+f+" |")) {
			t.Errorf("docs/schema.md has no row for %s", f)
		}
	}
}
