//! The web view in a real browser (headless Chromium, Debian's `chromium`): the trace page of
//! the reference chain (ODL artifact → OPNFV baseline → confidence → ODL stamp) lists every
//! event with its full id, the live feed shows an event published after the page loaded, and a
//! screenshot of the trace is kept in `target/web-artifacts/`.

use crate::provenance::{federation_with, reference_chain};
use fedci_tests::browser::{Page, artifact_dir, dump_dom, require_chromium, screenshot};
use fedci_tests::http::request_tcp;
use fedci_tests::net::free_port;
use serde_json::json;
use std::time::Duration;

const BROWSER: Duration = Duration::from_secs(60);

#[test]
fn trace_page_lists_the_reference_chain_and_the_feed_shows_a_new_event() {
    // Fail first, before minutes of set-up, when the browser is missing.
    require_chromium();
    let addr = format!("127.0.0.1:{}", free_port());
    let f = federation_with(&["--http", &addr]);
    let c = reference_chain(&f);
    let chain = [&c.artifact, &c.baseline, &c.confidence, &c.stamp];

    let url = format!("http://{addr}/trace/{}", c.stamp);
    let dom = dump_dom(f.odl.home(), &url, Duration::from_secs(10));
    assert!(
        dom.contains("data-trace-ready"),
        "the trace never rendered:\n{dom}"
    );
    let list = dom
        .split("id=\"trace-list\"")
        .nth(1)
        .and_then(|s| s.split("</ol>").next())
        .unwrap_or_else(|| panic!("no trace list in the page:\n{dom}"));
    for id in chain {
        assert!(
            list.contains(&format!("data-event-id=\"{id}\"")),
            "the trace list lacks {id}:\n{list}"
        );
    }
    for badge in [
        "SUCCESS",
        "ELEMENT",
        "SUBJECT",
        "CONFIDENCE_BASIS",
        "signature verified",
    ] {
        assert!(dom.contains(badge), "the trace page shows no {badge}");
    }
    // The download buttons point at answers the read-only listener gives.
    for (format, media) in [
        ("dot", "text/vnd.graphviz"),
        ("bundle", fedci_keys::bundle::MEDIA_TYPE),
    ] {
        let href = format!(
            "/v1/trace/{}?direction=both&amp;depth=1000&amp;format={format}",
            c.stamp
        );
        assert!(
            dom.contains(&href),
            "no {format} download button ({href}) in the page"
        );
        let r = request_tcp(&addr, "GET", &href.replace("&amp;", "&"), &[], &[]).unwrap();
        assert_eq!(r.status, 200, "{format} download: {r:?}");
        assert_eq!(r.header("content-type"), Some(media), "{format} download");
        assert!(!r.body.is_empty(), "empty {format} download");
    }
    let png = artifact_dir().join("trace.png");
    screenshot(
        f.odl.home(),
        &url,
        Duration::from_secs(10),
        &png,
        (1720, 720),
    );
    println!("screenshot of the trace page: {}", png.display());

    let mut page = Page::open(f.odl.home(), &format!("http://{addr}/"));
    page.wait_for(
        "document.body.dataset.feedLive === '1'",
        BROWSER,
        "the live feed to connect",
    );
    let shown =
        |id: &str| format!("!!document.querySelector('#feed-rows [data-event-id=\"{id}\"]')");
    page.wait_for(
        &shown(&c.stamp),
        BROWSER,
        "the chain's last event in the feed",
    );
    let late = f.opnfv.publish(
        "confidence.modified",
        json!({"name": "opnfvDaily", "value": "FAILURE", "issuer": "opnfv"}),
        &[("SUBJECT", &c.baseline)],
    );
    page.wait_for(
        &shown(&late),
        BROWSER,
        "the event published after the page loaded",
    );
    let row = page.eval(&format!(
        "document.querySelector('#feed-rows [data-event-id=\"{late}\"]').innerText"
    ));
    let row = row.as_str().unwrap_or_default();
    for part in [
        "confidence.modified",
        "opnfv",
        &late[..12],
        "opnfvDaily",
        "FAILURE",
    ] {
        assert!(row.contains(part), "the feed row lacks {part:?}: {row:?}");
    }

    // Filters: community odl hides OPNFV's rows and keeps ODL's; kind narrows further.
    let choose = |select: &str, value: &str| {
        format!(
            "(() => {{ const s = document.getElementById('{select}'); s.value = '{value}'; \
             s.dispatchEvent(new Event('change')); return s.value === '{value}'; }})()"
        )
    };
    let hidden =
        |id: &str| format!("document.querySelector('#feed-rows [data-event-id=\"{id}\"]').hidden");
    assert_eq!(page.eval(&choose("f-community", "odl")), json!(true));
    assert_eq!(
        page.eval(&hidden(&late)),
        json!(true),
        "an opnfv row shows under community=odl"
    );
    assert_eq!(page.eval(&hidden(&c.stamp)), json!(false));
    assert_eq!(page.eval(&hidden(&c.artifact)), json!(false));
    assert_eq!(
        page.eval(&choose("f-kind", "artifact.created")),
        json!(true)
    );
    assert_eq!(
        page.eval(&hidden(&c.stamp)),
        json!(true),
        "a confidence row shows under kind=artifact.created"
    );
    assert_eq!(page.eval(&hidden(&c.artifact)), json!(false));

    // Clicking an event in the feed opens its trace in place.
    page.eval(&format!(
        "document.querySelector('#feed-rows [data-event-id=\"{}\"] a').click()",
        c.artifact
    ));
    page.wait_for(
        &format!(
            "location.pathname === '/trace/{}' && document.body.dataset.traceReady === '5'",
            c.artifact
        ),
        BROWSER,
        "the artifact's trace (the chain and the late confidence) after a click in the feed",
    );
}

