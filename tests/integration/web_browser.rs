//! The web view in a real browser (headless Chromium, Debian's `chromium`): the trace page of
//! the reference chain (ODL artifact → OPNFV baseline → confidence → ODL stamp) lists every
//! event with its full id, the live feed shows an event published after the page loaded, and a
//! screenshot of the trace is kept in `target/web-artifacts/`.

use crate::provenance::{federation_with, reference_chain};
use fedci_tests::browser::{Page, artifact_dir, dump_dom, require_chromium, screenshot};
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
}
