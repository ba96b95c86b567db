//! The bodies Prosody shards send: `POST /api/prosody/verdicts` and
//! `POST /api/prosody/events` (`PROTOCOL.md`), as the `Signed<T>` extractor handles them:
//! the signature over the exact bytes first, then the JSON into
//! `http::routes::prosody::{VerdictsBody, EventsBody}`, then events into
//! `attendance::AttendanceEvent` and rooms through `RoomName::parse` as the verdicts do.
//!
//! The first byte picks the endpoint; the rest is the body.
//! Invariants: a body signed with the shared secret verifies whatever its bytes (and
//! not as the other endpoint); a body that parses is JSON (once invalid UTF-8 in members
//! the types ignore is replaced: serde_json does not check what it skips), and in its
//! object form has the protocol's members of the protocol's types; an event's nick is cut to at most 200 characters and
//! is a prefix of the one sent; its times are finite; a room node the verdicts treat as
//! ours (it parses to itself) is canonical.

use roomkey::attendance::AttendanceEvent;
use roomkey::domain::RoomName;
use roomkey::http::routes::prosody::{EventBody, EventsBody, VerdictsBody};
use roomkey::live::signature::{RequestKind, RequestSigner};
use serde_json::Value;

use crate::NOW;

const SECRET: &[u8] = b"prosody-shared-secret-for-fuzzing-0123";

pub fn prepare() {}

pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let signer = RequestSigner::new(SECRET, 60);
    let (kind, other) = if selector & 1 == 0 {
        (RequestKind::Verdicts, RequestKind::Events)
    } else {
        (RequestKind::Events, RequestKind::Verdicts)
    };
    let timestamp = NOW.to_string();
    let signature = signer.sign(kind, NOW, body);
    assert_eq!(
        signer.verify(kind, Some(&timestamp), Some(&signature), body, NOW),
        Ok(())
    );
    assert!(signer
        .verify(other, Some(&timestamp), Some(&signature), body, NOW)
        .is_err());

    // serde_json skips the members a type ignores without checking their UTF-8, so the
    // generic reading of the same body replaces invalid sequences first.
    let value: Option<Value> = serde_json::from_str(&String::from_utf8_lossy(body)).ok();
    if kind == RequestKind::Verdicts {
        if serde_json::from_slice::<VerdictsBody>(body).is_err() {
            return;
        }
        let value = value.expect("a body that parses is JSON");
        // serde also reads a struct from an array of its fields in order; only the object
        // form has names to check.
        if !value.is_object() {
            assert!(value.is_array(), "{value}");
            return;
        }
        assert!(value["shard"].is_string(), "{value}");
        let checks = value["checks"].as_array().expect("checks is an array");
        for check in checks.iter().filter(|c| c.is_object()) {
            assert!(check["user_id"].is_string(), "{check}");
            assert!(
                check["jti"].is_string() || check["jti"].is_null(),
                "{check}"
            );
            let room = check["room"].as_str().expect("a room is a string");
            if let Ok(name) = RoomName::parse(room) {
                if name.as_str() == room {
                    assert_eq!(RoomName::parse(name.as_str()), Ok(name));
                }
            }
        }
    } else {
        let Ok(parsed) = serde_json::from_slice::<EventsBody>(body) else {
            return;
        };
        let value = value.expect("a body that parses is JSON");
        drop(parsed);
        if !value.is_object() {
            assert!(value.is_array(), "{value}");
            return;
        }
        assert!(value["shard"].is_string(), "{value}");
        let sent = value["events"].as_array().expect("events is an array");
        for event in sent.iter().filter(|e| e.is_object()) {
            let one: EventBody =
                serde_json::from_value(event.clone()).expect("parsed in the batch");
            let at = event["at"].as_f64().expect("at is a number");
            match AttendanceEvent::from(one) {
                AttendanceEvent::Joined { nick, at: kept, .. } => {
                    assert_eq!(event["type"], "joined");
                    assert!(kept.is_finite() && kept == at);
                    if let Some(nick) = nick {
                        let original = event["nick"].as_str().expect("a nick is a string");
                        assert!(nick.chars().count() <= 200 && original.starts_with(&nick));
                    }
                }
                AttendanceEvent::Left { at: kept, .. } => {
                    assert_eq!(event["type"], "left");
                    assert!(kept.is_finite() && kept == at);
                }
                AttendanceEvent::RoomDestroyed { at: kept, .. } => {
                    assert_eq!(event["type"], "room_destroyed");
                    assert!(kept.is_finite() && kept == at);
                }
            }
        }
    }
}
