//! Writes the seed corpora under `fuzz/corpus/<target>/` (then minimise them with
//! `cargo fuzz cmin`): the golden event, the fixture's events, recorded sync rounds, typical
//! query strings and publish bodies.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed --target-dir target`

use ciborium::Value;
use fedci_fuzz::{golden_key, join_frames, signed_envelope, untagged};
use fedci_node::fuzzing::{Fixture, encode_request, events};
use fedci_node::sync::protocol::Request;
use fedci_proto::{Body, EventId, Link};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("writing a seed");
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let golden_hex = include_str!("../../proto/tests/golden/artifact_created.cose.hex");
    let golden = hex_decode(golden_hex.trim());

    // envelope: envelopes as received, and (odd first byte) payloads to be signed.
    let dir = root.join("envelope");
    write(&dir, "golden", &golden);
    write(&dir, "golden-untagged", &untagged(&golden));
    for (i, e) in events().iter().enumerate() {
        write(&dir, &format!("fixture-{i}"), e.raw());
    }
    let author = golden_key().verifying_key().to_bytes();
    let kinds: [(&str, Value, Vec<Link>); 5] = [
        (
            "artifact.created",
            Value::Map(vec![
                (t("identity"), t("pkg:generic/a@1")),
                (t("n"), Value::Integer(1u64.into())),
            ]),
            vec![Link::new("CAUSE", EventId([1; 32]))],
        ),
        (
            "artifact.published",
            Value::Map(vec![(
                t("locations"),
                Value::Array(vec![Value::Map(vec![
                    (t("type"), t("http")),
                    (t("uri"), t("u")),
                ])]),
            )]),
            vec![Link::new("ARTIFACT", EventId([2; 32]))],
        ),
        (
            "confidence.modified",
            Value::Map(vec![(t("name"), t("ok")), (t("value"), t("SUCCESS"))]),
            vec![Link::new("SUBJECT", EventId([3; 32]))],
        ),
        (
            "activity.finished",
            Value::Map(vec![(t("name"), t("job")), (t("outcome"), t("ABORTED"))]),
            vec![Link::new("ACTIVITY_EXECUTION", EventId([4; 32]))],
        ),
        (
            "x-odl.custom",
            Value::Map(vec![
                (t("f"), Value::Float(1.5)),
                (t("b"), Value::Bytes(vec![1, 2])),
                (t("a"), Value::Array(vec![Value::Null, Value::Bool(true)])),
            ]),
            vec![],
        ),
    ];
    for (i, (kind, data, links)) in kinds.into_iter().enumerate() {
        let body = Body {
            v: 1,
            kind: kind.into(),
            community: "odl".into(),
            author,
            time: 1_529_000_000_000,
            seq: i as u64,
            links,
            data,
        };
        let mut data = fedci_proto::cbor::to_canonical_vec(&body.to_value()).expect("cbor");
        let mut seed = vec![1u8];
        seed.append(&mut data);
        write(&dir, &format!("payload-{kind}"), &seed);
        if i == 0 {
            write(
                &dir,
                "signed-artifact",
                &signed_envelope(&seed[1..], &golden_key()),
            );
        }
    }

    // roster: a roster's data naming the node key [4; 32], and signed rosters.
    let dir = root.join("roster");
    let node = fedci_keys::SecretKey::from_seed(&[4; 32])
        .public()
        .to_bytes();
    let entry = |kinds: &[&str], window: Option<(u64, u64)>| {
        let mut m = vec![
            (t("key"), Value::Bytes(node.to_vec())),
            (
                t("kinds"),
                Value::Array(kinds.iter().map(|k| t(k)).collect()),
            ),
        ];
        if let Some((nb, na)) = window {
            m.push((t("not_before"), Value::Integer(nb.into())));
            m.push((t("not_after"), Value::Integer(na.into())));
        }
        Value::Map(m)
    };
    let rosters = [
        vec![entry(&["*"], None)],
        vec![entry(
            &["artifact.*", "x-odl.custom"],
            Some((1_700_000_000_000, 1_700_000_000_010)),
        )],
        vec![entry(&["activity.triggered"], Some((0, 1)))],
        vec![],
    ];
    for (i, keys) in rosters.into_iter().enumerate() {
        let data = Value::Map(vec![
            (t("serial"), Value::Integer(2u64.into())),
            (t("keys"), Value::Array(keys)),
        ]);
        write(
            &dir,
            &format!("data-{i}"),
            &fedci_proto::cbor::to_vec(&data).expect("cbor"),
        );
    }
    for (i, e) in events().iter().take(2).enumerate() {
        write(&dir, &format!("signed-{i}"), e.raw());
    }

    // sync: recorded rounds between a full fixture and emptier ones, both ways.
    let tmp = std::env::temp_dir().join(format!("fedci-seed-{}", std::process::id()));
    let all = events();
    for d in ["full", "part", "bare"] {
        std::fs::create_dir_all(tmp.join(d)).expect("fixture directory");
    }
    let full = Fixture::new(&tmp.join("full"));
    let part = Fixture::with_events(&tmp.join("part"), all[..5].to_vec());
    let bare = Fixture::with_events(&tmp.join("bare"), all[..1].to_vec());
    let (req_dir, round_dir) = (root.join("sync_request"), root.join("sync_round"));
    let mut n = 0;
    for (a, b) in [
        (&full, &part),
        (&part, &full),
        (&bare, &full),
        (&full, &bare),
        (&full, &full),
    ] {
        let (requests, responses) = a.transcript(b);
        write(&round_dir, &format!("round-{n}"), &join_frames(&responses));
        for (i, r) in requests.iter().enumerate() {
            write(&req_dir, &format!("round-{n}-{i}"), r);
        }
        n += 1;
    }
    let ids = all
        .iter()
        .map(|e| serde_bytes::ByteBuf::from(e.id().0.to_vec()))
        .collect();
    write(
        &req_dir,
        "fetch-all",
        &encode_request(Request::Fetch { ids }),
    );
    let offered = all
        .iter()
        .map(|e| serde_bytes::ByteBuf::from(e.raw().to_vec()))
        .collect();
    write(
        &req_dir,
        "offer-all",
        &encode_request(Request::Offer { events: offered }),
    );
    let _ = std::fs::remove_dir_all(&tmp);

    // api_router and api_query: the first byte picks /v1/events, /v1/stream or
    // /v1/trace/{id} (api_query ignores it).
    for target in ["api_router", "api_query"] {
        let dir = root.join(target);
        let queries = [
            "kind=artifact.*&community=odl,opnfv&since=1&until=1800000000000&limit=3",
            "kind=confidence.modified&link=",
            "after=2&limit=0&consumer=job-1",
            "community=&kind=x-odl.*,*",
            "direction=down&depth=3&format=dot",
            "direction=up&format=mermaid",
        ];
        for (i, q) in queries.iter().enumerate() {
            for pick in 0u8..3 {
                let mut seed = vec![pick];
                seed.extend(q.as_bytes());
                write(&dir, &format!("q{i}-{pick}"), &seed);
            }
        }
        let link = format!("link={}", all[2].id().to_hex());
        write(&dir, "link", &[&[0u8][..], link.as_bytes()].concat());
    }

    // publish_json: bodies a CI job posts.
    let dir = root.join("publish_json");
    let bodies = [
        r#"{"kind":"artifact.created","data":{"identity":"pkg:generic/odl@1","branch":"b"},"links":[]}"#.to_string(),
        format!(
            r#"{{"kind":"confidence.modified","data":{{"name":"x","value":"SUCCESS"}},"links":[{{"rel":"SUBJECT","target":"{}"}}]}}"#,
            all[2].id().to_hex()
        ),
        r#"{"kind":"x-odl.thing","data":{"n":-1,"f":0.5,"u":18446744073709551615,"a":[null,true,{"k":"v"}]}}"#.to_string(),
        r#"{"kind":"activity.finished","data":{"name":"j","outcome":"TIMED_OUT"},"links":[{"rel":"ACTIVITY_EXECUTION","target":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#.to_string(),
    ];
    for (i, b) in bodies.iter().enumerate() {
        write(&dir, &format!("body-{i}"), b.as_bytes());
    }
    println!("seeds written under {}", root.display());
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}
