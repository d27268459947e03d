//! Socket.IO protocol v5 codec, sans-IO: `<type>[<namespace>,][<ack id>][<JSON>]` carried
//! in Engine.IO message packets. It exists so the session code deals in typed packets.
//! Invariant: decoding borrows from the input (JSON stays raw) and refuses anything the
//! reference parser would refuse, so the caller can close the connection on any `Err`;
//! a binary packet (`5N-`/`6N-`) decodes like its plain kind with its attachment count; the
//! attachments travel as separate Engine.IO packets. Decoders take the Engine.IO message
//! data (without its leading `4`); encoders append whole Engine.IO message packets
//! (`42[...]`, with the `4`) to the caller's buffer, ready to send or to join in a payload.
use super::engineio::{write_json_str, write_u64, Sink};
use crate::routing::{is_message_event, EventData, MessageData, ServerEvent};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Digits of an attachment count accepted (up to 9,999 attachments; each must also fit
/// within max_payload_bytes in all).
const MAX_ATTACHMENT_DIGITS: usize = 4;

/// Event names a client may not emit (the reference parser refuses them).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Socket.IO packet types (the leading digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl PacketType {
    /// The packet type for a leading byte, if it is one of `0`..=`6`.
    pub fn from_byte(b: u8) -> Option<PacketType> {
        Some(match b {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }
}

/// A decoded packet; everything borrows from the input except an escaped event name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The namespace, "/" when absent.
    pub namespace: &'a str,
    /// The acknowledgement id, if the sender wants an answer.
    pub ack_id: Option<u64>,
    /// Binary attachments that follow this packet (BINARY_EVENT, BINARY_ACK), else 0.
    pub attachments: usize,
    pub body: Body<'a>,
}

/// The type-specific part of a packet.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    /// CONNECT with the optional auth object.
    Connect { auth: Option<&'a RawValue> },
    /// DISCONNECT (no payload).
    Disconnect,
    /// EVENT: its name and first argument (None when it has none; further ones are dropped).
    Event {
        name: Cow<'a, str>,
        data: EventData<'a>,
    },
    /// ACK: the array of answer arguments.
    Ack { args: &'a RawValue },
    /// CONNECT_ERROR: a string or an object.
    ConnectError { data: &'a RawValue },
}

impl PartialEq for Body<'_> {
    fn eq(&self, other: &Self) -> bool {
        fn raw(r: Option<&RawValue>) -> Option<&str> {
            r.map(RawValue::get)
        }
        match (self, other) {
            (Body::Connect { auth: a }, Body::Connect { auth: b }) => raw(*a) == raw(*b),
            (Body::Disconnect, Body::Disconnect) => true,
            (Body::Event { name: n, data: a }, Body::Event { name: m, data: b }) => {
                n == m && a == b
            }
            (Body::Ack { args: a }, Body::Ack { args: b }) => a.get() == b.get(),
            (Body::ConnectError { data: a }, Body::ConnectError { data: b }) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Eq for Body<'_> {}

impl Packet<'_> {
    /// The packet's type.
    pub fn kind(&self) -> PacketType {
        match self.body {
            Body::Connect { .. } => PacketType::Connect,
            Body::Disconnect => PacketType::Disconnect,
            Body::Event { .. } => PacketType::Event,
            Body::Ack { .. } => PacketType::Ack,
            Body::ConnectError { .. } => PacketType::ConnectError,
        }
    }
}

/// Why a packet was refused; every variant means "close the connection".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioError {
    /// Nothing after the Engine.IO type.
    Empty,
    /// The first character is not a packet type digit.
    UnknownType,
    /// BINARY_EVENT or BINARY_ACK without a valid `N-` attachment count.
    BadAttachments,
    /// The acknowledgement id does not fit in a u64.
    AckIdOverflow,
    /// The payload is not valid JSON.
    BadJson,
    /// The packet type needs a payload and has none.
    MissingPayload,
    /// DISCONNECT carried a payload.
    UnexpectedPayload,
    /// CONNECT auth (or CONNECT_ERROR data) is not an object.
    NotObject,
    /// EVENT or ACK payload is not an array.
    NotArray,
    /// EVENT array is empty or its first element is not a string.
    BadEventName,
    /// EVENT name is one of [`RESERVED_EVENTS`].
    ReservedEventName,
}

impl fmt::Display for SioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SioError::Empty => "empty Socket.IO packet",
            SioError::UnknownType => "unknown Socket.IO packet type",
            SioError::BadAttachments => "binary packet without a valid attachment count",
            SioError::AckIdOverflow => "acknowledgement id is too large",
            SioError::BadJson => "payload is not valid JSON",
            SioError::MissingPayload => "payload is missing",
            SioError::UnexpectedPayload => "DISCONNECT takes no payload",
            SioError::NotObject => "payload must be a JSON object",
            SioError::NotArray => "payload must be a JSON array",
            SioError::BadEventName => "event name must be a string as first array element",
            SioError::ReservedEventName => "event name is reserved",
        })
    }
}

