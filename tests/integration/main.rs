//! Workspace integration tests: one binary, one module per area; the harness is `fedci_tests`.

mod bad_input;
mod consumers;
mod durability;
mod lifecycle;
mod node_api;
mod trace;
