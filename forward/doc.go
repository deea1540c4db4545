// Package forward delivers argus.v1 records to where they are configured
// to go, in the schema the destination speaks, without losing them while
// a receiver is down and without ever making the pipeline wait.
//
// # Formats
//
// Records are encoded by package forward/format (native argus.v1, udm,
// ecs): Send encodes each record once per format in use.
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
// A network sink's goroutine moves batches from its queue into its own
// disk spool (package forward/spool: layout, durability, bound), a
// directory under spool.Options.Dir named by a hash of destination and
// format. A second goroutine reads from the spool, sends a batch, and
// acknowledges it only when the receiver accepted it, so delivery resumes
// in order after an outage and after a restart, at least once. It fsyncs
// the spool every spool.Options.SyncInterval.
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
