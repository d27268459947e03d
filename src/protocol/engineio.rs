//! Engine.IO protocol v4 codec, sans-IO: packets (`<type digit><data>`), polling payloads
//! (packets joined by the record separator `\x1e`), the handshake query and the server's
//! HTTP error answers. It exists so the transport code never touches wire syntax.
//! Invariant: decoding never allocates and borrows from the input; encoders only append
//! to the caller's buffer and always produce valid UTF-8; a binary packet (`b<base64>` in a
//! polling payload) is told apart by [`decode_packet`] with [`EioError::Binary`] and decoded
//! by [`decode_binary`].
use std::borrow::Cow;
use std::fmt;

/// The record separator between packets of a polling payload.
pub const SEPARATOR: char = '\x1e';

/// A growable output buffer the encoders append to (`String` or `Vec<u8>`).
pub trait Sink {
    /// Appends `s` to the buffer.
    fn put(&mut self, s: &str);
    /// Appends one ASCII byte to the buffer.
    fn put_ascii(&mut self, b: u8);
}

impl Sink for String {
    #[inline]
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
    #[inline]
    fn put_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push(b as char);
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    #[inline]
    fn put_ascii(&mut self, b: u8) {
        self.push(b);
    }
}

/// Engine.IO packet types (the leading digit of a packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    Open = 0,
    Close = 1,
    Ping = 2,
    Pong = 3,
    Message = 4,
    Upgrade = 5,
    Noop = 6,
}

impl PacketType {
    /// The packet type for a leading byte, if it is one of `0`..=`6`.
    pub fn from_byte(b: u8) -> Option<PacketType> {
        Some(match b {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }

    /// The ASCII digit of this type.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// A decoded text packet; `data` borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub kind: PacketType,
    pub data: &'a str,
}

/// Why a packet or payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EioError {
    /// An empty packet (or an empty record in a payload).
    Empty,
    /// The first character is not a packet type digit.
    UnknownType,
    /// A base64 binary packet (`b...`): read it with [`decode_binary`].
    Binary,
    /// A binary packet whose base64 does not decode.
    BadBase64,
}

impl fmt::Display for EioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EioError::Empty => "empty Engine.IO packet",
            EioError::UnknownType => "unknown Engine.IO packet type",
            EioError::Binary => "binary Engine.IO packet",
            EioError::BadBase64 => "binary Engine.IO packet with invalid base64",
        })
    }
}

impl std::error::Error for EioError {}

/// Decodes one text packet, e.g. `4hello` or `2probe`.
pub fn decode_packet(s: &str) -> Result<Packet<'_>, EioError> {
    let first = *s.as_bytes().first().ok_or(EioError::Empty)?;
    if first == b'b' {
        return Err(EioError::Binary);
    }
    let kind = PacketType::from_byte(first).ok_or(EioError::UnknownType)?;
    // The first byte is ASCII, so index 1 is a char boundary.
    Ok(Packet {
        kind,
        data: &s[1..],
    })
}

/// Decodes a binary packet of a polling payload, `b<base64>`, to its bytes.
pub fn decode_binary(s: &str) -> Result<Vec<u8>, EioError> {
    use base64::Engine as _;
    let data = s.strip_prefix('b').ok_or(EioError::UnknownType)?;
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| EioError::BadBase64)
}

/// Appends a binary packet for a polling payload: `b` and the bytes in base64.
pub fn encode_binary<S: Sink + ?Sized>(out: &mut S, bytes: &[u8]) {
    use base64::Engine as _;
    out.put_ascii(b'b');
    out.put(&base64::engine::general_purpose::STANDARD.encode(bytes));
}

/// Iterates over the packets of a polling payload (records separated by `\x1e`).
pub fn payload_packets(s: &str) -> impl Iterator<Item = Result<Packet<'_>, EioError>> {
    s.split(SEPARATOR).map(decode_packet)
}

/// Appends one packet (`<digit><data>`) to `out`.
pub fn encode_packet<S: Sink + ?Sized>(out: &mut S, kind: PacketType, data: &str) {
    out.put_ascii(kind.digit());
    out.put(data);
}

/// Appends the record separator (use between already-encoded packets of a payload).
pub fn encode_separator<S: Sink + ?Sized>(out: &mut S) {
    out.put_ascii(SEPARATOR as u8);
}

/// What the server announces in its open packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenInfo<'a> {
    pub sid: &'a str,
    pub upgrades: &'a [&'a str],
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: u64,
}

/// Appends the open packet `0{"sid":..,"upgrades":[..],"pingInterval":..,"pingTimeout":..,"maxPayload":..}`.
pub fn encode_open<S: Sink + ?Sized>(out: &mut S, info: &OpenInfo<'_>) {
    out.put("0{\"sid\":");
    write_json_str(out, info.sid);
    out.put(",\"upgrades\":[");
    for (i, u) in info.upgrades.iter().enumerate() {
        if i > 0 {
            out.put_ascii(b',');
        }
        write_json_str(out, u);
    }
    out.put("],\"pingInterval\":");
    write_u64(out, info.ping_interval_ms);
    out.put(",\"pingTimeout\":");
    write_u64(out, info.ping_timeout_ms);
    out.put(",\"maxPayload\":");
    write_u64(out, info.max_payload);
    out.put_ascii(b'}');
}

