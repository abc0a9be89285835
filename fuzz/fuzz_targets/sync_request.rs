//! Every sync request a peer can send (`Digest`, `Offer`, `Reconcile`, `Fetch`), read by the
//! protocol's CBOR codec with its frame limit and answered by the node's responder over a
//! small real store (negentropy against sealed sets, fetches, offered events ingested).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fedci_fuzz::fixture().sync_request(data);
});
