// Package agent is the running daemon: it wires the kernel sensor, the
// enrichment stage and the output sink into one pipeline and reports the
// sensor's own health.
//
// Data flows one way. The sensor's reader goroutine decodes ring buffer
// records onto a bounded channel; the pipeline goroutine takes each event,
// enriches it into an argus.v1 record, encodes it into a reused buffer and
// hands it to the sink. The sink is flushed whenever the channel runs empty,
// so output is batched under load and immediate when quiet.
//
// A sensor_health record with state "started" is written once every hook is
// attached, one with state "running" every HealthInterval, and a last one
// with state "stopped" after the ring has been drained on shutdown, carrying
// the final loss counters.
package agent
