//! The JSON body of `POST /v1/events`: parsed and checked as the API does, signed as the node
//! signs; the node must never sign what peers refuse, and the JSON view must be lossless.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fedci_node::fuzzing::publish_json(data);
});
