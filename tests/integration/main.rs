//! Workspace integration tests: one binary, one module per area; the harness is `fedci_tests`.

mod attacks;
mod bad_input;
mod bench;
mod catchup;
mod consumers;
mod durability;
mod federation;
mod hostile;
mod lifecycle;
mod node_api;
mod scenario;
mod testnet_cli;
mod trace;
