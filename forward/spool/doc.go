// Package spool is a network sink's disk spool: records appended in
// batches survive a receiver outage and a restart, and are read back in
// order from a cursor that moves only when the receiver acknowledged them.
// It needs only the standard library.
//
// # Layout
//
// A network sink's goroutine moves batches (records framed by
// AppendFrame, as its memory queue holds them) into a spool, a directory
// per sink (Options.Dir/<hash of destination and format>/, chosen by the
// forwarder) holding:
//
//	00000000000000000000.seg  segment files, named by the number of their
//	00000000000000052113.seg  first record; frames of [len u32][crc32c u32][record]
//	cursor                    32 bytes rewritten in place: segment, offset,
//	                          record number, CRC: what the receiver has acknowledged
//	lock                      flock(2): one sensor per spool
//
// A second goroutine reads from the cursor (Peek), sends a batch, and
// moves the cursor past it (Ack) only when the receiver accepted it;
// segments wholly before the cursor are deleted. Delivery therefore
// resumes in order after an outage and after a restart, at least once: a
// batch sent but not yet acknowledged when the sensor stops is sent again,
// so receivers deduplicate by the record id (metadata.product_log_id in
// UDM, event.id in ECS, id in native).
//
// # Durability
//
// Appends are written at once and fsynced every SyncInterval (1 s by
// default), on segment rotation and on Close: a crash of the sensor loses
// nothing written, a power loss at most the last interval. On open, a
// torn last frame is cut off and a cursor that fails its CRC restarts at
// the oldest segment (duplicates, not loss).
//
// # Bound
//
// The spool is bounded (MaxBytes, 1 GiB by default). A record that would
// exceed the bound deletes the oldest segment first; its records that were
// not yet acknowledged are counted (Counters; the forwarder reports them
// as SpoolDropped) and logged.
package spool
