// Package forward delivers encoded records to where they are configured to
// go.
//
// A Sink takes one encoded record (one line) at a time and buffers it;
// Flush pushes what is buffered to the destination. The pipeline calls
// Flush whenever its input queue runs empty, so records leave in batches
// under load and at once when the host is quiet.
//
// Sinks are named by a spec string: "stdout" or "file:PATH".
package forward
