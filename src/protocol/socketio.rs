//! Socket.IO protocol v5 codec, sans-IO: `<type>[<namespace>,][<ack id>][<JSON>]` carried
//! in Engine.IO message packets. It exists so the session code deals in typed packets.
//! Invariant: decoding borrows from the input (JSON stays raw) and refuses anything the
//! reference parser would refuse, so the caller can close the connection on any `Err`;
//! binary packets are refused with [`SioError::Binary`]. Decoders take the Engine.IO message
//! data (without its leading `4`); encoders append whole Engine.IO message packets
//! (`42[...]`, with the `4`) to the caller's buffer, ready to send or to join in a payload.
use super::engineio::{write_json_str, write_u64, Sink};
use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

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
        data: Option<&'a RawValue>,
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
                n == m && raw(*a) == raw(*b)
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
    /// BINARY_EVENT or BINARY_ACK: not supported by this server.
    Binary,
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
            SioError::Binary => "binary Socket.IO packets are not supported",
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
    if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
        return Err(SioError::Binary);
    }
    // All positions below sit right after an ASCII byte, so they are char boundaries.
    let mut i = 1;
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
        PacketType::Event => decode_event(payload)?,
        PacketType::Ack => Body::Ack {
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
        PacketType::BinaryEvent | PacketType::BinaryAck => return Err(SioError::Binary),
    };
    Ok(Packet {
        namespace,
        ack_id,
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

/// The first two elements of an event array, the rest skipped (but still validated).
struct EventArgs<'a> {
    name: Option<&'a RawValue>,
    first: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for EventArgs<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventArgs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let name = seq.next_element::<&RawValue>()?;
                let first = match name {
                    Some(_) => seq.next_element::<&RawValue>()?,
                    None => None,
                };
                if first.is_some() {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                }
                Ok(EventArgs { name, first })
            }
        }
        d.deserialize_seq(V)
    }
}

fn decode_event(payload: &str) -> Result<Body<'_>, SioError> {
    let args: EventArgs = serde_json::from_str(nonempty(payload)?).map_err(|e| {
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
        data: args.first,
    })
}

