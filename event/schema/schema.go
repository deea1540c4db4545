package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// JSON is the argus.v1 JSON Schema.
//
//go:embed argus.v1.schema.json
var JSON []byte

// ID is the schema's $id, the name a validator knows it by.
const ID = "https://github.com/argus-sensor/argus-sensor/event/schema/argus.v1.schema.json"

// node is the part of a JSON Schema the document is made from. Properties
// keep the file's order: it is the order records are written in.
type node struct {
	Title            string           `json:"title"`
	Description      string           `json:"description"`
	Ref              string           `json:"$ref"`
	Type             typeList         `json:"type"`
	Const            any              `json:"const"`
	Enum             []any            `json:"enum"`
	Format           string           `json:"format"`
	Minimum          *float64         `json:"minimum"`
	Maximum          *json.Number     `json:"maximum"`
	Properties       props            `json:"properties"`
	Required         []string         `json:"required"`
	Items            *node            `json:"items"`
	AdditionalProps  json.RawMessage  `json:"additionalProperties"`
	AnyOf            []*node          `json:"anyOf"`
	AllOf            []*node          `json:"allOf"`
	If               *node            `json:"if"`
	Then             *node            `json:"then"`
	Defs             map[string]*node `json:"$defs"`
	DependentSchemas map[string]*node `json:"dependentSchemas"`

	never bool // the boolean schema false: the member must be absent
}

type prop struct {
	name string
	n    *node
}

// props is an object's properties in file order.
type props []prop

func (p *props) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("properties: want an object")
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return fmt.Errorf("property %v: %w", t, err)
		}
		var n node
		switch string(raw) {
		case "false":
			n.never = true
		case "true":
		default:
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&n); err != nil {
				return fmt.Errorf("property %v: %w", t, err)
			}
		}
		*p = append(*p, prop{t.(string), &n})
	}
	return nil
}

// get returns the property named name, or nil.
func (p props) get(name string) *node {
	for _, x := range p {
		if x.name == name {
			return x.n
		}
	}
	return nil
}

// typeList is "type": a name or a list of names.
type typeList []string

func (t *typeList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*t = typeList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*t = many
	return nil
}

func parse() (*node, error) {
	var root node
	d := json.NewDecoder(bytes.NewReader(JSON))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	return &root, nil
}

// doc renders the schema.
type doc struct {
	root *node
	b    bytes.Buffer
	done map[string]bool // $defs already given a section
	next []string        // $defs waiting for a section, in order met
}

// Markdown renders docs/schema.md from the schema.
func Markdown() ([]byte, error) {
	root, err := parse()
	if err != nil {
		return nil, err
	}
	d := &doc{root: root, done: map[string]bool{}}
	top, err := d.def(root.Ref)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&d.b, "<!-- Generated from event/schema/argus.v1.schema.json by `go generate ./event/schema`. Do not edit: change the schema and regenerate. -->\n\n")
	fmt.Fprintf(&d.b, "# %s\n\n%s\n\n", root.Title, root.Description)
	d.done[defName(root.Ref)] = true
	if err := d.section(top, 2); err != nil {
		return nil, err
	}
	if err := d.kinds(top); err != nil {
		return nil, err
	}
	if err := d.children(); err != nil {
		return nil, err
	}
	out := bytes.TrimRight(d.b.Bytes(), "\n")
	return append(out, '\n'), nil
}

func defName(ref string) string { return strings.TrimPrefix(ref, "#/$defs/") }

func (d *doc) def(ref string) (*node, error) {
	if !strings.HasPrefix(ref, "#/$defs/") {
		return nil, fmt.Errorf("$ref %q: only local $defs are supported", ref)
	}
	n := d.root.Defs[defName(ref)]
	if n == nil {
		return nil, fmt.Errorf("$ref %q: no such definition", ref)
	}
	return n, nil
}

// isObject reports whether n describes an object with named members.
func isObject(n *node) bool { return len(n.Properties) > 0 }

// section writes one object's heading, prose and member table.
func (d *doc) section(n *node, level int) error {
	title := n.Title
	if title == "" {
		return fmt.Errorf("object definition without a title")
	}
	if !strings.HasPrefix(title, "Every") {
		title = "`" + title + "`"
	}
	fmt.Fprintf(&d.b, "%s %s\n\n", strings.Repeat("#", level), title)
	if n.Description != "" {
		fmt.Fprintf(&d.b, "%s\n\n", n.Description)
	}
	d.b.WriteString("| field | type | present | meaning |\n|---|---|---|---|\n")
	if err := d.rows(n, ""); err != nil {
		return err
	}
	d.b.WriteString("\n")
	return nil
}

