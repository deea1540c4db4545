// Package schema holds argus.v1 as a machine-readable JSON Schema (draft
// 2020-12) and renders docs/schema.md from it.
//
// # The schema
//
// argus.v1.schema.json is the contract: every member of every record kind,
// its type, whether it is always present, the values it takes, and what it
// means. Objects are closed (additionalProperties false), so a record that
// carries a member the schema lacks is invalid: adding a field to
// event.Record without adding it here fails the tests that validate real
// output (internal/schematest). Each kind's required and forbidden members
// are stated with if/then on "kind". The file is embedded as [JSON] so a
// test or a tool can compile it without knowing where the repository is.
//
// # The document
//
// [Markdown] walks the schema from the record down, one section per object,
// one table row per member, and takes all prose from the "title" and
// "description" keywords: docs/schema.md is its output (go generate runs
// ./gendoc), and a test fails when the committed page differs, so the page
// cannot drift from the schema, nor the schema from the records.
package schema