/// Appends a close packet `1`.
pub fn encode_close<S: Sink + ?Sized>(out: &mut S) {
    out.put_ascii(b'1');
}

/// Appends a server ping `2`.
pub fn encode_ping<S: Sink + ?Sized>(out: &mut S) {
    out.put_ascii(b'2');
}

/// Appends a pong `3` echoing `data` (empty for heartbeats).
pub fn encode_pong<S: Sink + ?Sized>(out: &mut S, data: &str) {
    encode_packet(out, PacketType::Pong, data);
}

/// Appends the upgrade probe answer `3probe`.
pub fn encode_pong_probe<S: Sink + ?Sized>(out: &mut S) {
    out.put("3probe");
}

/// Appends a noop `6` (ends a pending poll during an upgrade).
pub fn encode_noop<S: Sink + ?Sized>(out: &mut S) {
    out.put_ascii(b'6');
}

/// Appends `s` as a JSON string literal (same escaping as serde_json).
pub fn write_json_str<S: Sink + ?Sized>(out: &mut S, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.put_ascii(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` and `i + 1` are char boundaries.
        out.put(&s[start..i]);
        if esc.is_empty() {
            out.put("\\u00");
            out.put_ascii(HEX[(b >> 4) as usize]);
            out.put_ascii(HEX[(b & 0xf) as usize]);
        } else {
            out.put(esc);
        }
        start = i + 1;
    }
    out.put(&s[start..]);
    out.put_ascii(b'"');
}

/// Appends `n` in decimal without allocating.
pub fn write_u64<S: Sink + ?Sized>(out: &mut S, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Digits only: always UTF-8, appended in one piece.
    if let Ok(digits) = std::str::from_utf8(&buf[i..]) {
        out.put(digits);
    }
}

/// The two Engine.IO transports this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Polling,
    Websocket,
}

impl Transport {
    /// The transport's name in the query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }
}

/// The Engine.IO parameters of a request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub transport: Transport,
    /// The session id; None on a handshake (first request).
    pub sid: Option<Cow<'a, str>>,
}

/// The Engine.IO server errors, as the reference server numbers and words them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// The numeric code sent in the JSON body.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The message sent in the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for Forbidden, 400 for every other code (as engine.io does).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }

    /// The JSON body `{"code":N,"message":"..."}`.
    pub fn body(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => r#"{"code":0,"message":"Transport unknown"}"#,
            ErrorCode::UnknownSid => r#"{"code":1,"message":"Session ID unknown"}"#,
            ErrorCode::BadHandshakeMethod => r#"{"code":2,"message":"Bad handshake method"}"#,
            ErrorCode::BadRequest => r#"{"code":3,"message":"Bad request"}"#,
            ErrorCode::Forbidden => r#"{"code":4,"message":"Forbidden"}"#,
            ErrorCode::UnsupportedProtocolVersion => {
                r#"{"code":5,"message":"Unsupported protocol version"}"#
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ErrorCode {}

/// The HTTP answer for an Engine.IO error: (status, JSON body); Content-Type is application/json.
pub fn error_response(code: ErrorCode) -> (u16, &'static str) {
    (code.status(), code.body())
}

/// Splits a request target into its path and query (the part after `?`, or "").
pub fn split_target(target: &str) -> (&str, &str) {
    match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    }
}

/// Parses the Engine.IO query of a request target (`/socket.io/?EIO=4&transport=..&sid=..`).
///
/// Checks in the reference server's order: an unknown or missing transport gives
/// `UnknownTransport`, then an `EIO` other than `4` gives `UnsupportedProtocolVersion`,
/// and a value that does not percent-decode to UTF-8 gives `BadRequest`.
pub fn parse_query(target: &str) -> Result<Query<'_>, ErrorCode> {
    let (_, query) = split_target(target);
    let (mut eio, mut transport, mut sid) = (None, None, None);
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "EIO" => &mut eio,
            "transport" => &mut transport,
            "sid" => &mut sid,
            _ => continue,
        };
        // The first occurrence wins.
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    let transport = match transport.map(percent_decode) {
        Some(Ok(t)) if t == "polling" => Transport::Polling,
        Some(Ok(t)) if t == "websocket" => Transport::Websocket,
        _ => return Err(ErrorCode::UnknownTransport),
    };
    match eio.map(percent_decode) {
        Some(Ok(v)) if v == "4" => {}
        _ => return Err(ErrorCode::UnsupportedProtocolVersion),
    }
    let sid = match sid {
        None | Some("") => None,
        Some(raw) => Some(percent_decode(raw).map_err(|_| ErrorCode::BadRequest)?),
    };
    Ok(Query { transport, sid })
}

/// Decodes `%XX` escapes and `+` (space) in a query component; borrows when there are none.
pub fn percent_decode(s: &str) -> Result<Cow<'_, str>, ErrorCode> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_val(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_val(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push((h << 4) | l);
                        i += 3;
                    }
                    _ => return Err(ErrorCode::BadRequest),
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| ErrorCode::BadRequest)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[path = "engineio_tests.rs"]
mod tests;
