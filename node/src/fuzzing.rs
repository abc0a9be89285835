//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz), not an API: thin wrappers that
//! hand untrusted bytes to the same code a peer's or a socket client's bytes reach, with a
//! small real store (redb file, writer thread) behind them.

use crate::admit::Admission;
use crate::api::{AppState, Draft, Params, PublishRequest, TraceParams};
use crate::config::Config;
use crate::interests::Interests;
use crate::metrics::Metrics;
use crate::net::behaviour::SYNC_PROTOCOL;
use crate::store::{Store, WriterThread};
use crate::sync::protocol::{self, Request, Response};
use crate::sync::{Outbound, Requester, Responder, sync_with, take_offer};
use ciborium::Value;
use fedci_keys::{Roster, RosterEntry, SecretKey};
use fedci_proto::json::EventJson;
use fedci_proto::{Body, Event, EventId, Link, sign};
use libp2p::PeerId;
use libp2p::request_response::{Codec as _, OutboundFailure};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Event times of the fixture: fixed, in the past, so trust decisions never depend on the clock.
const T0: u64 = 1_700_000_000_000;

/// The fixed keys of the fixture: community root and node key of each community.
fn keys(community: &str) -> (SecretKey, SecretKey) {
    let seed = community
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    (
        SecretKey::from_seed(&[seed; 32]),
        SecretKey::from_seed(&[seed.wrapping_add(1); 32]),
    )
}

/// The node key of `odl`, the community whose node the fixture plays.
pub fn node_key() -> SecretKey {
    keys("odl").1
}

/// A body by `community`'s node key (author, community, v and time filled in).
fn body(community: &str, seq: u64, kind: &str, data: Value, links: Vec<Link>) -> Body {
    Body {
        v: fedci_proto::FORMAT_VERSION,
        kind: kind.into(),
        community: community.into(),
        author: keys(community).1.public().to_bytes(),
        time: T0 + seq,
        seq,
        links,
        data,
    }
}

fn map(entries: &[(&str, &str)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (Value::Text((*k).into()), Value::Text((*v).into())))
            .collect(),
    )
}

/// The fixture's events: both communities' rosters, then artifacts, a baseline and a
/// confidence level linking them, so queries, traces and reconciliation have something to find.
pub fn events() -> Vec<Event> {
    let mut out = Vec::new();
    for community in ["odl", "opnfv"] {
        let (root, node) = keys(community);
        let roster = Roster {
            community: community.into(),
            serial: 1,
            entries: vec![RosterEntry::any_kind(node.public())],
            ended: vec![],
        };
        out.extend(roster.sign(&root, T0, None).ok());
    }
    let signed = |b: Body| sign(&b, keys(&b.community).1.signing_key()).ok();
    let mut artifacts = Vec::new();
    for i in 0..6 {
        let purl = format!("pkg:generic/odl@{i}");
        let data = map(&[("identity", &purl), ("branch", "stable/oxygen")]);
        if let Some(e) = signed(body("odl", i, "artifact.created", data, vec![])) {
            artifacts.push(e.id());
            out.push(e);
        }
    }
    let elements = artifacts
        .iter()
        .map(|id| Link::new("ELEMENT", *id))
        .collect();
    let data = map(&[("name", "os-odl-nofeature"), ("scenario", "os-odl")]);
    if let Some(baseline) = signed(body("opnfv", 1, "composition.defined", data, elements)) {
        let subject = vec![Link::new("SUBJECT", baseline.id())];
        let data = map(&[("name", "opnfvAcceptance"), ("value", "SUCCESS")]);
        out.push(baseline);
        out.extend(signed(body(
            "opnfv",
            2,
            "confidence.modified",
            data,
            subject,
        )));
    }
    out
}

/// A small node: a store holding [`events`], the sync responder, and the API router.
pub struct Fixture {
    rt: tokio::runtime::Runtime,
    store: Store,
    responder: Responder,
    admission: Admission,
    router: axum::Router,
    _writer: WriterThread,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").finish_non_exhaustive()
    }
}

