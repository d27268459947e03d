//! supportd's native framing: one JSON object per WebSocket text frame, both ways,
//! `{"event": NAME, "data": VALUE}` with `data` optional. Decoding borrows from the frame.
use crate::routing::{ErrorCode, Rejection, ServerEvent};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A decoded client envelope.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

/// Decodes one text frame; `bad_json` if it is not JSON, `bad_message` if not an envelope.
pub fn decode(text: &str) -> Result<Envelope<'_>, Rejection> {
    serde_json::from_str::<Envelope>(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Rejection::new(
            ErrorCode::BadMessage,
            "expected an object {\"event\": string, \"data\"?: value}",
        ),
        _ => Rejection::new(ErrorCode::BadJson, "the frame is not valid JSON"),
    })
}

/// Appends `{"event":NAME,"data":DATA}` for `event` to `out`.
pub fn encode(event: &ServerEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"event\":\"");
    out.extend_from_slice(event.name().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    event.write_data(out);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
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
}
