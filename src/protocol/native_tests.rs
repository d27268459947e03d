//! Unit tests for `native`.
use super::*;

#[test]
fn decodes_event_and_data() {
    let e = decode(r#"{"event":"mute","data":{"roomId":"r"}}"#).unwrap();
    assert_eq!(e.event, "mute");
    assert_eq!(e.data.unwrap().get(), r#"{"roomId":"r"}"#);
}

#[test]
fn data_may_be_omitted() {
    let e = decode(r#"{"event":"leaveCall"}"#).unwrap();
    assert!(e.data.is_none());
}

#[test]
fn escaped_names_decode() {
    let e = decode(r#"{"event":"mu\u0074e"}"#).unwrap();
    assert_eq!(e.event, "mute");
}

#[test]
fn classifies_errors() {
    for bad in ["", "{", "nope", "{\"event\":}", "\u{0}"] {
        assert_eq!(decode(bad).unwrap_err().code, ErrorCode::BadJson, "{bad:?}");
    }
    for wrong in [
        "[]",
        "1",
        "{}",
        r#"{"event":1}"#,
        r#"{"data":{}}"#,
        r#"{"event":"a","extra":1}"#,
    ] {
        assert_eq!(
            decode(wrong).unwrap_err().code,
            ErrorCode::BadMessage,
            "{wrong:?}"
        );
    }
}

#[test]
fn encodes_envelope() {
    let mut out = Vec::new();
    encode(&ServerEvent::AvailableAgents { count: 2 }, &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"event":"getAvailableAgents","data":{"availableAgents":2}}"#
    );
}
