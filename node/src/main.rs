//! `fedci-node`: the daemon and its CLI.

fn main() {
    println!("fedci-node: the daemon arrives with the node-core issue");
}
