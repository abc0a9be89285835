//! Workspace integration tests: one binary, one module per area; the harness is `fedci_tests`.

mod admin;
mod api_limits;
mod attacks;
mod bad_input;
mod bench;
mod catchup;
mod consumers;
mod disk_full;
mod durability;
mod federation;
mod hostile;
mod interop;
mod lifecycle;
mod memory;
mod node_api;
mod promotion;
mod provenance;
mod scenario;
mod testnet_cli;
mod trace;
mod web;
mod web_browser;
mod webhook;
