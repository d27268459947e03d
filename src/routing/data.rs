//! Event data as the protocol layer hands it over. Most events arrive as raw JSON that the
//! router parses itself; `userMessage`/`agentMessage`, the hot path, are read into
//! `MessageData` in the same JSON pass that reads the frame. Invariant: a wrongly shaped
//! payload is refused by the router (`bad_payload`, in its usual order of checks), never by
//! the framing: reading `MessageData` marks wrong shapes instead of failing, and the valid
//! JSON it cannot hold (a lone surrogate, a number beyond f64) makes the protocol layer read
//! the frame again with the data raw.
use super::ids::IdRef;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The `data` of a client event.
#[derive(Debug, Clone)]
pub enum EventData<'a> {
    /// Unparsed JSON, or None when the event carried no data (or null).
    Raw(Option<&'a RawValue>),
    /// The data of a message event, read with the frame.
    Message(MessageData<'a>),
}

impl<'a> EventData<'a> {
    /// The data of a message event, parsing raw JSON if it came that way.
    pub fn into_message(self) -> Option<MessageData<'a>> {
        match self {
            EventData::Message(m) => Some(m),
            EventData::Raw(None) => None,
            EventData::Raw(Some(raw)) => {
                Some(serde_json::from_str(raw.get()).unwrap_or_else(|_| MessageData::default()))
            }
        }
    }

    /// The raw JSON, for events the router parses itself.
    pub fn raw(&self) -> Option<&'a RawValue> {
        match self {
            EventData::Raw(raw) => *raw,
            // Protocol layers read only message events this way.
            EventData::Message(_) => None,
        }
    }
}

impl<'a> From<Option<&'a RawValue>> for EventData<'a> {
    fn from(raw: Option<&'a RawValue>) -> Self {
        EventData::Raw(raw)
    }
}

/// Equal when the same JSON text (or the same fields) would reach the router.
impl PartialEq for EventData<'_> {
    fn eq(&self, other: &Self) -> bool {
        fn text<'a>(r: &Option<&'a RawValue>) -> Option<&'a str> {
            r.map(RawValue::get)
        }
        match (self, other) {
            (EventData::Raw(a), EventData::Raw(b)) => text(a) == text(b),
            (EventData::Message(a), EventData::Message(b)) => {
                a.well_formed == b.well_formed
                    && a.room_id == b.room_id
                    && a.user_id == b.user_id
                    && a.agent_id == b.agent_id
                    && text(&a.message_input) == text(&b.message_input)
            }
            _ => false,
        }
    }
}

impl Eq for EventData<'_> {}

/// `{roomId?, userId?, agentId?, messageInput}`; other keys are ignored.
#[derive(Debug, Clone, Default)]
pub struct MessageData<'a> {
    /// An object with no known key twice; when false the rest is meaningless.
    pub well_formed: bool,
    pub room_id: Option<IdRef<'a>>,
    pub user_id: Option<IdRef<'a>>,
    pub agent_id: Option<IdRef<'a>>,
    /// None when absent or null.
    pub message_input: Option<&'a RawValue>,
    /// Binary attachments (Socket.IO BINARY_EVENT): `messageInput` refers to attachment `i`
    /// as `{"_placeholder":true,"num":i}`. Never set from JSON; the transport adds them.
    pub attachments: Option<Attachments>,
}

/// The binary attachments of a message, relayed as they came (cheap to clone).
pub type Attachments = std::rc::Rc<[bytes::Bytes]>;

/// Whether an event's data is read as `MessageData` (by wire name).
pub fn is_message_event(name: &str) -> bool {
    name == "userMessage" || name == "agentMessage"
}

enum Key {
    RoomId,
    UserId,
    AgentId,
    MessageInput,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "roomId" => Key::RoomId,
                    "userId" => Key::UserId,
                    "agentId" => Key::AgentId,
                    "messageInput" => Key::MessageInput,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for MessageData<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        /// Any value that is not an object: malformed, but still valid JSON.
        fn not_object<'a, E>() -> Result<MessageData<'a>, E> {
            Ok(MessageData::default())
        }
        impl<'de> Visitor<'de> for V {
            type Value = MessageData<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut m = MessageData {
                    well_formed: true,
                    ..MessageData::default()
                };
                // Known keys may appear once; a repeat makes the payload malformed.
                let mut seen = [false; 4];
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::RoomId => 0,
                        Key::UserId => 1,
                        Key::AgentId => 2,
                        Key::MessageInput => 3,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if std::mem::replace(&mut seen[slot], true) {
                        m.well_formed = false;
                    }
                    match key {
                        Key::RoomId => m.room_id = map.next_value()?,
                        Key::UserId => m.user_id = map.next_value()?,
                        Key::AgentId => m.agent_id = map.next_value()?,
                        _ => m.message_input = map.next_value()?,
                    }
                }
                Ok(m)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                not_object()
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                not_object()
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                not_object()
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                not_object()
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                not_object()
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                not_object()
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                not_object()
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                not_object()
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
