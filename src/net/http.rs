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

    /// The query string after `?`, if any.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
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
