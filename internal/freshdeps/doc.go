// Command freshdeps checks that every external program the project's tests,
// scripts and atomics call is one a fresh machine gets: listed in
// .ci/tools (which .ci/run installs from), or shipped by a Debian package
// that every system has (Essential or Priority required).
//
// It reads three kinds of caller. In Go files it parses the syntax tree
// and takes the string literal that names a program in exec.Command,
// exec.CommandContext, exec.LookPath and the tests' own need/requireTool
// helpers. In shell scripts and Makefile recipes it takes the word in
// command position of each simple command (after sudo, env, exec,
// command -v and assignments). In Atomic Red Team YAML it does the same for
// each command, prereq_command, get_prereq_command and cleanup_command.
//
// A program found that is not in .ci/tools fails the check when it is
// missing here, or when it is installed from a package outside the base
// system: either way a new machine would not have it. Each manifest entry
// whose installer is not .ci/run must name a file that mentions its
// package, so "the bench installs auditd" is checked, not trusted.
//
// Run it as .ci/fresh-deps (CI does); it exits 1 listing each problem with
// the file and line that calls the program.
package main
