//! Query strings of the socket API (`GET /v1/events`, `/v1/stream`, `/v1/trace/{id}`) through
//! the real router and handlers over a small store: parameter parsing (form_urlencoded and
//! axum's `Query`, i.e. serde_urlencoded), filter building, the query itself. Never a 5xx;
//! every 4xx is the JSON error shape. Slow (a store read per input): `api_query` runs the
//! parsing alone much faster.
#![no_main]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fedci_fuzz::{QUERY_PATHS, fixture, query_string};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let mut path = QUERY_PATHS[usize::from(*pick) % QUERY_PATHS.len()].to_string();
    let streaming = path == "/v1/stream";
    if path.ends_with('/') {
        // Trace: the first event of the fixture, or an id-shaped prefix of the input.
        let id = fedci_node::fuzzing::events()
            .first()
            .map(|e| e.id().to_hex())
            .unwrap_or_default();
        path.push_str(if pick & 0x80 == 0 { &id } else { "zz" });
    }
    let uri = format!("{path}?{}", query_string(rest));
    let Ok(request) = Request::get(uri.as_str()).body(Body::empty()) else {
        return;
    };
    let response = fx
        .block_on(fx.router().oneshot(request))
        .expect("the router is infallible");
    let status = response.status();
    assert!(
        !status.is_server_error(),
        "{uri}: {status} (a query string is the client's fault or fine, never the server's)"
    );
    if streaming && status == StatusCode::OK {
        return; // an endless stream: the head is the answer to the query string
    }
    let body = fx
        .block_on(response.into_body().collect())
        .expect("reading a response body")
        .to_bytes();
    if status.is_client_error() {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
        assert!(v["error"]["code"].is_string(), "{uri}: {status} {v}");
    }
});
