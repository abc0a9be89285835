//! CDEvents / CloudEvents interop through a real node's socket, checked against the CDEvents
//! spec's own conformance examples and JSON schemas (v0.5.1) and against the Eiffel schemas,
//! copied unchanged under `tests/data/` (see its README for sources and licences).
//! `CDEVENTS_SPEC_DIR` / `EIFFEL_REPO_DIR` point the tests at another checkout.

use fedci_tests::ReplyExt as _;
use fedci_tests::node::Node;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

/// The published data under `tests/data/`, or the checkout an environment variable names.
fn data_dir(var: &str, vendored: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(vendored)
    })
}

/// The CDEvents spec, checked to be v0.5.1.
fn spec_dir() -> PathBuf {
    let dir = data_dir("CDEVENTS_SPEC_DIR", "cdevents-spec-v0.5.1");
    let version = std::fs::read_to_string(dir.join("version.txt"))
        .unwrap_or_else(|e| panic!("{}/version.txt: {e}", dir.display()));
    assert_eq!(
        version.trim(),
        "0.5.1",
        "{} is not the v0.5.1 spec",
        dir.display()
    );
    dir
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every conformance example of the spec (one per event type) and the custom-event one.
fn examples() -> Vec<(String, Value)> {
    let dir = spec_dir();
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir.join("conformance"))
        .expect("reading conformance/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), read_json(&p)))
        .collect();
    let custom = dir.join("custom/conformance.json");
    out.push((custom.display().to_string(), read_json(&custom)));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 46,
        "expected every v0.5.1 type, got {}",
        out.len()
    );
    out
}

fn ctx<'a>(doc: &'a Value, field: &str) -> &'a str {
    doc["context"][field].as_str().expect("context field")
}

fn structured(doc: &Value) -> Value {
    json!({
        "specversion": "1.0",
        "id": ctx(doc, "id"),
        "source": ctx(doc, "source"),
        "type": ctx(doc, "type"),
        "datacontenttype": "application/json",
        "data": doc,
    })
}

fn created_id(answer: &Value) -> String {
    assert_eq!(answer["status"], "stored", "{answer}");
    assert!(answer["arrival"].as_u64().is_some(), "{answer}");
    answer["id"].as_str().expect("id").to_string()
}

#[test]
fn spec_examples_round_trip_in_every_content_mode() {
    let node = Node::started("odl");
    let examples = examples();
    let mut imported: Vec<(String, &Value, &str)> = Vec::new();
    for (name, doc) in &examples {
        let body = structured(doc).to_string();
        let r = node.http(
            "POST",
            "/v1/cloudevents",
            body.as_bytes(),
            &[("content-type", STRUCTURED)],
        );
        assert_eq!(r.status, 201, "structured {name}: {r:?}");
        imported.push((created_id(&r.json()), doc, "structured"));

        let body = doc.to_string();
        let headers = [
            ("content-type", "application/json"),
            ("ce-specversion", "1.0"),
            ("ce-id", ctx(doc, "id")),
            ("ce-source", ctx(doc, "source")),
            ("ce-type", ctx(doc, "type")),
        ];
        let r = node.http("POST", "/v1/cloudevents", body.as_bytes(), &headers);
        assert_eq!(r.status, 201, "binary {name}: {r:?}");
        imported.push((created_id(&r.json()), doc, "binary"));
    }
    let batch = Value::Array(examples.iter().map(|(_, d)| structured(d)).collect()).to_string();
    let r = node.http(
        "POST",
        "/v1/cloudevents",
        batch.as_bytes(),
        &[("content-type", BATCH)],
    );
    assert_eq!(r.status, 201, "batch: {r:?}");
    let answers = r.json();
    let answers = answers.as_array().expect("batch answer is a list");
    assert_eq!(answers.len(), examples.len());
    for (a, (_, doc)) in answers.iter().zip(&examples) {
        imported.push((created_id(a), doc, "batch"));
    }
    for (id, doc, mode) in imported {
        let out = node.get_json(&format!("/v1/events/{id}?format=cdevents"));
        assert_eq!(
            &out,
            doc,
            "{mode} import of {} exported differently",
            ctx(doc, "type")
        );
        let ce = node.get_json(&format!("/v1/events/{id}?format=cloudevents"));
        assert_eq!(&ce["data"], doc, "{mode}: CloudEvent data");
        assert_eq!(ce["type"], doc["context"]["type"]);
        assert_eq!(ce["id"], doc["context"]["id"]);
        assert_eq!(ce["specversion"], "1.0");
    }
    // The mapping: a packaged artifact is an artifact.created with the purl as identity.
    let packaged = examples
        .iter()
        .find(|(_, d)| ctx(d, "type").starts_with("dev.cdevents.artifact.packaged."))
        .expect("artifact.packaged example");
    let created = node.query_all("kind=artifact.created");
    assert_eq!(created.len(), 3, "one per content mode");
    assert_eq!(created[0]["data"]["identity"], packaged.1["subject"]["id"]);
    assert_eq!(
        node.query_all("kind=x-cdevents.testcaserun-finished").len(),
        3
    );
}

