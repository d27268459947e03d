//! HTTP requests on a connection: reading the head and the body (Content-Length or
//! chunked, bounded by max_payload_bytes), deciding what the request gets (a WebSocket, an
//! Engine.IO answer, an error), and replying with keep-alive honoured both ways (RFC 9112
//! §9.3, §9.6). Invariant: a reply says `Connection: close` exactly when the connection will
//! be closed after it, and a request is answered once.
use super::conn::{BodyRead, Framing, Phase};
use super::http::{self, ChunkStatus, Head, Parsed};
use super::server::Server;
use crate::metrics::RejectReason;
use log::{debug, info};
use std::io::{self, Read};
use std::time::Instant;

/// Reads of 4 KiB one request body gets before other connections get a turn.
const BODY_READ_BUDGET: usize = 64;

/// Native WebSocket endpoint path.
pub const NATIVE_PATH: &str = "/ws";
/// The echo endpoint of a build with the `autobahn-echo` feature (test builds only).
pub const ECHO_PATH: &str = "/autobahn-echo";
/// Socket.IO mount path (socket.io-client's default `path`).
pub const SOCKETIO_PATH: &str = "/socket.io/";

/// How the connection continues after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeepAlive {
    /// The client wants the connection kept (HTTP/1.1 default, HTTP/1.0 with keep-alive).
    pub keep: bool,
    /// HTTP/1.0: a kept connection must say `Connection: keep-alive`.
    pub http10: bool,
}

impl KeepAlive {
    /// What the request head asks for.
    pub fn of(head: &Head) -> KeepAlive {
        KeepAlive {
            keep: head.keep_alive(),
            http10: head.version == 0,
        }
    }

    /// A complete response with `headers` and `body` that says how the connection goes on.
    pub fn response(self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        if self.keep && self.http10 {
            let mut hs = headers.to_vec();
            hs.push(("Connection", "keep-alive"));
            return http::response(status, &hs, body, false);
        }
        http::response(status, headers, body, !self.keep)
    }
}

