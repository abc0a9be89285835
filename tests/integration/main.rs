//! Workspace integration tests: one binary, one module per area; the harness is `fedci_tests`.

mod admin;
mod api_limits;
mod attacks;
mod bad_input;
mod bench;
mod catchup;
mod ci_examples;
mod cli_mistakes;
mod consumers;
mod contrib;
mod disk_full;
mod durability;
mod federation;
mod hostile;
mod interop;
mod lifecycle;
mod node_api;
mod peers;
mod provenance;
mod scenario;
mod testnet_cli;
mod trace;
mod web;
mod web_browser;
mod webhook;