/// Appends `40{"sid":SID}`: the CONNECT answer for namespace "/".
pub fn encode_connect_ok<S: Sink + ?Sized>(out: &mut S, sid: &str) {
    out.put("40{\"sid\":");
    write_json_str(out, sid);
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

/// Appends `41[NS,]`: the server ends the namespace session (the client does not reconnect).
pub fn encode_disconnect<S: Sink + ?Sized>(out: &mut S, namespace: &str) {
    out.put("41");
    write_namespace(out, namespace);
}

/// Appends `42["NAME",DATA]`; `data_json` must already be serialized JSON.
pub fn encode_event<S: Sink + ?Sized>(out: &mut S, name: &str, data_json: &str) {
    begin_event(out, name);
    out.put(data_json);
    end_packet(out);
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
mod tests {
    use super::*;

    fn ev(p: &Packet<'_>) -> (Cow<'static, str>, Option<String>) {
        match &p.body {
            Body::Event { name, data } => (
                Cow::Owned(name.to_string()),
                data.map(|d| d.get().to_string()),
            ),
            other => panic!("not an event: {other:?}"),
        }
    }

    fn err(s: &str) -> SioError {
        decode(s).unwrap_err()
    }

    #[test]
    fn spec_connect_examples() {
        // "0" (main namespace), "0/admin," and with auth.
        let p = decode("0").unwrap();
        assert_eq!(p.namespace, "/");
        assert_eq!(p.ack_id, None);
        assert_eq!(p.body, Body::Connect { auth: None });
        assert_eq!(p.kind(), PacketType::Connect);
        let p = decode("0/admin,").unwrap();
        assert_eq!(p.namespace, "/admin");
        assert_eq!(p.body, Body::Connect { auth: None });
        let p = decode(r#"0/admin,{"token":"123"}"#).unwrap();
        assert_eq!(p.namespace, "/admin");
        match p.body {
            Body::Connect { auth: Some(a) } => assert_eq!(a.get(), r#"{"token":"123"}"#),
            other => panic!("{other:?}"),
        }
        let p = decode(r#"0{"token":"123"}"#).unwrap();
        assert_eq!(p.namespace, "/");
        assert!(matches!(p.body, Body::Connect { auth: Some(_) }));
    }

    #[test]
    fn spec_event_examples() {
        let p = decode(r#"2["foo"]"#).unwrap();
        assert_eq!(p.namespace, "/");
        let (name, data) = ev(&p);
        assert_eq!((name.as_ref(), data), ("foo", None));
        let p = decode(r#"2/admin,["bar"]"#).unwrap();
        assert_eq!(p.namespace, "/admin");
        assert_eq!(ev(&p).0, "bar");
        let p = decode(r#"212["foo"]"#).unwrap();
        assert_eq!(p.ack_id, Some(12));
        assert_eq!(ev(&p).0, "foo");
        let p = decode(r#"2/admin,13["bar"]"#).unwrap();
        assert_eq!((p.namespace, p.ack_id), ("/admin", Some(13)));
        let p = decode(r#"2["hello",1]"#).unwrap();
        assert_eq!(ev(&p).1.as_deref(), Some("1"));
    }

    #[test]
    fn spec_ack_and_other_examples() {
        let p = decode(r#"312["bar"]"#).unwrap();
        assert_eq!(p.ack_id, Some(12));
        match p.body {
            Body::Ack { args } => assert_eq!(args.get(), r#"["bar"]"#),
            other => panic!("{other:?}"),
        }
        let p = decode(r#"3/admin,13["bar"]"#).unwrap();
        assert_eq!(
            (p.namespace, p.ack_id, p.kind()),
            ("/admin", Some(13), PacketType::Ack)
        );
        let p = decode("1/admin,").unwrap();
        assert_eq!((p.namespace, p.body), ("/admin", Body::Disconnect));
        let p = decode("1").unwrap();
        assert_eq!((p.namespace, p.body), ("/", Body::Disconnect));
        let p = decode(r#"4{"message":"Not authorized"}"#).unwrap();
        assert_eq!(p.kind(), PacketType::ConnectError);
        let p = decode(r#"4/admin,"nope""#).unwrap();
        match p.body {
            Body::ConnectError { data } => assert_eq!(data.get(), r#""nope""#),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hot_path_user_message() {
        let s = r#"2["userMessage",{"roomId":"r1","messageInput":"hi there"}]"#;
        let p = decode(s).unwrap();
        match &p.body {
            Body::Event { name, data } => {
                assert!(matches!(name, Cow::Borrowed("userMessage")));
                assert_eq!(
                    data.unwrap().get(),
                    r#"{"roomId":"r1","messageInput":"hi there"}"#
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn event_args_beyond_first_are_dropped_but_validated() {
        let p = decode(r#"2["a",{"x":1},2,[3],"four"]"#).unwrap();
        assert_eq!(ev(&p), (Cow::Borrowed("a"), Some(r#"{"x":1}"#.to_string())));
        assert_eq!(err(r#"2["a",1,tru]"#), SioError::BadJson);
        let p = decode(r#"2["a",null]"#).unwrap();
        assert_eq!(ev(&p).1.as_deref(), Some("null"));
    }

    #[test]
    fn whitespace_in_json_is_accepted() {
        let p = decode("2 [ \"a\" , {\"k\" : 1} ] ").unwrap();
        assert_eq!(
            ev(&p),
            (Cow::Borrowed("a"), Some("{\"k\" : 1}".to_string()))
        );
    }

    #[test]
    fn unicode_and_escaped_names() {
        let p = decode(r#"2["héllo😀",{"m":"€"}]"#).unwrap();
        assert_eq!(
            ev(&p),
            (Cow::Borrowed("héllo😀"), Some(r#"{"m":"€"}"#.to_string()))
        );
        let p = decode(r#"2["mu\u0074e"]"#).unwrap();
        match &p.body {
            Body::Event { name, .. } => assert!(matches!(name, Cow::Owned(n) if n == "mute")),
            other => panic!("{other:?}"),
        }
        let p = decode(r#"2["a\"b\\c\ud83d\ude00"]"#).unwrap();
        assert_eq!(ev(&p).0, "a\"b\\c😀");
        let p = decode(r#"2/ñs,["x"]"#).unwrap();
        assert_eq!(p.namespace, "/ñs");
    }

    #[test]
    fn rejects_malformed() {
        use SioError::*;
        let cases: &[(&str, SioError)] = &[
            ("", Empty),
            ("7", UnknownType),
            ("9[\"a\"]", UnknownType),
            ("x", UnknownType),
            ("é", UnknownType),
            ("[\"a\"]", UnknownType),
            ("2", MissingPayload),
            ("3", MissingPayload),
            ("312", MissingPayload),
            ("4", MissingPayload),
            ("2{\"a\":1}", NotArray),
            ("2\"foo\"", NotArray),
            ("21", MissingPayload),
            ("2 1", NotArray),
            ("2[]", BadEventName),
            ("2[1]", BadEventName),
            ("2[null,1]", BadEventName),
            ("2[[\"a\"]]", BadEventName),
            ("2[{\"a\":1}]", BadEventName),
            ("2[\"a\"", BadJson),
            ("2[\"a\"]x", BadJson),
            ("2[\"a\",]", BadJson),
            ("2['a']", BadJson),
            ("2[\"connect\"]", ReservedEventName),
            ("2[\"disconnect\",1]", ReservedEventName),
            ("2[\"removeListener\"]", ReservedEventName),
            ("3{}", NotArray),
            ("3\"x\"", NotArray),
            ("3[", BadJson),
            ("0[]", NotObject),
            ("0\"tok\"", NotObject),
            ("0{", BadJson),
            ("4[]", NotObject),
            ("41", MissingPayload),
            ("1{}", UnexpectedPayload),
            ("1/admin,x", UnexpectedPayload),
            ("5", Binary),
            ("51-[\"a\",{\"_placeholder\":true,\"num\":0}]", Binary),
            ("6", Binary),
            ("61-0[{\"_placeholder\":true,\"num\":0}]", Binary),
            // A namespace without a comma swallows the rest of the packet.
            ("2/admin[\"a\"]", MissingPayload),
            // Ack id overflow (u64::MAX + 1).
            ("218446744073709551616[\"a\"]", AckIdOverflow),
            ("399999999999999999999999[]", AckIdOverflow),
        ];
        for (s, want) in cases {
            assert_eq!(decode(s), Err(*want), "{s:?}");
        }
    }

    #[test]
    fn namespace_without_comma_at_end() {
        let p = decode("0/admin").unwrap();
        assert_eq!(
            (p.namespace, p.body),
            ("/admin", Body::Connect { auth: None })
        );
        let p = decode("1/admin").unwrap();
        assert_eq!((p.namespace, p.body), ("/admin", Body::Disconnect));
    }

    #[test]
    fn ack_id_limits() {
        let p = decode("218446744073709551615[\"a\"]").unwrap();
        assert_eq!(p.ack_id, Some(u64::MAX));
        let p = decode("2007[\"a\"]").unwrap();
        assert_eq!(p.ack_id, Some(7));
        let p = decode("10").unwrap();
        assert_eq!((p.ack_id, p.body), (Some(0), Body::Disconnect));
        let p = decode("0/x,5").unwrap();
        assert_eq!((p.namespace, p.ack_id), ("/x", Some(5)));
    }

    #[test]
    fn encodes_connect_ok_and_error() {
        let mut s = String::new();
        encode_connect_ok(&mut s, "oSO0OpakmV1sBOpYAAAB");
        assert_eq!(s, r#"40{"sid":"oSO0OpakmV1sBOpYAAAB"}"#);
        s.clear();
        encode_connect_error(&mut s, "/admin", "Invalid namespace");
        assert_eq!(s, r#"44/admin,{"message":"Invalid namespace"}"#);
        s.clear();
        encode_connect_error(&mut s, "/", "Not \"authorized\"");
        assert_eq!(s, r#"44{"message":"Not \"authorized\""}"#);
        s.clear();
        encode_disconnect(&mut s, "/");
        encode_disconnect(&mut s, "/admin");
        assert_eq!(s, "4141/admin,");
    }

    #[test]
    fn encodes_events() {
        let mut s = String::new();
        encode_event(&mut s, "getAvailableAgents", r#"{"availableAgents":2}"#);
        assert_eq!(s, r#"42["getAvailableAgents",{"availableAgents":2}]"#);
        let mut v: Vec<u8> = Vec::new();
        encode_event(&mut v, "we\"ird\n€", "null");
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "42[\"we\\\"ird\\n€\",null]"
        );
        v.clear();
        begin_event(&mut v, "userMessage");
        v.extend_from_slice(br#"{"roomId":"r1","messageInput":"x"}"#);
        end_packet(&mut v);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"42["userMessage",{"roomId":"r1","messageInput":"x"}]"#
        );
    }

    #[test]
    fn encodes_acks() {
        let mut s = String::new();
        encode_ack(&mut s, 12, r#"[{"ok":true}]"#);
        assert_eq!(s, r#"4312[{"ok":true}]"#);
        s.clear();
        begin_ack(&mut s, 0);
        s.push_str(r#"{"ok":false}"#);
        end_packet(&mut s);
        assert_eq!(s, r#"430[{"ok":false}]"#);
    }

    #[test]
    fn round_trips_through_decoder() {
        let names = ["a", "userMessage", "é😀", "q\"uote", "tab\there", "\u{1}"];
        for name in names {
            let mut s = String::new();
            encode_event(&mut s, name, r#"{"k":[1,2,{"x":"y"}]}"#);
            let p = decode(&s[1..]).unwrap();
            assert_eq!(ev(&p).0, name);
            assert_eq!(ev(&p).1.as_deref(), Some(r#"{"k":[1,2,{"x":"y"}]}"#));
        }
        let mut s = String::new();
        encode_ack(&mut s, 99, "[1]");
        let p = decode(&s[1..]).unwrap();
        assert_eq!((p.ack_id, p.kind()), (Some(99), PacketType::Ack));
        s.clear();
        encode_connect_error(&mut s, "/admin", "Invalid namespace");
        let p = decode(&s[1..]).unwrap();
        assert_eq!(
            (p.namespace, p.kind()),
            ("/admin", PacketType::ConnectError)
        );
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            SioError::Binary.to_string(),
            "binary Socket.IO packets are not supported"
        );
    }
}
