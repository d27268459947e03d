//! Unit tests for `native`.
use super::*;
use serde_json::value::RawValue;

#[test]
fn decodes_event_and_data() {
    let e = decode(r#"{"event":"mute","data":{"roomId":"r"}}"#).unwrap();
    assert_eq!(e.event, "mute");
    assert_eq!(e.data.raw().unwrap().get(), r#"{"roomId":"r"}"#);
}

#[test]
fn data_may_be_omitted() {
    let e = decode(r#"{"event":"leaveCall"}"#).unwrap();
    assert!(e.data == EventData::Raw(None));
    let e = decode(r#"{"event":"leaveCall","data":null}"#).unwrap();
    assert!(e.data == EventData::Raw(None));
}

#[test]
fn message_data_is_read_with_the_frame_when_the_event_comes_first() {
    let e = decode(r#"{"event":"userMessage","data":{"roomId":5,"messageInput":"x"}}"#).unwrap();
    match e.data {
        EventData::Message(m) => {
            assert!(m.well_formed);
            assert_eq!(m.room_id, Some(crate::routing::IdRef::Int(5)));
            assert_eq!(m.message_input.map(RawValue::get), Some(r#""x""#));
        }
        other => panic!("{other:?}"),
    }
    // A payload of the wrong shape is still a valid envelope: the router refuses it.
    let e = decode(r#"{"event":"agentMessage","data":[1]}"#).unwrap();
    assert!(matches!(e.data, EventData::Message(ref m) if !m.well_formed));
    // Data first: kept raw, parsed by the router.
    let e = decode(r#"{"data":{"messageInput":"x"},"event":"userMessage"}"#).unwrap();
    assert_eq!(e.data.raw().unwrap().get(), r#"{"messageInput":"x"}"#);
}

#[test]
fn message_data_the_one_pass_reader_cannot_hold_stays_raw() {
    for (frame, data) in [
        (r#"{"event":"userMessage","data":1e400}"#, "1e400"),
        (
            r#"{"event":"agentMessage","data":{"roomId":"\ud800","messageInput":"x"}}"#,
            r#"{"roomId":"\ud800","messageInput":"x"}"#,
        ),
        (
            r#"{"event":"userMessage","data":{"\udc00":1,"messageInput":"x"}}"#,
            r#"{"\udc00":1,"messageInput":"x"}"#,
        ),
    ] {
        let e = decode(frame).unwrap();
        assert_eq!(e.data.raw().map(RawValue::get), Some(data), "{frame}");
    }
    assert_eq!(
        decode(r#"{"event":"userMessage","data":{"messageInput":"x"},}"#)
            .unwrap_err()
            .code,
        ErrorCode::BadJson
    );
}

#[test]
fn envelopes_with_repeated_or_unknown_keys_or_not_objects_are_bad_messages() {
    for bad in [
        r#"{"event":"mute","event":"mute"}"#,
        r#"{"event":"mute","data":1,"data":2}"#,
        r#"{"event":"mute","extra":1}"#,
        r#"{"data":{}}"#,
        r#"["mute",{}]"#,
        r#"{"event":5}"#,
        "7",
    ] {
        assert_eq!(
            decode(bad).unwrap_err().code,
            ErrorCode::BadMessage,
            "{bad}"
        );
    }
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
    encode(&ServerEvent::AvailableAgents { count: 2 }, None, &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"event":"getAvailableAgents","data":{"availableAgents":2}}"#
    );
    out.clear();
    encode(
        &ServerEvent::AvailableAgents { count: 2 },
        Some(17),
        &mut out,
    );
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"event":"getAvailableAgents","data":{"availableAgents":2},"seq":17}"#
    );
}

#[test]
fn decodes_client_seq() {
    let env = decode(r#"{"event":"mute","data":{},"seq":5}"#).unwrap();
    assert_eq!(env.seq, Some(5));
    let env = decode(r#"{"seq":6,"event":"mute"}"#).unwrap();
    assert_eq!(env.seq, Some(6));
    assert_eq!(decode(r#"{"event":"mute"}"#).unwrap().seq, None);
    for bad in [
        r#"{"event":"mute","seq":0}"#,
        r#"{"event":"mute","seq":-1}"#,
        r#"{"event":"mute","seq":"1"}"#,
        r#"{"event":"mute","seq":1.5}"#,
        r#"{"event":"mute","seq":1,"seq":2}"#,
    ] {
        assert_eq!(
            decode(bad).unwrap_err().code,
            ErrorCode::BadMessage,
            "{bad}"
        );
    }
}

#[test]
fn a_bad_message_still_names_a_readable_event() {
    assert_eq!(
        readable_event(r#"{"event":"mute","extra":1}"#).as_deref(),
        Some("mute")
    );
    assert_eq!(
        readable_event(r#"{"event":"leaveCall","seq":0}"#).as_deref(),
        Some("leaveCall")
    );
    for unnamed in [
        r#"{"event":5}"#,
        r#"{"data":{}}"#,
        r#"["mute",{}]"#,
        "7",
        "{",
    ] {
        assert_eq!(readable_event(unnamed), None, "{unnamed}");
    }
}