// rows writes a table row per member of n, and of any object defined
// inline in it, with dotted names.
func (d *doc) rows(n *node, prefix string) error {
	for _, p := range n.Properties {
		req := "optional"
		for _, r := range n.Required {
			if r == p.name {
				req = "always"
			}
		}
		typ, meaning, err := d.describe(p.n)
		if err != nil {
			return fmt.Errorf("%s%s: %w", prefix, p.name, err)
		}
		if meaning == "" {
			return fmt.Errorf("%s%s: no description", prefix, p.name)
		}
		fmt.Fprintf(&d.b, "| `%s%s` | %s | %s | %s |\n", prefix, p.name, typ, req, cell(meaning))
		if p.n.Ref == "" && isObject(p.n) {
			if err := d.rows(p.n, prefix+p.name+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// cell makes text fit in a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// describe returns a member's type as the table shows it, and its meaning:
// its own description, then what a referenced definition adds (its
// description, its values).
func (d *doc) describe(n *node) (typ, meaning string, err error) {
	meaning = n.Description
	t := n
	if n.Ref != "" {
		t, err = d.def(n.Ref)
		if err != nil {
			return "", "", err
		}
		if isObject(t) {
			d.queue(defName(n.Ref))
			return fmt.Sprintf("object, `%s`", t.Title), meaning, nil
		}
		meaning = join(meaning, t.Description)
	}
	typ, err = d.typeName(t)
	if err != nil {
		return "", "", err
	}
	if len(t.Enum) > 0 {
		var vals []string
		missing := false
		for _, v := range t.Enum {
			s := fmt.Sprint(v)
			vals = append(vals, "`"+s+"`")
			missing = missing || !strings.Contains(meaning, "`"+s+"`")
		}
		if missing {
			meaning = join(meaning, "One of "+strings.Join(vals, ", ")+".")
		}
	}
	if c, ok := t.Const.(string); ok && !strings.Contains(meaning, "`"+c+"`") {
		meaning = join(meaning, "Always `"+c+"`.")
	}
	return typ, meaning, nil
}

func join(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + " " + b
}

// children writes the sections of the objects the last section named,
// each followed by its own: depth first, so a section's parts follow it.
func (d *doc) children() error {
	names := d.next
	d.next = nil
	for _, name := range names {
		n, err := d.def("#/$defs/" + name)
		if err != nil {
			return err
		}
		if err := d.section(n, 2); err != nil {
			return err
		}
		if err := d.children(); err != nil {
			return err
		}
	}
	return nil
}

// queue asks for a section for the definition name, once.
func (d *doc) queue(name string) {
	if !d.done[name] {
		d.done[name] = true
		d.next = append(d.next, name)
	}
}

// typeName names a schema's type the way a parser author needs it:
// integers by their range (a uint64 can pass 2^53, where a float64 JSON
// parser loses digits), maps and arrays by their elements.
func (d *doc) typeName(n *node) (string, error) {
	if n.Ref != "" {
		t, err := d.def(n.Ref)
		if err != nil {
			return "", err
		}
		if n.Ref == d.root.Ref {
			return "record", nil
		}
		if isObject(t) {
			d.queue(defName(n.Ref))
			return "`" + t.Title + "`", nil
		}
		return d.typeName(t)
	}
	switch c := n.Const.(type) {
	case bool:
		return fmt.Sprintf("bool (`%v` when present)", c), nil
	case string:
		return "string", nil
	}
	if len(n.Enum) > 0 {
		return "string", nil
	}
	if len(n.Type) == 0 && len(n.AnyOf) > 0 {
		// "ip": a string with one of two formats.
		return "string (IP address)", nil
	}
	var names []string
	for _, t := range n.Type {
		switch t {
		case "integer":
			names = append(names, intName(n))
		case "number":
			names = append(names, "number")
		case "boolean":
			names = append(names, "bool")
		case "null":
			names = append(names, "null")
		case "string":
			switch {
			case n.Format == "date-time":
				names = append(names, "string (RFC 3339 time)")
			case len(n.AnyOf) > 0:
				names = append(names, "string (IP address)")
			default:
				names = append(names, "string")
			}
		case "array":
			if n.Items == nil {
				return "", fmt.Errorf("array without items")
			}
			el, err := d.typeName(n.Items)
			if err != nil {
				return "", err
			}
			names = append(names, "["+el+"]")
		case "object":
			if isObject(n) {
				names = append(names, "object")
				continue
			}
			var el node
			if len(n.AdditionalProps) == 0 || json.Unmarshal(n.AdditionalProps, &el) != nil {
				return "", fmt.Errorf("object without properties or a typed additionalProperties")
			}
			v, err := d.typeName(&el)
			if err != nil {
				return "", err
			}
			names = append(names, "map of string to "+v)
		default:
			return "", fmt.Errorf("type %q", t)
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no type")
	}
	return strings.Join(names, " or "), nil
}

func intName(n *node) string {
	lo := math.Inf(-1)
	if n.Minimum != nil {
		lo = *n.Minimum
	}
	hi := ""
	if n.Maximum != nil {
		hi = n.Maximum.String()
	}
	switch {
	case lo == 0 && hi == "18446744073709551615":
		return "uint64"
	case lo == 0 && hi == "4294967295":
		return "uint32"
	case lo == 0 && hi == "65535":
		return "uint16"
	case lo == -2147483648 && hi == "2147483647":
		return "int32"
	case lo >= 0 && hi == "":
		return "int, not negative"
	}
	return "int"
}

// kinds writes the table of record kinds from the record's if/then rules.
func (d *doc) kinds(rec *node) error {
	d.b.WriteString("### Record kinds\n\n")
	d.b.WriteString("| `kind` | always has | never has | what |\n|---|---|---|---|\n")
	for _, c := range rec.AllOf {
		if c.If == nil || c.Then == nil {
			return fmt.Errorf("record allOf: want if/then on kind")
		}
		k := c.If.Properties.get("kind")
		kind, ok := k.Const.(string)
		if k == nil || !ok {
			return fmt.Errorf("record allOf: if without a kind const")
		}
		var never []string
		for _, p := range c.Then.Properties {
			if !p.n.never {
				return fmt.Errorf("record allOf %s: then.properties may only forbid members", kind)
			}
			never = append(never, "`"+p.name+"`")
		}
		var has []string
		for _, r := range c.Then.Required {
			has = append(has, "`"+r+"`")
		}
		fmt.Fprintf(&d.b, "| `%s` | %s | %s | %s |\n", kind, strings.Join(has, ", "), strings.Join(never, ", "), cell(c.Description))
	}
	d.b.WriteString("\n")
	return nil
}