impl std::error::Error for SioError {}

/// Decodes one Socket.IO packet: the data of an Engine.IO message packet (after the `4`).
pub fn decode(s: &str) -> Result<Packet<'_>, SioError> {
    let bytes = s.as_bytes();
    let first = *bytes.first().ok_or(SioError::Empty)?;
    let kind = PacketType::from_byte(first).ok_or(SioError::UnknownType)?;
    // All positions below sit right after an ASCII byte, so they are char boundaries.
    let mut i = 1;
    let mut attachments = 0;
    if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > MAX_ATTACHMENT_DIGITS || bytes.get(i + digits) != Some(&b'-') {
            return Err(SioError::BadAttachments);
        }
        attachments = s[i..i + digits]
            .parse()
            .map_err(|_| SioError::BadAttachments)?;
        i += digits + 1;
    }
    let namespace = if bytes.get(i) == Some(&b'/') {
        let start = i;
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        let ns = &s[start..i];
        if i < bytes.len() {
            i += 1; // the comma
        }
        ns
    } else {
        "/"
    };
    let mut ack_id = None;
    if bytes.get(i).is_some_and(u8::is_ascii_digit) {
        let mut n: u64 = 0;
        while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(SioError::AckIdOverflow)?;
            i += 1;
        }
        ack_id = Some(n);
    }
    let payload = &s[i..];
    let body = match kind {
        PacketType::Connect => Body::Connect {
            auth: match payload {
                "" => None,
                p => Some(raw_of(p, b'{', SioError::NotObject)?),
            },
        },
        PacketType::Disconnect if payload.is_empty() => Body::Disconnect,
        PacketType::Disconnect => return Err(SioError::UnexpectedPayload),
        PacketType::Event | PacketType::BinaryEvent => decode_event(payload)?,
        PacketType::Ack | PacketType::BinaryAck => Body::Ack {
            args: raw_of(nonempty(payload)?, b'[', SioError::NotArray)?,
        },
        PacketType::ConnectError => {
            let raw = raw_of(nonempty(payload)?, b'{', SioError::NotObject);
            Body::ConnectError {
                data: match raw {
                    Err(SioError::NotObject) => raw_of(payload, b'"', SioError::NotObject)?,
                    other => other?,
                },
            }
        }
    };
    Ok(Packet {
        namespace,
        ack_id,
        attachments,
        body,
    })
}

fn nonempty(payload: &str) -> Result<&str, SioError> {
    if payload.is_empty() {
        Err(SioError::MissingPayload)
    } else {
        Ok(payload)
    }
}

/// Parses `p` as one JSON value whose first byte must be `open`.
fn raw_of(p: &str, open: u8, wrong: SioError) -> Result<&RawValue, SioError> {
    let raw: &RawValue = serde_json::from_str(p).map_err(|_| SioError::BadJson)?;
    if raw.get().as_bytes().first() == Some(&open) {
        Ok(raw)
    } else {
        Err(wrong)
    }
}

/// The first two elements of an event array, the rest skipped (but still validated). The
/// data of a message event (named without escapes) is read as `MessageData` in this pass.
struct EventArgs<'a> {
    name: Option<&'a RawValue>,
    first: Option<EventData<'a>>,
}

/// Reads an event array; `one_pass` reads message data as `MessageData`, else it stays raw.
struct EventArgsSeed {
    one_pass: bool,
}

impl<'de> DeserializeSeed<'de> for EventArgsSeed {
    type Value = EventArgs<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<EventArgs<'de>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventArgsSeed {
    type Value = EventArgs<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name = seq.next_element::<&RawValue>()?;
        // A name without escapes is its JSON text between the quotes.
        fn plain(raw: &RawValue) -> Option<&str> {
            raw.get().strip_prefix('"')?.strip_suffix('"')
        }
        let first = match name {
            Some(n) if self.one_pass && plain(n).is_some_and(is_message_event) => {
                seq.next_element::<MessageData>()?.map(EventData::Message)
            }
            Some(_) => seq
                .next_element::<&RawValue>()?
                .map(|raw| EventData::Raw(Some(raw))),
            None => None,
        };
        if first.is_some() {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(EventArgs { name, first })
    }
}

