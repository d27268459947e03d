//! The HTTP/1.1 request heads the listener reads (parsed with httparse) and the responses
//! it writes: the WebSocket 101, Engine.IO polling answers, and errors.
use tungstenite::handshake::derive_accept_key;

/// Largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;

/// A parsed request head; `len` is its size in bytes, body and frames follow it.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    pub target: String,
    /// The minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<(String, Vec<u8>)>,
    pub len: usize,
}

/// What the bytes read so far amount to.
#[derive(Debug)]
pub enum Parsed {
    Partial,
    Complete(Head),
    Invalid,
}

/// Parses a request head from the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Parsed::Complete(Head {
            method: req.method.unwrap_or("").to_owned(),
            target: req.path.unwrap_or("").to_owned(),
            version: req.version.unwrap_or(1),
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                .collect(),
            len,
        }),
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => Parsed::Partial,
        _ => Parsed::Invalid,
    }
}

impl Head {
    /// The first value of a header (name in any case), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// The path without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        // Both framings at once: answer, then close (RFC 9112 §6.1).
        if self.header("transfer-encoding").is_some() && self.header("content-length").is_some() {
            return false;
        }
        match self.version {
            0 => self.header_has_token("connection", "keep-alive"),
            _ => !self.header_has_token("connection", "close"),
        }
    }

    /// How the request's body is delimited (RFC 9112 §6.3).
    pub fn body_length(&self) -> BodyLength {
        let codings = self
            .headers
            .iter()
            .filter(|(n, _)| n == "transfer-encoding")
            .count();
        if codings > 1 || (codings == 1 && self.version == 0) {
            // Several Transfer-Encoding fields, or chunked in HTTP/1.0: not delimitable safely.
            return BodyLength::Invalid;
        }
        if let Some(te) = self.header("transfer-encoding") {
            // Only `chunked` (last) is understood; anything else cannot be delimited.
            let last = te.rsplit(',').next().map(str::trim).unwrap_or("");
            return match last.eq_ignore_ascii_case("chunked") && !te.contains(',') {
                true => BodyLength::Chunked,
                false => BodyLength::Invalid,
            };
        }
        // Digits only (no sign), and every Content-Length header the same (RFC 9112 §6.3).
        let mut lengths = self
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| std::str::from_utf8(v).map(str::trim));
        let Some(first) = lengths.next() else {
            return BodyLength::Missing;
        };
        match first {
            Ok(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                if lengths.any(|other| other != Ok(v)) {
                    return BodyLength::Invalid;
                }
                v.parse::<usize>()
                    .map_or(BodyLength::Invalid, BodyLength::Fixed)
            }
            _ => BodyLength::Invalid,
        }
    }

    /// Whether a header holds `token` in its comma-separated list (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// The Sec-WebSocket-Key of a valid WebSocket upgrade request, or None.
    pub fn websocket_key(&self) -> Option<&str> {
        let ok = self.method == "GET"
            && self.header_has_token("upgrade", "websocket")
            && self.header_has_token("connection", "upgrade")
            && self.header("sec-websocket-version") == Some("13");
        ok.then(|| self.header("sec-websocket-key"))
            .flatten()
            .filter(|k| !k.is_empty())
    }
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length: N`.
    Fixed(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither header.
    Missing,
    /// A length that does not parse, or a transfer coding other than chunked.
    Invalid,
}

/// A chunked request body decoded as its bytes arrive: feed it the raw bytes not yet
/// consumed, then drop the `consumed()` ones from the front. Invariants: `body` never
/// exceeds the limit it was given, and the raw bytes of one body never exceed twice that
/// (plus a margin for framing), so chunk framing cannot cost more memory or time than the
/// body it carries.
#[derive(Debug, Default)]
pub struct Chunked {
    /// Raw bytes of the input decoded so far.
    scanned: usize,
    /// Raw bytes consumed and dropped before, over the whole body.
    dropped: usize,
    /// Decoded body so far.
    pub body: Vec<u8>,
}

/// Longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 256;
/// Raw framing allowed beyond twice the body limit.
const CHUNK_FRAMING_MARGIN: usize = 64 * 1024;

/// What a chunked body amounts to so far.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkStatus {
    /// More bytes are needed.
    Partial,
    /// Complete; the raw request bytes end at this offset (what follows is the next request).
    Complete(usize),
    /// The chunk framing is broken.
    Invalid,
    /// The decoded body would exceed the limit.
    TooLarge,
}

impl Chunked {
    /// Raw bytes decoded since the last call: the caller drops them from the front of what
    /// it feeds next.
    pub fn consumed(&mut self) -> usize {
        let n = self.scanned;
        self.dropped += n;
        self.scanned = 0;
        n
    }

    /// Decodes what it can of `raw` (the body bytes not consumed yet).
    pub fn feed(&mut self, raw: &[u8], limit: usize) -> ChunkStatus {
        if self.dropped + raw.len() > limit.saturating_mul(2) + CHUNK_FRAMING_MARGIN {
            return ChunkStatus::TooLarge;
        }
        loop {
            let rest = &raw[self.scanned.min(raw.len())..];
            let (skip, size) = match httparse::parse_chunk_size(rest) {
                Ok(httparse::Status::Complete(v)) if v.0 <= MAX_CHUNK_LINE => v,
                Ok(httparse::Status::Partial) if rest.len() < MAX_CHUNK_LINE => {
                    return ChunkStatus::Partial
                }
                _ => return ChunkStatus::Invalid,
            };
            let Ok(size) = usize::try_from(size) else {
                return ChunkStatus::TooLarge;
            };
            if size > limit.saturating_sub(self.body.len()) {
                return ChunkStatus::TooLarge;
            }
            if size == 0 {
                // The last chunk, then trailer fields (ignored) and an empty line.
                let after = &rest[skip..];
                if after.starts_with(b"\r\n") {
                    return ChunkStatus::Complete(self.scanned + skip + 2);
                }
                return match find(after, b"\r\n\r\n") {
                    Some(end) => ChunkStatus::Complete(self.scanned + skip + end + 4),
                    None if after.len() < 8192 => ChunkStatus::Partial,
                    None => ChunkStatus::Invalid,
                };
            }
            let Some(chunk) = rest.get(skip..skip + size + 2) else {
                return ChunkStatus::Partial;
            };
            if &chunk[size..] != b"\r\n" {
                return ChunkStatus::Invalid;
            }
            self.body.extend_from_slice(&chunk[..size]);
            self.scanned += skip + size + 2;
        }
    }
}

/// The offset of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The 101 Switching Protocols response for a WebSocket key.
pub fn switching_protocols(key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )
    .into_bytes()
}

/// A complete response that closes the connection.
pub fn error_response(status: u16, body: &str) -> Vec<u8> {
    response(
        status,
        &[("Content-Type", "text/plain; charset=utf-8")],
        body.as_bytes(),
        true,
    )
}

/// A complete response with the given headers and body.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8], close: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
    for (n, v) in headers {
        out.push_str(n);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The reason phrase for a status code.
fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
