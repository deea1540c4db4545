// Command mutate checks that a package's tests catch a broken rule. It
// reads a list of one-line mutations (detect/mutations.txt), copies the
// module to a temporary directory, and for each mutation rewrites its
// file, runs the package's tests there and restores the file. A mutation
// whose tests still pass is a survivor: some behaviour of the rule that no
// test pins down. It exits 1 when any mutation survives or no longer
// applies (its text is gone from the file), so it can guard a change.
//
//	go run ./internal/mutate                     # detect/mutations.txt against ./detect
//	go run ./internal/mutate -run window         # only mutations whose name contains "window"
//
// The list is blocks separated by blank lines: "## name", the file
// (relative to the package), the text to find and the text to put in its
// place, each on one line and compared without leading and trailing
// space. The text must occur in the file; every occurrence is replaced.
// Lines starting with "#" but not "##" outside a block are comments.
package main
