//! The binaries the tests run, found by the testnet's one binary finder
//! ([`fedci_testnet::binary`]): built next to the test executable, or named by
//! `FEDCI_NODE_BIN` / `FEDCI_TESTNET_BIN`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Path of the `fedci-node` binary to test.
pub fn node_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        fedci_testnet::binary::fedci_node().unwrap_or_else(|e| panic!("fedci-node: {e}"))
    })
}

/// Path of the `fedci-testnet` binary, run as a user would run it.
pub fn testnet_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        fedci_testnet::binary::fedci_testnet().unwrap_or_else(|e| panic!("fedci-testnet: {e}"))
    })
}
