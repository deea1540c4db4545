// Package testutil holds helpers shared by argus's tests: gating privileged
// tests on root, and building tiny test executables without a compiler.
//
// Privileged tests call RequireRoot. Outside CI a non-root run skips them
// with a message; in CI (CI=true) a non-root run fails instead, because a
// skipped capture test there would hide a broken pipeline.
package testutil