/// A trace of 500 held events (an artifact, 50 baselines built on it, 449 confidences on
/// those) plus the artifact's dangling link to a previous version never published here: every event is listed, the dangling one as such, and the page
/// is rendered soon after navigation (real time, measured by the page itself and printed).
#[test]
fn a_500_event_trace_lists_every_event_and_its_dangling_link_and_its_load_time() {
    require_chromium();
    let mut node = fedci_tests::Node::new();
    node.init("odl");
    let addr = crate::web::start_web(&mut node);
    // The previous version was never published here: a dangling link, upstream of the root.
    let missing = "ab".repeat(32);
    let root = node.publish(
        "artifact.created",
        json!({"identity": "pkg:maven/org.opendaylight/karaf@0.9.0"}),
        &[("PREVIOUS_VERSION", &missing)],
    );
    let mut ids = vec![root.clone()];
    let mut baselines = Vec::new();
    for b in 0..50 {
        let id = node.publish(
            "composition.defined",
            json!({"name": format!("baseline-{b}")}),
            &[("ELEMENT", &root)],
        );
        baselines.push(id.clone());
        ids.push(id);
    }
    for n in 0..449 {
        let value = if n % 7 == 0 { "FAILURE" } else { "SUCCESS" };
        let subject = &baselines[n % baselines.len()];
        ids.push(node.publish(
            "confidence.modified",
            json!({"name": format!("job-{n}"), "value": value}),
            &[("SUBJECT", subject)],
        ));
    }
    assert_eq!(ids.len(), 500);

    let mut page = Page::open(node.home(), &format!("http://{addr}/trace/{root}"));
    page.wait_for(
        "!!(document.body && document.body.dataset.traceReady)",
        BROWSER,
        "the 500-event trace to render",
    );
    let listed = page.eval(
        "JSON.stringify([...document.querySelectorAll('#trace-list [data-event-id]')].map(e => e.dataset.eventId))",
    );
    let listed: Vec<String> = serde_json::from_str(listed.as_str().unwrap_or("[]")).unwrap();
    assert_eq!(listed.len(), 501, "500 events and one dangling link target");
    for id in &ids {
        assert!(listed.contains(id), "{id} is not listed");
    }
    let dangling = page.eval(&format!(
        "document.querySelector('#trace-list [data-event-id=\"{missing}\"]').innerText"
    ));
    assert!(
        dangling
            .as_str()
            .unwrap_or_default()
            .contains("dangling link"),
        "the missing link target is not shown as dangling: {dangling}"
    );
    let loaded: u64 = page
        .eval("document.body.dataset.traceLoadedMs")
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("traceLoadedMs");
    let own = page.eval("document.body.dataset.traceMs");
    println!(
        "500-event trace rendered {loaded} ms after navigation (trace fetch + render: {own} ms)"
    );
    // The budget is 1 s (met on an idle machine with a debug node: ~870 ms from navigation,
    // ~400 ms of it the trace fetch and render); the bound here is loose so a loaded CI
    // machine does not fail it, but a layout that goes quadratic does.
    assert!(
        loaded < 15_000,
        "the 500-event trace took {loaded} ms to load (budget: 1 s)"
    );
}
