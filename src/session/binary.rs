//! A Socket.IO BINARY_EVENT being put back together: its header packet, then its attachments
//! one by one. It exists so the session's state machine stays about packets, not bytes.
//! Invariants: attachments held never exceed the byte limit given at the start; a finished
//! event's placeholders all name an attachment that exists (`num` an integer below the
//! count), so no receiver's parser can fail on what is relayed.
use serde_json::Value;
use std::time::Instant;

/// A BINARY_EVENT put back together: its Socket.IO packet (placeholders in the data, as
/// `{"_placeholder":true,"num":i}`) and attachment `i` at index `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryEvent {
    /// The Socket.IO packet text (`51-["name",...]`), to decode with `socketio::decode`.
    pub packet: String,
    pub attachments: Vec<Vec<u8>>,
}

/// A binary packet whose attachments are still arriving.
#[derive(Debug)]
pub(super) struct PendingBinary {
    event: BinaryEvent,
    need: usize,
    bytes: usize,
    limit: usize,
    /// The attachments must all have come by then.
    pub deadline: Instant,
}

/// What one more attachment amounts to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// More are due.
    More,
    /// All have come and the placeholders are sound.
    Done(BinaryEvent),
    /// Over the byte limit.
    TooLarge,
    /// A placeholder names no attachment (or is not an integer index).
    BadPlaceholders,
}

impl PendingBinary {
    /// Starts reading the `need` attachments of `packet`, at most `limit` bytes in all.
    pub fn start(packet: &str, need: usize, limit: usize, deadline: Instant) -> Option<Self> {
        (packet.len() <= limit).then(|| PendingBinary {
            event: BinaryEvent {
                packet: packet.to_owned(),
                attachments: Vec::with_capacity(need.min(16)),
            },
            need,
            bytes: packet.len(),
            limit,
            deadline,
        })
    }

    /// Takes the next attachment.
    pub fn push(&mut self, bytes: Vec<u8>) -> Step {
        self.bytes += bytes.len();
        if self.bytes > self.limit {
            return Step::TooLarge;
        }
        self.event.attachments.push(bytes);
        if self.event.attachments.len() < self.need {
            return Step::More;
        }
        let event = std::mem::replace(
            &mut self.event,
            BinaryEvent {
                packet: String::new(),
                attachments: Vec::new(),
            },
        );
        match placeholders_valid(&event.packet, event.attachments.len()) {
            true => Step::Done(event),
            false => Step::BadPlaceholders,
        }
    }
}

/// Whether every `{"_placeholder":true,...}` object in the JSON of a binary packet has an
/// integer `num` below `count` (what socket.io-parser requires before it rebuilds one).
pub fn placeholders_valid(packet: &str, count: usize) -> bool {
    let Some(start) = packet.find('[') else {
        return false;
    };
    let Ok(value) = serde_json::from_str::<Value>(&packet[start..]) else {
        return false;
    };
    fn walk(v: &Value, count: usize) -> bool {
        match v {
            Value::Array(items) => items.iter().all(|i| walk(i, count)),
            Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => map
                .get("num")
                .and_then(Value::as_u64)
                .is_some_and(|n| n < count as u64),
            Value::Object(map) => map.values().all(|i| walk(i, count)),
            _ => true,
        }
    }
    walk(&value, count)
}