/// The v0.5.1 schemas by event type, plus the custom-event schema, compiled with `boon`.
struct Schemas {
    schemas: boon::Schemas,
    by_type: HashMap<String, boon::SchemaIndex>,
    custom: boon::SchemaIndex,
}

impl Schemas {
    fn load() -> Schemas {
        let dir = spec_dir();
        let mut c = boon::Compiler::new();
        c.enable_format_assertions();
        let mut schemas = boon::Schemas::new();
        let mut docs = Vec::new();
        for sub in ["schemas", "schemas/links"] {
            for e in std::fs::read_dir(dir.join(sub)).expect("reading schemas") {
                let p = e.expect("entry").path();
                if p.extension().is_some_and(|x| x == "json") {
                    let s = read_json(&p);
                    let id = s["$id"].as_str().expect("schema $id").to_string();
                    c.add_resource(&id, s.clone()).expect("adding schema");
                    docs.push((id, s));
                }
            }
        }
        let mut by_type = HashMap::new();
        for (id, s) in &docs {
            if let Some(ty) = s["properties"]["context"]["properties"]["type"]["default"].as_str() {
                let idx = c
                    .compile(id, &mut schemas)
                    .unwrap_or_else(|e| panic!("{id}: {e:#}"));
                by_type.insert(ty.to_string(), idx);
            }
        }
        let custom_path = dir.join("custom/schema.json");
        let custom_loc = "https://cdevents.dev/0.5.1/schema/custom";
        c.add_resource(custom_loc, read_json(&custom_path))
            .expect("custom schema");
        let custom = c
            .compile(custom_loc, &mut schemas)
            .expect("compiling custom schema");
        Schemas {
            schemas,
            by_type,
            custom,
        }
    }

    fn check(&self, doc: &Value) {
        let ty = ctx(doc, "type");
        let idx = if ty.starts_with("dev.cdeventsx.") {
            self.custom
        } else {
            *self
                .by_type
                .get(ty)
                .unwrap_or_else(|| panic!("no v0.5.1 schema for {ty}"))
        };
        if let Err(e) = self.schemas.validate(doc, idx) {
            panic!("{ty} export is not schema-valid: {e:#}\n{doc:#}");
        }
    }
}

/// One event of every native data kind, linked as the vocabulary wants; by kind.
fn publish_natives(node: &Node) -> HashMap<&'static str, String> {
    let art = node.publish(
        "artifact.created",
        json!({"identity": "pkg:maven/org.opendaylight/odl@1.0", "version": "1.0"}),
        &[],
    );
    let comp = node.publish(
        "composition.defined",
        json!({"name": "release"}),
        &[("ELEMENT", &art)],
    );
    let publ = node.publish(
        "artifact.published",
        json!({"locations": [{"type": "NEXUS", "uri": "https://nexus.example/odl-1.0.zip"}]}),
        &[("ARTIFACT", &art)],
    );
    let trig = node.publish("activity.triggered", json!({"name": "csit"}), &[]);
    let start = node.publish(
        "activity.started",
        json!({"name": "csit"}),
        &[("ACTIVITY_EXECUTION", &trig)],
    );
    let fin = node.publish(
        "activity.finished",
        json!({"name": "csit", "outcome": "SUCCESS"}),
        &[("ACTIVITY_EXECUTION", &trig)],
    );
    let conf = node.publish(
        "confidence.modified",
        json!({"name": "csit-passed", "value": "SUCCESS"}),
        &[("SUBJECT", &art), ("CONFIDENCE_BASIS", &fin)],
    );
    let custom = node.publish("x-odl.nightly", json!({"n": 1}), &[]);
    HashMap::from([
        ("artifact.created", art),
        ("composition.defined", comp),
        ("artifact.published", publ),
        ("activity.triggered", trig),
        ("activity.started", start),
        ("activity.finished", fin),
        ("confidence.modified", conf),
        ("x-odl.nightly", custom),
    ])
}

