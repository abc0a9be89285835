//! Filters over real signed events.

#![allow(clippy::unwrap_used)] // tests and benches may unwrap

mod common;

use common::{golden_body, key};
use fedci_proto::{EventId, Filter, sign};

#[test]
fn filter_matches_on_every_field() {
    let event = sign(&golden_body(), &key(1)).unwrap();
    let all = Filter::default();
    assert!(all.matches(&event));
    let f = |f: Filter| f.matches(&event);
    assert!(f(Filter {
        kinds: vec!["artifact.*".into()],
        ..all.clone()
    }));
    assert!(!f(Filter {
        kinds: vec!["composition.defined".into()],
        ..all.clone()
    }));
    assert!(f(Filter {
        communities: vec!["opnfv".into(), "odl".into()],
        ..all.clone()
    }));
    assert!(!f(Filter {
        communities: vec!["opnfv".into()],
        ..all.clone()
    }));
    assert!(f(Filter {
        since: Some(1_529_000_000_000),
        ..all.clone()
    }));
    assert!(!f(Filter {
        until: Some(1_529_000_000_000),
        ..all.clone()
    }));
    assert!(f(Filter {
        link_target: Some(EventId([0xcc; 32])),
        ..all.clone()
    }));
    assert!(!f(Filter {
        link_target: Some(EventId([0xdd; 32])),
        ..all.clone()
    }));
}
