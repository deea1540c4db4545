// Package forward delivers argus.v1 records to where they are configured
// to go, in the schema the destination speaks, without losing them while
// a receiver is down and without ever making the pipeline wait.
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
// # Sinks
//
// An Output's spec selects a sink: stdout, file:PATH (size rotation,
// mode 0600), syslog+udp|tcp|tls://HOST:PORT (RFC 5424, octet counting on
// streams) or https://URL in generic, chronicle (events:import) or
// splunk_hec mode. Query options in the spec (?format=udm&mode=chronicle)
// override the typed option structs.
//
// # Hand-off
//
// Forwarder.Send, called by the pipeline goroutine, encodes the record
// once per format in use and appends it, length-prefixed, to each sink's
// memQueue: a byte buffer under a mutex that the sink's goroutine swaps
// for an empty one. Send never waits for a sink; a full queue (16 MiB by
// default) drops the record and counts it in Stats.QueueDropped. Local
// sinks (stdout, file) write each swapped batch with one write(2) and have
// no other buffer: what they fail to write is counted, not retried.
//
// # Spool
//
// A network sink's goroutine moves batches from its queue into a disk
// spool, a directory per sink (Options.Dir/<hash of destination and
// format>/) holding:
//
//	00000000000000000000.seg  segment files, named by the number of their
//	00000000000000052113.seg  first record; frames of [len u32][crc32c u32][record]
//	cursor                    32 bytes rewritten in place: segment, offset,
//	                          record number, CRC: what the receiver has acknowledged
//	lock                      flock(2): one sensor per spool
//
// A second goroutine reads from the cursor, sends a batch, and moves the
// cursor past it only when the receiver accepted it; segments wholly
// before the cursor are deleted. Delivery therefore resumes in order after
// an outage and after a restart, at least once: a batch sent but not yet
// acknowledged when the sensor stops is sent again, so receivers
// deduplicate by the record id (metadata.product_log_id in UDM, event.id
// in ECS, id in native).
//
// Appends are written at once and fsynced every SyncInterval (1 s by
// default), on segment rotation and on Close: a crash of the sensor loses
// nothing written, a power loss at most the last interval. On open, a
// torn last frame is cut off and a cursor that fails its CRC restarts at
// the oldest segment (duplicates, not loss).
//
// The spool is bounded (MaxBytes, 1 GiB by default). A record that would
// exceed the bound deletes the oldest segment first; its records that were
// not yet acknowledged are counted in Stats.SpoolDropped and logged.
//
// # Retries
//
// A failed batch is retried, in order, with exponential backoff (500 ms
// doubling to 60 s, each wait drawn from the upper half of its interval)
// and a receiver's Retry-After. An HTTP 400, 413 or 422 is not retried as
// is: the batch is split in halves until the record the receiver refuses
// is alone, and only that record is dropped (Stats.Rejected). 401, 403
// and 404 are retried, since they are configuration faults the records
// are not to blame for.
//
// # Shutdown
//
// Forwarder.Close stops Send, drains every queue to its file or spool,
// and lets network sinks deliver until their spool is empty or the
// context ends; what remains is sent after the next New on the same spool
// directory.
package forward