#[test]
fn native_kinds_export_as_schema_valid_cdevents() {
    let schemas = Schemas::load();
    let node = Node::started("odl");
    let n = publish_natives(&node);
    let (art, comp, publ, trig, start, fin, conf, custom) = (
        &n["artifact.created"],
        &n["composition.defined"],
        &n["artifact.published"],
        &n["activity.triggered"],
        &n["activity.started"],
        &n["activity.finished"],
        &n["confidence.modified"],
        &n["x-odl.nightly"],
    );
    let expect = [
        (art, "dev.cdevents.artifact.packaged.0.3.0"),
        (publ, "dev.cdevents.artifact.published.0.3.0"),
        (comp, "dev.cdeventsx.fedci-composition.defined.0.1.0"),
        (conf, "dev.cdeventsx.fedci-confidence.modified.0.1.0"),
        (trig, "dev.cdevents.pipelinerun.queued.0.3.0"),
        (start, "dev.cdevents.pipelinerun.started.0.3.0"),
        (fin, "dev.cdevents.pipelinerun.finished.0.3.0"),
        (custom, "dev.cdeventsx.fedci-custom.published.0.1.0"),
    ];
    for (id, ty) in expect {
        let doc = node.get_json(&format!("/v1/events/{id}?format=cdevents"));
        assert_eq!(ctx(&doc, "type"), ty, "{doc}");
        schemas.check(&doc);
        let cli: Value = serde_json::from_str(&node.cli_ok(&["get", id, "--format", "cdevents"]))
            .expect("get --format cdevents prints JSON");
        assert_eq!(cli, doc, "the CLI prints what the socket answers");
        // The original travels along: id and the signed bytes, which hash to the id.
        assert_eq!(doc["customData"]["fedci"]["id"], id.as_str());
        let cose = doc["customData"]["fedci"]["cose_sign1"]
            .as_str()
            .expect("cose_sign1");
        assert_eq!(cose, hex_of(&node.raw(id)));
    }
    // The roster the node's init published is native too: a custom event.
    let rosters = node.query_all("kind=trust.roster");
    let roster = rosters.first().expect("init published a roster");
    let doc = node.get_json(&format!(
        "/v1/events/{}?format=cdevents",
        roster["id"].as_str().expect("id")
    ));
    assert_eq!(ctx(&doc, "type"), "dev.cdeventsx.fedci-trust.roster.0.1.0");
    schemas.check(&doc);
    let p = node.get_json(&format!("/v1/events/{publ}?format=cdevents"));
    assert_eq!(
        p["subject"]["id"], "pkg:maven/org.opendaylight/odl@1.0",
        "published names the purl"
    );
    let c = node.get_json(&format!("/v1/events/{conf}?format=cdevents"));
    let links = c["context"]["links"].as_array().expect("links");
    assert!(
        links
            .iter()
            .any(|l| l["linkKind"] == "SUBJECT" && l["target"]["contextId"] == art.as_str())
    );
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What is wrong, the body, the headers.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

#[test]
fn bad_cloudevents_get_4xx_and_store_nothing() {
    let node = Node::started("odl");
    let good = read_json(&spec_dir().join("conformance/pipelinerun_queued.json"));
    let before = node.event_count();
    let mut no_subject_id = good.clone();
    no_subject_id["subject"]
        .as_object_mut()
        .expect("subject")
        .remove("id");
    let mut unknown_version = good.clone();
    unknown_version["context"]["specversion"] = json!("9.9.0");
    let mut ce03 = structured(&good);
    ce03["specversion"] = json!("0.3");
    let truncated = structured(&good).to_string();
    let truncated = &truncated[..truncated.len() / 2];
    let cases: Vec<Case> = vec![
        (
            "no subject.id",
            structured(&no_subject_id).to_string(),
            vec![("content-type", STRUCTURED)],
        ),
        (
            "unknown CDEvents version",
            structured(&unknown_version).to_string(),
            vec![("content-type", STRUCTURED)],
        ),
        (
            "not a CloudEvent",
            good.to_string(),
            vec![("content-type", "application/json")],
        ),
        (
            "not a CloudEvent (structured)",
            json!({"hello": "world"}).to_string(),
            vec![("content-type", STRUCTURED)],
        ),
        (
            "CloudEvents 0.3",
            ce03.to_string(),
            vec![("content-type", STRUCTURED)],
        ),
        (
            "CloudEvents 0.3 binary",
            good.to_string(),
            vec![
                ("content-type", "application/json"),
                ("ce-specversion", "0.3"),
                ("ce-id", "1"),
                ("ce-source", "/x"),
                ("ce-type", "dev.cdevents.pipelinerun.queued.0.3.0"),
            ],
        ),
        (
            "truncated JSON",
            truncated.to_string(),
            vec![("content-type", STRUCTURED)],
        ),
        (
            "batch with one bad",
            Value::Array(vec![structured(&good), structured(&no_subject_id)]).to_string(),
            vec![("content-type", BATCH)],
        ),
    ];
    for (what, body, headers) in cases {
        let r = node.http("POST", "/v1/cloudevents", body.as_bytes(), &headers);
        assert!((400..500).contains(&r.status), "{what}: {r:?}");
        let e = r.json();
        assert!(
            e["error"]["code"].is_string() && e["error"]["message"].is_string(),
            "{what}: {e}"
        );
        assert_eq!(node.event_count(), before, "{what} stored something");
    }
}

/// One Eiffel event schema (`schemas/<Type>/<version>.json` of eiffel-community/eiffel).
fn eiffel_schema(ty: &str, version: &str) -> Value {
    let dir = data_dir("EIFFEL_REPO_DIR", "eiffel");
    read_json(&dir.join(format!("schemas/{ty}/{version}.json")))
}

#[test]
fn native_kinds_export_as_schema_valid_eiffel() {
    let node = Node::started("odl");
    let n = publish_natives(&node);
    let expect = [
        ("artifact.created", "EiffelArtifactCreatedEvent", "4.0.2"),
        (
            "artifact.published",
            "EiffelArtifactPublishedEvent",
            "4.0.1",
        ),
        (
            "composition.defined",
            "EiffelCompositionDefinedEvent",
            "4.0.1",
        ),
        (
            "confidence.modified",
            "EiffelConfidenceLevelModifiedEvent",
            "4.0.1",
        ),
        (
            "activity.triggered",
            "EiffelActivityTriggeredEvent",
            "5.0.1",
        ),
        ("activity.started", "EiffelActivityStartedEvent", "5.0.1"),
        ("activity.finished", "EiffelActivityFinishedEvent", "4.1.1"),
    ];
    let mut meta_ids = HashMap::new();
    let mut docs = Vec::new();
    for (kind, ty, version) in expect {
        let doc = node.get_json(&format!("/v1/events/{}?format=eiffel", n[kind]));
        let mut c = boon::Compiler::new();
        c.enable_format_assertions();
        let mut schemas = boon::Schemas::new();
        let loc = format!("https://eiffel.example/{ty}/{version}.json");
        c.add_resource(&loc, eiffel_schema(ty, version))
            .expect("schema");
        let idx = c
            .compile(&loc, &mut schemas)
            .unwrap_or_else(|e| panic!("{ty}: {e:#}"));
        if let Err(e) = schemas.validate(&doc, idx) {
            panic!("{kind} as {ty} {version} is not schema-valid: {e:#}\n{doc:#}");
        }
        assert_eq!(doc["meta"]["type"], ty);
        let cli: Value =
            serde_json::from_str(&node.cli_ok(&["get", &n[kind], "--format", "eiffel"]))
                .expect("get --format eiffel prints JSON");
        assert_eq!(cli, doc, "the CLI prints what the socket answers");
        let id = doc["meta"]["id"].as_str().expect("meta.id").to_string();
        assert_eq!(&id[14..15], "5", "meta.id is a version-5 UUID: {id}");
        meta_ids.insert(n[kind].clone(), id);
        docs.push((kind, doc));
    }
    // Deterministic, and a link's target is the meta.id its target exports with.
    let again = node.get_json(&format!(
        "/v1/events/{}?format=eiffel",
        n["artifact.created"]
    ));
    assert_eq!(
        again["meta"]["id"].as_str(),
        meta_ids.get(&n["artifact.created"]).map(String::as_str)
    );
    let mut checked = 0;
    for (kind, doc) in &docs {
        let event = node.event(&n[*kind]);
        let fedci_links = event["links"].as_array().expect("links");
        let links = doc["links"].as_array().expect("links");
        assert_eq!(links.len(), fedci_links.len(), "{kind}");
        for (l, f) in links.iter().zip(fedci_links) {
            let target = f["target"].as_str().expect("target");
            assert_eq!(
                l["target"].as_str(),
                meta_ids.get(target).map(String::as_str),
                "{kind}: {l}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "links checked: {checked}");
    let r = node.get(&format!("/v1/events/{}?format=eiffel", n["x-odl.nightly"]));
    assert_eq!(r.status, 422, "a kind Eiffel has no event for: {r:?}");
}

#[test]
fn query_and_watch_print_interop_formats() {
    let node = Node::started("odl");
    let n = publish_natives(&node);
    let lines = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("one JSON per line"))
            .collect()
    };
    // Eiffel has no event for x- kinds or rosters: those are skipped, the rest printed.
    let eiffel = lines(&node.cli_ok(&["query", "--format", "eiffel"]));
    assert_eq!(eiffel.len(), 7, "{eiffel:?}");
    assert!(eiffel.iter().all(|e| {
        e["meta"]["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("Eiffel"))
    }));
    let cd = lines(&node.cli_ok(&["query", "--kind", "activity.*", "--format", "cdevents"]));
    let types: Vec<&str> = cd.iter().map(|d| ctx(d, "type")).collect();
    assert_eq!(
        types,
        [
            "dev.cdevents.pipelinerun.queued.0.3.0",
            "dev.cdevents.pipelinerun.started.0.3.0",
            "dev.cdevents.pipelinerun.finished.0.3.0"
        ]
    );
    // The same formats on the socket's pages and stream: {"arrival", "<format>": doc}.
    let page = node.get_json("/v1/events?kind=activity.*,x-odl.nightly&format=eiffel");
    let items = page["events"].as_array().expect("events");
    assert_eq!(items.len(), 4, "{page}");
    assert!(items.iter().all(|i| i["arrival"].as_u64().is_some()));
    assert_eq!(
        items[0]["eiffel"]["meta"]["type"],
        "EiffelActivityTriggeredEvent"
    );
    assert_eq!(
        items[3]["eiffel"],
        Value::Null,
        "Eiffel has no event for x- kinds"
    );
    let mut stream = fedci_tests::http::EventStream::open(
        &node.socket(),
        "/v1/stream?kind=activity.*&format=cdevents",
    )
    .expect("opening the stream");
    let first = stream
        .next_event(Duration::from_secs(20))
        .expect("a stream item");
    assert_eq!(
        first["cdevent"]["context"]["type"],
        "dev.cdevents.pipelinerun.queued.0.3.0"
    );
    assert_eq!(
        first["cdevent"]["customData"]["fedci"]["id"],
        n["activity.triggered"].as_str()
    );
    let bad = node.get("/v1/events?format=spdx");
    assert_eq!(bad.status, 400, "{bad:?}");
    let watched = lines(&node.cli_ok(&[
        "watch",
        "--kind",
        "activity.*",
        "--format",
        "cloudevents",
        "--count",
        "3",
    ]));
    assert_eq!(watched.len(), 3);
    assert_eq!(watched[0]["specversion"], "1.0");
    assert_eq!(
        watched[0]["data"]["customData"]["fedci"]["id"],
        n["activity.triggered"].as_str()
    );
}

#[test]
fn cdevents_links_to_known_fedci_events_become_fedci_links() {
    let node = Node::started("odl");
    let trig = node.publish("activity.triggered", json!({"name": "csit"}), &[]);
    let post = |doc: &Value| {
        let r = node.http(
            "POST",
            "/v1/cloudevents",
            structured(doc).to_string().as_bytes(),
            &[("content-type", STRUCTURED)],
        );
        assert_eq!(r.status, 201, "{r:?}");
        created_id(&r.json())
    };
    // The spec's pipelinerun.finished example, linked to the run fedci exported as queued.
    let mut doc = read_json(&spec_dir().join("conformance/pipelinerun_finished.json"));
    doc["context"]["links"] = json!([{
        "linkType": "RELATION", "linkKind": "TRIGGER", "target": {"contextId": trig}
    }]);
    let id = post(&doc);
    let ev = node.event(&id);
    assert_eq!(ev["kind"], "activity.finished", "{ev}");
    assert_eq!(
        ev["links"],
        json!([{"rel": "ACTIVITY_EXECUTION", "target": trig}])
    );
    let outcome = match doc["subject"]["content"]["outcome"].as_str() {
        Some("success") => "SUCCESS",
        Some("failure") => "FAILURE",
        Some("cancel") => "ABORTED",
        _ => "INCONCLUSIVE",
    };
    assert_eq!(ev["data"]["outcome"], outcome);
    assert_eq!(
        node.get_json(&format!("/v1/events/{id}?format=cdevents")),
        doc
    );
    // The same event linked to an id this node does not hold keeps its own kind, no links.
    doc["context"]["links"][0]["target"]["contextId"] = json!("ab".repeat(32));
    let id = post(&doc);
    let ev = node.event(&id);
    assert_eq!(ev["kind"], "x-cdevents.pipelinerun-finished");
    assert_eq!(ev["links"], json!([]));
}

#[test]
fn export_intoto_writes_the_confidence_chain_as_slsa_verification_summaries() {
    let node = Node::started("odl");
    let digest = "ab".repeat(32);
    let art = node.publish(
        "artifact.created",
        json!({"identity": "pkg:maven/org.opendaylight/odl@1.0", "digest": format!("sha256:{digest}")}),
        &[],
    );
    let tested = node.publish(
        "confidence.modified",
        json!({"name": "csit", "value": "SUCCESS"}),
        &[("SUBJECT", &art)],
    );
    let release = node.publish(
        "confidence.modified",
        json!({"name": "release", "value": "FAILURE"}),
        &[("SUBJECT", &art), ("CONFIDENCE_BASIS", &tested)],
    );
    let out = node.home().join("chain.intoto.jsonl");
    node.cli_ok(&[
        "export",
        &release,
        "--format",
        "intoto",
        "--out",
        out.to_str().expect("path"),
    ]);
    let text = std::fs::read_to_string(&out).expect("the statements file");
    let mut by_policy = HashMap::new();
    for line in text.lines() {
        let s: Value = serde_json::from_str(line).expect("one JSON statement per line");
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(
            s["predicateType"],
            "https://slsa.dev/verification_summary/v1"
        );
        assert_eq!(
            s["subject"][0]["name"],
            "pkg:maven/org.opendaylight/odl@1.0"
        );
        assert_eq!(s["subject"][0]["digest"]["sha256"], digest.as_str());
        let policy = s["predicate"]["policy"]["uri"]
            .as_str()
            .expect("policy")
            .to_string();
        by_policy.insert(policy, s["predicate"]["verificationResult"].clone());
    }
    assert_eq!(by_policy.len(), 2, "both confidences of the chain: {text}");
    assert_eq!(by_policy["fedci:confidence:csit"], "PASSED");
    assert_eq!(by_policy["fedci:confidence:release"], "FAILED");
}
