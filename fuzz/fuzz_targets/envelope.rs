//! Envelope and body decoding, as every event from a peer, the socket or a file is decoded.
//! Even first byte: the input is an envelope as received. Odd: the rest is a payload, wrapped
//! in a correctly signed envelope so the body, signature and vocabulary checks are reached;
//! the decoder's verdict must then agree with the body parser and with `sign`.
#![no_main]

use fedci_fuzz::{golden_key, signed_envelope};
use fedci_proto::json::EventJson;
use fedci_proto::{Body, DecodeError, Event, sign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, payload)) if mode & 1 == 1 => signed_payload(payload),
        _ => as_received(data),
    }
});

fn as_received(data: &[u8]) {
    let id = Event::id_of(data);
    let trusted = Event::from_trusted_bytes(data);
    if let Ok(event) = Event::decode(data) {
        assert_eq!(id, Some(event.id()));
        assert_eq!(event.raw(), data);
        let again = trusted.expect("a verified event also decodes as trusted bytes");
        assert_eq!(again.id(), event.id());
        let _ = EventJson::from_event(&event);
    }
}

fn signed_payload(payload: &[u8]) {
    let key = golden_key();
    let envelope = signed_envelope(payload, &key);
    let verdict = Event::decode(&envelope);
    match Body::from_bytes(payload) {
        Err(e) => assert_eq!(verdict.err(), Some(DecodeError::Body(e))),
        Ok(body) if body.author != key.verifying_key().to_bytes() => {
            assert_eq!(verdict.err(), Some(DecodeError::KidMismatch))
        }
        Ok(body) => match verdict {
            Ok(event) => {
                assert_eq!(event.body(), &body);
                let resigned = sign(&body, &key).expect("sign takes what peers accept");
                assert_eq!(resigned.raw(), event.raw(), "sign is deterministic");
                let _ = EventJson::from_event(&event);
            }
            Err(DecodeError::Vocab(_)) => {
                assert!(sign(&body, &key).is_err(), "sign made what peers refuse");
            }
            Err(e) => panic!("a canonical body under a good signature refused: {e}"),
        },
    }
}
