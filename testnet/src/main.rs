//! `fedci-testnet`: multi-node demos.

fn main() {
    println!("fedci-testnet: the demo arrives with the testnet issue");
}