impl Fixture {
    /// Opens a store in `dir` (a tmpfs keeps fsyncs cheap) holding [`events`]. Panics on
    /// failure: a fuzz target cannot run without its fixture.
    pub fn new(dir: &Path) -> Fixture {
        Self::with_events(dir, events())
    }

    /// A fixture holding `events` (those its trust accepts) instead.
    pub fn with_events(dir: &Path, events: Vec<Event>) -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let metrics = Arc::new(Metrics::default());
        let node = node_key();
        let (store, writer) = Store::open(
            &dir.join("fuzz.redb"),
            Some(node.public().to_bytes()),
            metrics.clone(),
        )
        .expect("opening the fixture store");
        rt.block_on(async {
            for community in ["odl", "opnfv"] {
                store
                    .pin(community.into(), keys(community).0.public(), "odl")
                    .await
                    .expect("pinning");
            }
            store.ingest(events, "fuzz").await.expect("ingesting");
        });
        let config = Config {
            community: "odl".into(),
            ..Config::default()
        };
        let limits = Arc::new(crate::api::ApiLimits::from_config(&config));
        let state = AppState {
            store: store.clone(),
            node_key: Arc::new(node),
            config: Arc::new(config),
            metrics,
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            outbound: None,
            net: None,
            limits,
        };
        Fixture {
            rt,
            router: crate::api::router(state, crate::api::Role::Ci),
            admission: Admission::new(store.clone(), Interests::new("odl", Vec::new())),
            store,
            responder: Responder::default(),
            _writer: writer,
        }
    }

    /// The socket API's router over the fixture's store (drive it with `tower::ServiceExt`).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Runs a future on the fixture's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A peer's request frame: decoded by the sync codec, then answered as the node would.
    pub fn sync_request(&self, frame: &[u8]) {
        let Some(request) = decode_request(frame) else {
            return;
        };
        self.rt.block_on(async {
            match request {
                Request::Offer { events } => {
                    take_offer(&self.admission, PeerId::random(), events).await;
                }
                other => {
                    self.responder.answer(&self.store, other).await;
                }
            }
        });
    }

    /// A catch-up round against a peer whose answers are `frames`, in order (each decoded by
    /// the sync codec; an undecodable frame is a failed request, as on the wire).
    pub fn sync_round(&self, frames: Vec<Vec<u8>>) {
        let mut frames = frames.into_iter();
        self.round_with(move |_| match frames.next() {
            Some(f) => decode_response(&f).ok_or_else(|| {
                OutboundFailure::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "undecodable",
                ))
            }),
            None => Err(OutboundFailure::ConnectionClosed),
        });
    }

    /// The request and response frames of a round of this fixture with `peer` (for seeds).
    pub fn transcript(&self, peer: &Fixture) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let log = Arc::new(std::sync::Mutex::new((Vec::new(), Vec::new())));
        let (store, responder, admission) = (
            peer.store.clone(),
            peer.responder.clone(),
            peer.admission.clone(),
        );
        let handle = self.rt.handle().clone();
        let record = log.clone();
        self.round_with(move |request| {
            let req = encode_request(request.clone());
            let answer = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    match request {
                        Request::Offer { events } => {
                            take_offer(&admission, PeerId::random(), events).await.0
                        }
                        other => responder.answer(&store, other).await,
                    }
                })
            });
            if let Ok(mut l) = record.lock() {
                l.0.push(req);
                l.1.push(encode_response(answer.clone()));
            }
            Ok(answer)
        });
        log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Runs a round whose peer answers each request with `answer`.
    fn round_with(
        &self,
        mut answer: impl FnMut(Request) -> Result<Response, OutboundFailure> + Send + 'static,
    ) {
        let (tx, mut rx) = mpsc::channel::<Outbound>(1);
        let requester = Requester::new(tx);
        let topics = self
            .admission
            .interests()
            .topics(&self.store.trust())
            .iter()
            .map(|t| t.to_string())
            .collect();
        self.rt.block_on(async {
            let peer = tokio::spawn(async move {
                while let Some(out) = rx.recv().await {
                    let _ = out.reply.send(answer(out.request));
                }
            });
            let peer_id = PeerId::random();
            sync_with(peer_id, &requester, &self.admission, topics, true).await;
            drop(requester);
            let _ = peer.await;
        });
    }
}

