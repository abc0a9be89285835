//! Every sync response a peer can send, as the initiator of a catch-up round meets them: the
//! input is the peer's answers in order (length-prefixed frames, each read by the codec), and
//! the node runs a whole round against them (digest, reconcile, fetch, offer, link targets).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fedci_fuzz::fixture().sync_round(fedci_fuzz::split_frames(data));
});
