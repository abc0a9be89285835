//! Harness for workspace integration tests (filled in by the node issues).
