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
#[path = "native_tests.rs"]
mod tests;
