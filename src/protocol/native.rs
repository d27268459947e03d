//! supportd's native framing: one JSON object per WebSocket text frame, both ways,
//! `{"event": NAME, "data": VALUE, "seq": N}` with `data` and `seq` optional (anything else,
//! arrays included, is `bad_message`). Decoding borrows from the frame.
use crate::routing::{is_message_event, ErrorCode, EventData, MessageData, Rejection, ServerEvent};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A decoded client envelope. When `event` comes before `data` and names a message event,
/// `data` is read as `MessageData` in the same pass; otherwise it stays raw JSON.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub event: Cow<'a, str>,
    pub data: EventData<'a>,
    /// The client's own number for the event (a positive integer), acknowledged with `ack`.
    pub seq: Option<u64>,
}

/// A string borrowed from the frame unless it had escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

const FIELDS: &[&str] = &["event", "data", "seq"];

/// Reads an envelope; `one_pass` reads message data as `MessageData`, else all data stays raw.
struct EnvelopeSeed {
    one_pass: bool,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object {\"event\", \"data\"}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event: Option<Cow<'de, str>> = None;
        let mut data: Option<EventData<'de>> = None;
        let mut seq: Option<u64> = None;
        while let Some(key) = map.next_key::<Name<'de>>()? {
            match &*key.0 {
                "seq" if seq.is_none() => match map.next_value::<u64>()? {
                    0 => return Err(de::Error::custom("seq must be a positive integer")),
                    n => seq = Some(n),
                },
                "seq" => return Err(de::Error::custom("duplicate field")),
                "event" if event.is_none() => event = Some(map.next_value::<Name>()?.0),
                "data" if data.is_none() => {
                    data = Some(match &event {
                        Some(e) if self.one_pass && is_message_event(e) => {
                            EventData::Message(map.next_value::<MessageData>()?)
                        }
                        _ => EventData::Raw(map.next_value()?),
                    })
                }
                "event" | "data" => return Err(de::Error::custom("duplicate field")),
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        Ok(Envelope {
            event: event.ok_or_else(|| de::Error::missing_field("event"))?,
            data: data.unwrap_or(EventData::Raw(None)),
            seq,
        })
    }
}

/// Decodes one text frame; `bad_json` if it is not JSON, `bad_message` if not an envelope.
pub fn decode(text: &str) -> Result<Envelope<'_>, Rejection> {
    super::parse_one_pass(text, |one_pass| EnvelopeSeed { one_pass }).map_err(|e| {
        match e.classify() {
            serde_json::error::Category::Data => Rejection::new(
                ErrorCode::BadMessage,
                "expected an object {\"event\": string, \"data\"?: value, \"seq\"?: positive integer}",
            ),
            _ => Rejection::new(ErrorCode::BadJson, "the frame is not valid JSON"),
        }
    })
}

/// The event name a frame `decode` refused as `bad_message` still gives (`{"event":"mute",
/// "extra":1}` names "mute"), for the error's `event`; None when it gives no string name.
pub fn readable_event(text: &str) -> Option<Cow<'static, str>> {
    let frame: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(Cow::Owned(frame.get("event")?.as_str()?.to_owned()))
}

/// Appends `{"event":NAME,"data":DATA}` for `event` to `out`, with `,"seq":N` when the
/// event is numbered in its party's sequence.
pub fn encode(event: &ServerEvent, seq: Option<u64>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"event\":\"");
    out.extend_from_slice(event.name().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    event.write_data_inline(out);
    if let Some(seq) = seq {
        out.extend_from_slice(b",\"seq\":");
        super::engineio::write_u64(out, seq);
    }
    out.push(b'}');
}

#[cfg(test)]
#[path = "native_tests.rs"]
mod tests;
