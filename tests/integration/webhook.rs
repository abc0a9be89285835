//! `watch --post`: events reach a CI system's HTTP endpoint (a tiny receiver on 127.0.0.1 in
//! this test) as binary-mode CloudEvents carrying CDEvents, at least once, even when the
//! receiver is down for a while.

use fedci_tests::receiver::{Received, Receiver};
use fedci_tests::{Node, wait_until};
use serde_json::json;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn check_cloudevent(r: &Received, published: &str) {
    let h = |k: &str| r.headers.get(k).map(String::as_str).unwrap_or_default();
    assert_eq!(h("ce-specversion"), "1.0", "{r:?}");
    assert_eq!(h("content-type"), "application/json");
    assert_eq!(h("authorization"), "Bearer t0ken", "the --header");
    assert_eq!(
        h("ce-type"),
        r.body["context"]["type"].as_str().expect("type")
    );
    assert_eq!(h("ce-id"), r.body["context"]["id"].as_str().expect("id"));
    assert!(h("ce-source").starts_with("/fedci/"));
    assert_eq!(r.body["customData"]["fedci"]["id"], published);
}

fn ids_of(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| {
            r.body["customData"]["fedci"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn watch_post_delivers_ten_events_as_cloudevents() {
    let node = Node::started("odl");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/hook?token=x",
        listener.local_addr().expect("addr")
    );
    let recv = Receiver::start(listener, 0);
    let ids: Vec<String> = (0..10)
        .map(|n| {
            node.publish(
                "activity.triggered",
                json!({"name": format!("job-{n}")}),
                &[],
            )
        })
        .collect();
    let mut w = node.watch(
        "hook",
        &[
            "--kind",
            "activity.triggered",
            "--post",
            &url,
            "--header",
            "Authorization: Bearer t0ken",
            "--count",
            "10",
        ],
    );
    wait_until(Duration::from_secs(60), "10 events at the receiver", || {
        recv.got().len() >= 10
    });
    let status = w
        .wait_timeout(Duration::from_secs(30))
        .expect("watch exits after --count 10");
    assert!(status.success(), "watch: {}", w.log());
    let got = recv.got();
    assert_eq!(ids_of(&got), ids, "every event once, in order");
    for (r, id) in got.iter().zip(&ids) {
        check_cloudevent(r, id);
        assert_eq!(
            r.headers["ce-type"],
            "dev.cdevents.pipelinerun.queued.0.3.0"
        );
    }
}

#[test]
fn watch_post_receiver_down_then_back_gets_every_event() {
    let node = Node::started("odl");
    // Reserve a port, then leave it closed: the receiver is down (connection refused).
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let url = format!("http://{addr}/");
    let ids: Vec<String> = (0..10)
        .map(|n| node.publish("x-ci.build", json!({"n": n}), &[]))
        .collect();
    let mut w = node.watch(
        "hook",
        &[
            "--consumer",
            "jenkins",
            "--kind",
            "x-ci.build",
            "--post",
            &url,
            "--header",
            "Authorization: Bearer t0ken",
            "--count",
            "10",
        ],
    );
    wait_until(
        Duration::from_secs(30),
        "the watcher to retry a refused POST",
        || w.log().matches("POST failed").count() >= 2,
    );
    assert!(w.try_wait().is_none(), "watch gave up: {}", w.log());
    let status = node.status();
    let c = &status["consumers"]["jenkins"];
    let cursor = c.as_u64().or_else(|| c["cursor"].as_u64()).unwrap_or(0);
    assert_eq!(cursor, 0, "the cursor moved without a 2xx: {status}");
    // Back up, but answering 503 twice more before it accepts.
    let listener = TcpListener::bind(addr).expect("re-binding the receiver's port");
    let recv = Receiver::start(listener, 2);
    wait_until(
        Duration::from_secs(90),
        "every event at the receiver",
        || recv.got().len() >= 10,
    );
    let status = w
        .wait_timeout(Duration::from_secs(30))
        .expect("watch exits after --count 10");
    assert!(status.success(), "watch: {}", w.log());
    assert_eq!(recv.refused.load(Ordering::SeqCst), 2);
    let got = recv.got();
    assert_eq!(
        ids_of(&got),
        ids,
        "every event once the receiver is back, in order"
    );
    for (r, id) in got.iter().zip(&ids) {
        check_cloudevent(r, id);
        assert_eq!(
            r.headers["ce-type"],
            "dev.cdeventsx.fedci-custom.published.0.1.0"
        );
    }
}
