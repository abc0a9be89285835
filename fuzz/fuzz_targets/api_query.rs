//! Query strings of the socket API as their handlers parse them: `/v1/events` and `/v1/stream`
//! parameters and the filter they build (matched against the fixture's events), and
//! `/v1/trace` parameters through axum's `Query` extractor (serde_urlencoded). The first byte
//! picks nothing here; inputs are shared with `api_router`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = fedci_fuzz::query_string(data.get(1..).unwrap_or_default());
    fedci_node::fuzzing::api_query(&query);
});