/// A request frame as the sync codec reads it off a stream.
pub fn decode_request(frame: &[u8]) -> Option<Request> {
    let mut io = futures::io::Cursor::new(frame);
    futures::executor::block_on(protocol::codec().read_request(&SYNC_PROTOCOL, &mut io)).ok()
}

/// A response frame as the sync codec reads it off a stream.
pub fn decode_response(frame: &[u8]) -> Option<Response> {
    let mut io = futures::io::Cursor::new(frame);
    futures::executor::block_on(protocol::codec().read_response(&SYNC_PROTOCOL, &mut io)).ok()
}

/// A request or response as the sync codec writes it (for seeding corpora).
pub fn encode_request(request: Request) -> Vec<u8> {
    let mut out = futures::io::Cursor::new(Vec::new());
    let _ = futures::executor::block_on(protocol::codec().write_request(
        &SYNC_PROTOCOL,
        &mut out,
        request,
    ));
    out.into_inner()
}

/// See [`encode_request`].
pub fn encode_response(response: Response) -> Vec<u8> {
    let mut out = futures::io::Cursor::new(Vec::new());
    let _ = futures::executor::block_on(protocol::codec().write_response(
        &SYNC_PROTOCOL,
        &mut out,
        response,
    ));
    out.into_inner()
}

/// A `POST /v1/events` body, taken as the API takes it and signed as the node signs it.
/// Panics if the node signs an event that its own decoder (every peer's) refuses, or if the
/// API's JSON view of the stored data differs from the data posted (the view is lossless).
pub fn publish_json(body: &[u8]) {
    let Ok(draft) = Draft::parse(body) else {
        return;
    };
    let key = node_key();
    let signed = draft.into_body("odl", key.public().to_bytes(), T0, 1);
    let Ok(event) = sign(&signed, key.signing_key()) else {
        return;
    };
    let decoded = match Event::decode(event.raw()) {
        Ok(d) => d,
        Err(e) => panic!("the node signed an event peers refuse: {e}"),
    };
    assert_eq!(decoded.id(), event.id());
    let posted = serde_json::from_slice::<PublishRequest>(body).map(|r| r.data);
    let shown = EventJson::from_event(&decoded).data;
    assert_eq!(
        Ok(shown),
        posted.map_err(|e| e.to_string()),
        "JSON → CBOR → JSON changed the data"
    );
}

/// A query string as the API's handlers take it: `/v1/events` and `/v1/stream` parameters
/// (form_urlencoded, kind and community lists, numbers, link id, consumer name) and the
/// filter they build, matched against the fixture's events; `/v1/trace` parameters through
/// axum's `Query` (serde_urlencoded), as its extractor runs them.
pub fn api_query(query: &str) {
    static EVENTS: std::sync::OnceLock<Vec<Event>> = std::sync::OnceLock::new();
    let Ok(uri) = format!("/v1/events?{query}").parse::<axum::http::Uri>() else {
        return;
    };
    let raw = uri.query().unwrap_or_default();
    let _ = axum::extract::Query::<TraceParams>::try_from_uri(&uri);
    if let Ok(params) = Params::parse(raw) {
        for event in EVENTS.get_or_init(events) {
            let _ = params.filter.matches(event);
        }
    }
}

/// The id of an event as the API and sync protocol name it (for seeds).
pub fn id_hex(id: EventId) -> String {
    id.to_hex()
}
