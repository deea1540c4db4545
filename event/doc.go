// Package event defines argus.v1, the native record schema, and its JSON
// encoding.
//
// Every record is one JSON object on one line with "schema":"argus.v1", a
// stable "id", a "kind", a "time" (RFC 3339, UTC, always nine fractional
// digits) and "host". The kind decides which of "process", "network",
// "health" and "detection" are present. The JSON Schema in event/schema is
// the contract, field by field, and docs/schema.md is rendered from it;
// other tools parse these names, so fields are added, never renamed. A
// field added to Record must be added to the schema too: the tests
// validate the encoder's output, replay's and the running sensor's
// against it.
//
// # Encoding
//
// [Record.AppendJSON] writes a record with strconv-style appends into a
// caller-owned buffer, without reflection or allocation, because it runs
// once per event on the hot path. The struct tags drive encoding/json for
// decoding (replay, tests) and a test holds the two encodings to the same
// output for randomized records.
package event
