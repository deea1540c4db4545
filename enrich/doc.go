// Package enrich turns decoded kernel events into argus.v1 records.
//
// It keeps a process table keyed by (pid, start time), fed by exec, fork
// and exit records, so a connect record, which carries only the task's
// identity, can be reported with the process's executable path, argv and
// cwd as captured in the kernel at exec. A fork copies the parent's entry
// to the child; an exit removes the entry. A process the sensor never saw
// start (it predates the sensor, or its records were lost) is looked up once
// in /proc and accepted only if its start time matches the kernel's, so a
// recycled pid can never lend its details to another process.
//
// The table is bounded (LRU); evictions are counted. Enricher is used from
// one goroutine.
package enrich
