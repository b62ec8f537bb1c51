// Package layers holds the test that keeps the project's layering: the
// method (pipeline/) knows nothing of storage, services or Temporal; the
// I/O packages (io/) know nothing of the method or of the wiring above
// them; workflows (workflows/) do no I/O, so their code stays deterministic.
package layers
