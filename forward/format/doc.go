// Package format encodes argus.v1 records in the schemas SIEMs speak. It
// needs only package event, so anything that has a record can encode it.
//
// # Formats
//
// A Format encodes one record as one JSON object with no newline in it:
// native (argus.v1, event.Record.AppendJSON), udm (Google SecOps Unified
// Data Model: PROCESS_LAUNCH with the parent as principal and the new
// program as target.process, NETWORK_CONNECTION, STATUS_UPDATE for
// sensor_health, PROCESS_UNCATEGORIZED for hash_update, GENERIC_EVENT with
// security_result for detections) or ecs (Elastic Common Schema, custom
// fields under "argus"). The encoders append to a byte slice without
// reflection; docs/udm-mapping.md and docs/forwarding.md list every field.
//
// # Shared helpers
//
// process.go holds what every format reads the same way: the program
// name (exeName), the process identity that survives pid reuse and
// reboots (appendProcessID, "argus:<boot id>:<pid>:<start time>"), and the
// parent a record names (parentOf: pid, path, comm and, when the first
// ancestor is the parent, its argv). jsonw.go is the small JSON writer
// the UDM and ECS encoders share; strings are escaped by
// event.AppendString, as in the native encoder.
package format