impl Server {
    /// Reads and parses a request head; a complete one is routed.
    pub(super) fn read_head(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Head { stream, buf } = &mut conn.phase else {
            return;
        };
        let mut chunk = [0u8; 2048];
        // A pipelined request may already be complete in the carried bytes.
        let carried = match buf.is_empty() {
            true => Parsed::Partial,
            false => http::parse_head(buf),
        };
        let parsed = loop {
            if !matches!(carried, Parsed::Partial) {
                break carried;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return self.conns.kill(token),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    match http::parse_head(buf) {
                        Parsed::Partial => continue,
                        done => break done,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.conns.kill(token),
            }
        };
        match parsed {
            Parsed::Complete(head) => self.route_request(now, token, head),
            _ => {
                self.metrics.connection_rejected(RejectReason::BadRequest);
                self.reply_close(token, http::error_response(400, "bad request\n"))
            }
        }
    }

    /// Starts reading a POST body of `length`; a body over `max` gets 413 and Err.
    pub(super) fn start_body(
        &mut self,
        now: Instant,
        token: usize,
        head: Head,
        max: usize,
    ) -> Result<(), u16> {
        let body = match head.body_length() {
            http::BodyLength::Fixed(n) if n > max => return Err(413),
            http::BodyLength::Fixed(n) => BodyRead::Fixed { end: head.len + n },
            http::BodyLength::Chunked => BodyRead::Chunked(http::Chunked::default()),
            http::BodyLength::Missing | http::BodyLength::Invalid => return Err(400),
        };
        if let Some(conn) = self.conns.get_mut(token) {
            conn.start_body(head, body);
        }
        // The body has `message_timeout_ms` from its start (the head's deadline is done).
        self.set_deadline(token, now + self.config.limits.message_timeout);
        self.read_body(now, token);
        Ok(())
    }

    /// Reads a request body until complete, then hands it to the Engine.IO layer; what a
    /// body still being read holds counts toward `max_inbound_buffer_bytes`.
    pub(super) fn read_body(&mut self, now: Instant, token: usize) {
        self.read_body_bytes(now, token);
        let held = match self.conns.get(token).map(|c| &c.phase) {
            Some(Phase::Body {
                buf, head, body, ..
            }) => {
                let decoded = match body {
                    BodyRead::Chunked(c) => c.body.len(),
                    BodyRead::Fixed { .. } => 0,
                };
                buf.len().saturating_sub(head.len) + decoded
            }
            _ => 0,
        };
        self.inbound_counted(now, token, held);
    }

    fn read_body_bytes(&mut self, now: Instant, token: usize) {
        let max = self.config.socketio.max_payload_bytes;
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Body {
            stream,
            buf,
            body,
            head,
        } = &mut conn.phase
        else {
            return;
        };
        let mut chunk = [0u8; 4096];
        let mut reads = 0;
        let end = loop {
            let status = match body {
                BodyRead::Fixed { end } if buf.len() >= *end => break *end,
                BodyRead::Fixed { .. } => ChunkStatus::Partial,
                BodyRead::Chunked(c) => {
                    let status = c.feed(buf.get(head.len..).unwrap_or_default(), max);
                    if status == ChunkStatus::Partial {
                        // Keep only what is not decoded yet.
                        let done = c.consumed();
                        buf.drain(head.len..head.len + done);
                    }
                    status
                }
            };
            match status {
                ChunkStatus::Complete(n) => break head.len + n,
                ChunkStatus::Partial => {}
                ChunkStatus::Invalid | ChunkStatus::TooLarge => {
                    let code = match status {
                        ChunkStatus::TooLarge => 413,
                        _ => 400,
                    };
                    let head = head.clone();
                    return self.body_refused(now, token, &head, code);
                }
            }
            if reads == BODY_READ_BUDGET {
                // Other connections get their turn; this one is read again this turn.
                return self.conns.read_again(token);
            }
            reads += 1;
            match stream.read(&mut chunk) {
                Ok(0) => return self.conns.kill(token),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.conns.kill(token),
            }
        };
        let (head, payload) = match &mut conn.phase {
            Phase::Body {
                head,
                buf,
                body: BodyRead::Fixed { .. },
                ..
            } => (
                head.clone(),
                buf.get(head.len..end).unwrap_or_default().to_vec(),
            ),
            Phase::Body {
                head,
                body: BodyRead::Chunked(c),
                ..
            } => (head.clone(), std::mem::take(&mut c.body)),
            _ => return,
        };
        self.finish_post(now, token, head, &payload, end);
    }

    /// Decides what a complete request head gets.
    fn route_request(&mut self, now: Instant, token: usize, head: Head) {
        if !self.admit_request(token, &head) {
            return;
        }
        if let Some(origin) = head.header("origin") {
            if !self.config.cors.allows(origin) {
                debug!("refused origin {origin:?}");
                if let Some(n) = self.cors_refusals.note(now, 1) {
                    info!(
                        "refused a browser connection from origin {origin:?} (HTTP 403; {n} \
                         refused since the last such line): to allow it, add it to \
                         server.cors_origins"
                    );
                }
                self.metrics.connection_rejected(RejectReason::Origin);
                return self.reply_close(token, http::error_response(403, "origin not allowed\n"));
            }
        }
        match head.path() {
            SOCKETIO_PATH | "/socket.io" => self.engine_request(now, token, head),
            ECHO_PATH if cfg!(feature = "autobahn-echo") => match head.websocket_key() {
                Some(key) => {
                    let key = key.to_owned();
                    self.upgrade(token, &head, &key, Framing::Echo);
                }
                None => self.reply_close(token, http::error_response(400, "upgrade\n")),
            },
            NATIVE_PATH => match head.websocket_key() {
                Some(_) if !self.admit_native(token) => {}
                Some(key) => {
                    let key = key.to_owned();
                    self.upgrade(token, &head, &key, Framing::Native);
                }
                None => self.reply_close(
                    token,
                    http::response(
                        426,
                        &[("Upgrade", "websocket"), ("Content-Type", "text/plain")],
                        b"a WebSocket upgrade is required\n",
                        true,
                    ),
                ),
            },
            _ => {
                self.metrics.connection_rejected(RejectReason::Path);
                self.reply_close(token, http::error_response(404, "not found\n"))
            }
        }
    }

    /// Sends a final HTTP response (it says `Connection: close`), then closes.
    pub(super) fn reply_close(&mut self, token: usize, response: Vec<u8>) {
        self.reply(token, &response, None);
    }

    /// Sends a response built by `keep.response`; then reads the next request from byte
    /// `next` of what was read (pipelining), or closes if the client did not ask to keep.
    pub(super) fn reply_keep(
        &mut self,
        token: usize,
        response: &[u8],
        keep: KeepAlive,
        next: usize,
    ) {
        self.reply(token, response, keep.keep.then_some(next));
    }

    /// Queues `response` and sets the deadline for writing it.
    fn reply(&mut self, token: usize, response: &[u8], keep_from: Option<usize>) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.respond(response, keep_from) {
            self.conns.mark_dirty(token);
            let at = self.now + self.config.limits.handshake_timeout;
            self.set_deadline(token, at);
        }
    }
}
