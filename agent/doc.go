// Package agent is the running daemon: it builds every stage from a
// Config, wires them together, and reports the sensor's own health. It
// holds no records of its own.
//
// # Data flow
//
// Records move one way, on one pipeline goroutine:
//
//	sensor ──events──► enrich ──finished records──┬──► forward
//	                                              └──► detect ──detections──► forward
//
// The sensor's reader goroutine decodes ring buffer records onto a bounded
// channel. The pipeline goroutine (loop) hands each event to
// enrich.Handle, and each time round delivers what enrich.Ready says is
// finished: a record marked Send goes to forward.Send, one marked Observe
// to the detection engine, whose detections go to forward.Send too. Enrich
// keeps records in order behind a pending hash (see package enrich);
// while it is Full the loop stops reading the channel, so the sensor's
// queue takes the back-pressure. The loop wakes for an event, for the
// hash the oldest waiting record needs, for that record's deadline, and on
// a 100 ms tick: enrich.Tick (held connects, follow-ups of records sent
// with a pending hash), a loss check that tells the rules to mark their
// detections degraded, the collector's target from the queue's length
// (gc.go: lean while the pipeline keeps up, Go's default while it is
// behind; only when GOGC is not set), and every tenth tick a metrics
// snapshot.
//
// # Start and stop
//
// Run builds the components in order, the sensor last: once attached it
// fills the ring, so everything that drains it must exist. It writes a
// sensor_health record with state "started", reads the snapshot of running
// processes and open connections into enrich, returns the heap the start
// grew for to the OS, and calls Config.Started. When ctx ends the sensor
// detaches its hooks, drains the ring and closes its channel; the loop
// lets enrich drain what it still holds and returns, and a last
// sensor_health record with state "stopped" carries the final counters
// before the outputs close (with up to 10 s to drain their queues into
// files and spools).
//
// # Health and metrics
//
// A sensor_health record with state "running" goes out every
// HealthInterval, carrying every counter: the sensor's read, lost and
// dropped events, hooks, the process table, hashing, trust verdicts,
// detections and each output's queue and spool. The same counters are
// published once a second to the /metrics and /healthz server
// (MetricsAddr), which reads only that published snapshot and never
// touches the pipeline.
//
// # Reload
//
// Each value from Config.Hangups (SIGHUP) asks Config.Reload for a new
// Config. Everything is checked before anything changes; a configuration
// that fails is refused whole and the running one kept. Path classes,
// internal networks and the allowlist apply in place; outputs are swapped
// by closing the old forwarder (it drains to its destinations and spools)
// and opening the new one while kernel events wait in the ring and the
// sensor's queue. Settings that cannot change while running are logged as
// taking effect at the next restart.
package agent
