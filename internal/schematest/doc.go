// Package schematest checks encoded records against the argus.v1 JSON
// Schema (event/schema) with a maintained draft 2020-12 validator
// (github.com/santhosh-tekuri/jsonschema/v6), for any test that has
// records in hand: the encoder's, replay's, the running sensor's.
//
// The schema is compiled once per test binary, with format assertions on
// (date-time, ipv4, ipv6 are checked, not just annotated). Every object in
// it is closed, so [Validate] fails a record that carries a member the
// schema lacks, as well as one that lacks a member it requires or holds a
// value outside its type or range.
//
// [Rich] returns synthetic records of every kind with every optional
// member filled, so a test that validates them covers every field; a test
// in this package fails when event.Record gains a field they do not fill.
package schematest
