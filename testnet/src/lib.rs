//! fedci-testnet: runs real `fedci-node` processes on this machine — the demo of the
//! reference scenario, larger nets with fault injection, and benchmarks.

pub mod bench;
pub mod binary;
pub mod cluster;
pub mod demo;
pub mod hostile;
pub mod net;
pub mod node;
pub mod pin;
pub mod scenario;
