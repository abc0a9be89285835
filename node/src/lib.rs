//! fedci-node library.