fn decode_event(payload: &str) -> Result<Body<'_>, SioError> {
    let payload = nonempty(payload)?;
    let args =
        super::parse_one_pass(payload, |one_pass| EventArgsSeed { one_pass }).map_err(|e| {
            if e.is_data() {
                SioError::NotArray
            } else {
                SioError::BadJson
            }
        })?;
    let raw_name = args.name.ok_or(SioError::BadEventName)?.get();
    if !raw_name.starts_with('"') {
        return Err(SioError::BadEventName);
    }
    let name = if raw_name.contains('\\') {
        Cow::Owned(serde_json::from_str::<String>(raw_name).map_err(|_| SioError::BadJson)?)
    } else {
        // A JSON string without escapes: its content sits between the quotes.
        Cow::Borrowed(&raw_name[1..raw_name.len() - 1])
    };
    if RESERVED_EVENTS.contains(&&*name) {
        return Err(SioError::ReservedEventName);
    }
    Ok(Body::Event {
        name,
        data: args.first.unwrap_or(EventData::Raw(None)),
    })
}

/// Appends `40{"sid":SID}`, or `40{"sid":SID,"pid":PID}` with connection state recovery:
/// the CONNECT answer for namespace "/".
pub fn encode_connect_ok<S: Sink + ?Sized>(out: &mut S, sid: &str, pid: Option<&str>) {
    out.put("40{\"sid\":");
    write_json_str(out, sid);
    if let Some(pid) = pid {
        out.put(",\"pid\":");
        write_json_str(out, pid);
    }
    out.put_ascii(b'}');
}

/// Appends `44[NS,]{"message":MESSAGE}` (the namespace is omitted for "/").
pub fn encode_connect_error<S: Sink + ?Sized>(out: &mut S, namespace: &str, message: &str) {
    out.put("44");
    write_namespace(out, namespace);
    out.put("{\"message\":");
    write_json_str(out, message);
    out.put_ascii(b'}');
}

/// Appends `42["NAME",DATA]` for a server event (the twin of `native::encode`), or
/// `42["NAME",DATA,"OFFSET"]` with the offset connection state recovery reads.
pub fn encode(event: &ServerEvent, offset: Option<u64>, out: &mut Vec<u8>) {
    begin_event(out, event.name());
    event.write_data(out);
    write_offset(out, offset);
    end_packet(out);
}

/// Appends a BINARY_EVENT header packet `45N-["NAME",DATA]` (with `,"OFFSET"` as `encode`)
/// for an event whose data holds `attachments` placeholders; the attachments follow as
/// Engine.IO binary packets.
pub fn encode_binary(
    event: &ServerEvent,
    attachments: usize,
    offset: Option<u64>,
    out: &mut Vec<u8>,
) {
    out.put("45");
    write_u64(out, attachments as u64);
    out.put("-[");
    write_json_str(out, event.name());
    out.put_ascii(b',');
    event.write_data(out);
    write_offset(out, offset);
    end_packet(out);
}

/// Appends `,"OFFSET"`: the offset as the event's last argument, a string.
fn write_offset(out: &mut Vec<u8>, offset: Option<u64>) {
    if let Some(o) = offset {
        out.extend_from_slice(b",\"");
        write_u64(out, o);
        out.push(b'"');
    }
}

/// Appends `42["NAME",` so the caller can write the data JSON in place; finish with [`end_packet`].
pub fn begin_event<S: Sink + ?Sized>(out: &mut S, name: &str) {
    out.put("42[");
    write_json_str(out, name);
    out.put_ascii(b',');
}

/// Appends the `]` that closes a packet begun with [`begin_event`] or [`begin_ack`].
pub fn end_packet<S: Sink + ?Sized>(out: &mut S) {
    out.put_ascii(b']');
}

/// Appends `43ID` and `args_json`, which must be a serialized JSON array (e.g. `[{"ok":true}]`).
pub fn encode_ack<S: Sink + ?Sized>(out: &mut S, id: u64, args_json: &str) {
    out.put("43");
    write_u64(out, id);
    out.put(args_json);
}

/// Appends `43ID[` so the caller can write one or more answer values; finish with [`end_packet`].
pub fn begin_ack<S: Sink + ?Sized>(out: &mut S, id: u64) {
    out.put("43");
    write_u64(out, id);
    out.put_ascii(b'[');
}

fn write_namespace<S: Sink + ?Sized>(out: &mut S, namespace: &str) {
    if namespace != "/" {
        out.put(namespace);
        out.put_ascii(b',');
    }
}

#[cfg(test)]
#[path = "socketio_tests.rs"]
mod tests;
