//! Engine.IO v4 sessions and Socket.IO v5 on top of them, for stock socket.io-client front
//! ends. A session is one router connection (its `ConnId` comes from the token counter and is
//! never a socket's token); its carrier is HTTP long-polling or one WebSocket, and it can move
//! from polling to WebSocket once (the upgrade). Invariant: a session has at most one held
//! GET, at most one probing WebSocket, and is counted under exactly one transport.
use super::http::{self, Head};
use super::server::{Framing, Phase, Server};
use crate::metrics::{RejectReason, Transport};
use crate::protocol::engineio::{self as eio, OpenInfo, PacketType};
use crate::protocol::socketio::{self as sio, Body, SioError};
use crate::routing::{ConnId, ErrorCode, Rejection, ServerEvent};
use log::debug;
use serde::Serialize;
use std::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Utf8Bytes;

/// Socket.IO mount path (socket.io-client's default `path`).
pub const SOCKETIO_PATH: &str = "/socket.io/";
/// Methods the original's CORS settings allow.
const CORS_METHODS: &str = "GET, POST, PATCH, PUT";

/// How a session's packets travel.
pub(super) enum Carrier {
    /// HTTP long-polling: packets wait in `queue` for the next (or `held`) GET.
    Polling { queue: Vec<u8>, held: Option<usize> },
    /// One WebSocket connection.
    Ws { token: usize },
}

/// One Engine.IO session.
pub(super) struct Session {
    sid: Box<str>,
    carrier: Carrier,
    /// A WebSocket that is probing to take over from polling.
    probe: Option<usize>,
    /// The probe was answered: polls are answered at once (with a noop) until the upgrade.
    probed: bool,
    /// The Socket.IO session id, once the client has CONNECTed to "/".
    sio_sid: Option<Box<str>>,
    ping_due: Instant,
    pong_deadline: Option<Instant>,
    connect_deadline: Option<Instant>,
    timer_at: Option<Instant>,
    /// Listed in `Server::polls_ready`.
    listed: bool,
}

impl Session {
    /// The transport this session is counted under.
    fn transport(&self) -> Transport {
        match self.carrier {
            Carrier::Polling { .. } => Transport::Polling,
            Carrier::Ws { .. } => Transport::WebSocket,
        }
    }
}

/// Headers a polling or preflight response carries for an allowed browser origin.
fn cors_headers(origin: Option<&str>) -> Vec<(&'static str, String)> {
    match origin {
        Some(o) => vec![
            ("Access-Control-Allow-Origin", o.to_owned()),
            ("Access-Control-Allow-Credentials", "true".into()),
            ("Vary", "Origin".into()),
        ],
        None => Vec::new(),
    }
}

/// Session ids: 128 bits each from the OS generator, read 4 KiB at a time (one syscall per
/// 256 ids instead of one per id). Invariant: no byte of the pool is handed out twice.
pub(super) struct SidSource {
    pool: Box<[u8; SID_POOL_BYTES]>,
    used: usize,
}

/// Bytes of OS randomness fetched at once.
const SID_POOL_BYTES: usize = 4096;
/// Bytes per session id (hex-encoded to twice as many characters).
const SID_BYTES: usize = 16;

impl SidSource {
    /// An empty pool, filled on first use.
    pub(super) fn new() -> SidSource {
        SidSource {
            pool: Box::new([0; SID_POOL_BYTES]),
            used: SID_POOL_BYTES,
        }
    }

    /// A fresh unguessable session id, hex.
    pub(super) fn next(&mut self) -> Box<str> {
        if self.used + SID_BYTES > SID_POOL_BYTES {
            if getrandom::fill(&mut self.pool[..]).is_err() {
                // The OS generator does not fail on Linux after boot; never hand out a weak id.
                log::error!("OS random generator failed");
                std::process::abort();
            }
            self.used = 0;
        }
        let bytes = &self.pool[self.used..self.used + SID_BYTES];
        self.used += SID_BYTES;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(2 * SID_BYTES);
        for b in bytes {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        out.into()
    }
}

#[derive(Serialize)]
struct AckError<'a> {
    ok: bool,
    error: AckErrorBody<'a>,
}

#[derive(Serialize)]
struct AckErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl Server {
    /// Handles a complete request head for the Socket.IO path.
    pub(super) fn engine_request(&mut self, now: Instant, token: usize, head: Head) {
        let origin = head.header("origin").map(str::to_owned);
        if head.method == "OPTIONS" {
            let mut headers = cors_headers(origin.as_deref());
            headers.push(("Access-Control-Allow-Methods", CORS_METHODS.into()));
            if let Some(h) = head.header("access-control-request-headers") {
                headers.push(("Access-Control-Allow-Headers", h.to_owned()));
            }
            let resp = response(204, &headers, b"", false);
            return self.reply_keep(token, resp, &head);
        }
        let query = match eio::parse_query(&head.target) {
            Ok(q) => q,
            Err(code) => return self.engine_error(token, code, origin.as_deref()),
        };
        let sid = query.sid.as_deref().map(str::to_owned);
        match (query.transport, sid, head.method.as_str()) {
            (_, None, _) if self.sessions_full() => {
                let resp = http::error_response(503, "session limit reached\n");
                self.metrics.connection_rejected(RejectReason::Limit);
                self.reply(token, resp);
            }
            (eio::Transport::Websocket, None, "GET") => {
                let Some(key) = head.websocket_key().map(str::to_owned) else {
                    return self.engine_error(token, eio::ErrorCode::BadRequest, None);
                };
                let id = self.new_session(now, Carrier::Ws { token });
                self.upgrade(token, &head, &key, Framing::SocketIo(id));
                let open = self.open_packet(id, &[]);
                self.session_push_bytes(id, open);
            }
            (eio::Transport::Websocket, Some(sid), "GET") => {
                let Some(key) = head.websocket_key().map(str::to_owned) else {
                    return self.engine_error(token, eio::ErrorCode::BadRequest, None);
                };
                let Some(&id) = self.sids.get(sid.as_str()) else {
                    return self.engine_error(token, eio::ErrorCode::UnknownSid, None);
                };
                let Some(s) = self.sessions.get_mut(&id) else {
                    return self.engine_error(token, eio::ErrorCode::UnknownSid, None);
                };
                if !matches!(s.carrier, Carrier::Polling { .. }) || s.probe.is_some() {
                    return self.engine_error(token, eio::ErrorCode::BadRequest, None);
                }
                s.probe = Some(token);
                self.upgrade(token, &head, &key, Framing::SocketIo(id));
            }
            (eio::Transport::Polling, None, "GET") => {
                let id = self.new_session(
                    now,
                    Carrier::Polling {
                        queue: Vec::new(),
                        held: None,
                    },
                );
                let open = self.open_packet(id, &["websocket"]);
                let resp = poll_response(origin.as_deref(), &open, &head);
                self.reply_keep(token, resp, &head);
            }
            (eio::Transport::Polling, None, _) => {
                self.engine_error(token, eio::ErrorCode::BadHandshakeMethod, origin.as_deref())
            }
            (eio::Transport::Polling, Some(sid), method) => {
                let Some(&id) = self.sids.get(sid.as_str()) else {
                    return self.engine_error(token, eio::ErrorCode::UnknownSid, origin.as_deref());
                };
                match method {
                    "GET" => self.poll_get(now, token, id, head, origin),
                    "POST" => self.poll_post(now, token, id, head),
                    _ => self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref()),
                }
            }
            _ => self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref()),
        }
    }

    /// A polling GET: answer with what is queued, or hold it until something is.
    fn poll_get(
        &mut self,
        now: Instant,
        token: usize,
        id: usize,
        head: Head,
        origin: Option<String>,
    ) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let Carrier::Polling { queue, held } = &mut s.carrier else {
            return self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
        };
        if held.is_some() {
            // Two GETs at once: the client is confused; end the session (as engine.io does).
            self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
            return self.close_session(now, id, "overlapping polls");
        }
        if !queue.is_empty() || s.probed {
            let mut body = std::mem::take(queue);
            if body.is_empty() {
                // Upgrading: end this polling cycle at once so the client can switch.
                eio::encode_noop(&mut body);
            }
            let resp = poll_response(origin.as_deref(), &body, &head);
            return self.reply_keep(token, resp, &head);
        }
        *held = Some(token);
        let keep_alive = !head.header_has_token("connection", "close");
        if let Some(conn) = self.conns.get_mut(&token) {
            let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
            if let Phase::Head { stream, buf } = phase {
                let carry = buf[head.len..].to_vec();
                conn.phase = Phase::Held {
                    stream,
                    session: id,
                    origin,
                    keep_alive,
                    carry,
                };
                conn.deadline = None;
            } else {
                conn.phase = phase;
            }
        }
    }

    /// A polling POST: read the body (now or later), then handle its packets.
    fn poll_post(&mut self, now: Instant, token: usize, id: usize, head: Head) {
        let max = self.config.socketio.max_payload_bytes;
        let length = head
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        let Some(length) = length else {
            return self.engine_error(token, eio::ErrorCode::BadRequest, None);
        };
        if length > max {
            let resp = http::error_response(413, "payload too large\n");
            self.reply(token, resp);
            return self.close_session(now, id, "payload too large");
        }
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
        let Phase::Head { stream, buf } = phase else {
            conn.phase = phase;
            return;
        };
        conn.phase = Phase::Body {
            stream,
            need: head.len + length,
            head,
            buf,
        };
        self.read_body(now, token);
    }

    /// A POST body is complete: handle its packets and answer "ok".
    pub(super) fn finish_post(&mut self, now: Instant, token: usize, head: Head, body: &[u8]) {
        let origin = head.header("origin").map(str::to_owned);
        let Some(id) = eio::parse_query(&head.target)
            .ok()
            .and_then(|q| q.sid.and_then(|s| self.sids.get(s.as_ref()).copied()))
        else {
            return self.engine_error(token, eio::ErrorCode::UnknownSid, origin.as_deref());
        };
        let Ok(text) = std::str::from_utf8(body) else {
            self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
            return self.close_session(now, id, "payload is not UTF-8");
        };
        if !matches!(
            self.sessions.get(&id).map(|s| &s.carrier),
            Some(Carrier::Polling { .. })
        ) {
            return self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
        }
        let mut ok = true;
        for packet in eio::payload_packets(text) {
            match packet {
                Ok(p) => self.on_eio_packet(now, id, p),
                Err(eio::EioError::Binary) => {} // attachments of a refused binary event
                Err(_) => {
                    ok = false;
                    break;
                }
            }
            if !self.sessions.contains_key(&id) {
                break;
            }
        }
        if !ok {
            self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
            return self.close_session(now, id, "malformed payload");
        }
        let mut headers = cors_headers(origin.as_deref());
        headers.push(("Content-Type", "text/html".into()));
        let resp = response(200, &headers, b"ok", false);
        self.reply_keep(token, resp, &head);
    }

    /// One text frame on a Socket.IO WebSocket.
    pub(super) fn on_engine_text(&mut self, now: Instant, token: usize, id: usize, text: &str) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let is_carrier = matches!(s.carrier, Carrier::Ws { token: t } if t == token);
        let is_probe = s.probe == Some(token);
        match eio::decode_packet(text) {
            Ok(p) if is_carrier => self.on_eio_packet(now, id, p),
            Ok(p) if is_probe => self.on_probe_packet(now, id, token, p),
            Ok(_) => {}
            Err(_) if is_carrier => self.close_session(now, id, "malformed packet"),
            Err(_) => self.close_ws(now, token, CloseCode::Protocol, "malformed packet"),
        }
    }

    /// A packet on a WebSocket that is probing to replace polling.
    fn on_probe_packet(&mut self, now: Instant, id: usize, token: usize, p: eio::Packet<'_>) {
        match p.kind {
            PacketType::Ping if p.data == "probe" => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.probed = true;
                }
                let mut out = Vec::new();
                eio::encode_pong_probe(&mut out);
                self.write_text(token, out);
                // Let a held poll return so the client can pause polling.
                let mut noop = Vec::new();
                eio::encode_noop(&mut noop);
                self.answer_held(id, &noop);
            }
            PacketType::Upgrade => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                let old = std::mem::replace(&mut s.carrier, Carrier::Ws { token });
                s.probe = None;
                s.probed = false;
                self.metrics.connection_closed(Transport::Polling);
                self.metrics.connection_opened(Transport::WebSocket);
                debug!("session {id} upgraded to websocket");
                if let Carrier::Polling { queue, held } = old {
                    if let Some(h) = held {
                        let mut noop = Vec::new();
                        eio::encode_noop(&mut noop);
                        let _ = self.respond_held(h, noop);
                    }
                    // Queued packets go out over the WebSocket, one frame each.
                    if !queue.is_empty() {
                        let text = String::from_utf8_lossy(&queue).into_owned();
                        for packet in text.split(eio::SEPARATOR) {
                            self.write_text(token, packet.as_bytes().to_vec());
                        }
                    }
                }
            }
            PacketType::Noop => {}
            _ => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.probe = None;
                    s.probed = false;
                }
                self.close_ws(
                    now,
                    token,
                    CloseCode::Protocol,
                    "unexpected packet during upgrade",
                )
            }
        }
    }

    /// One Engine.IO packet from the session's carrier.
    fn on_eio_packet(&mut self, now: Instant, id: usize, p: eio::Packet<'_>) {
        match p.kind {
            PacketType::Pong => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.pong_deadline = None;
                }
                self.schedule_session(id);
            }
            PacketType::Ping => {
                let mut out = Vec::new();
                eio::encode_pong(&mut out, p.data);
                self.session_push_bytes(id, out);
            }
            PacketType::Message => self.on_sio(now, id, p.data),
            PacketType::Noop => {}
            PacketType::Close => self.close_session(now, id, "client closed"),
            PacketType::Open | PacketType::Upgrade => {
                self.close_session(now, id, "unexpected packet")
            }
        }
    }

    /// One Socket.IO packet.
    fn on_sio(&mut self, now: Instant, id: usize, data: &str) {
        let packet = match sio::decode(data) {
            Ok(p) => p,
            Err(SioError::Binary) => {
                let rejection = Rejection::new(
                    ErrorCode::BinaryUnsupported,
                    "binary events are not supported; send JSON",
                );
                self.metrics.error(rejection.code.as_str());
                return self.send(ConnId(id as u64), &ServerEvent::error(rejection, None));
            }
            Err(e) => {
                debug!("session {id}: {e}");
                return self.close_session(now, id, "malformed Socket.IO packet");
            }
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if packet.namespace != "/" {
            if let Body::Connect { .. } = packet.body {
                let mut out = Vec::new();
                sio::encode_connect_error(&mut out, packet.namespace, "Invalid namespace");
                self.session_push_bytes(id, out);
            }
            return;
        }
        match packet.body {
            Body::Connect { .. } => {
                if s.sio_sid.is_none() {
                    s.sio_sid = Some(self.sid_source.next());
                    s.connect_deadline = None;
                }
                let mut out = Vec::new();
                sio::encode_connect_ok(&mut out, s.sio_sid.as_deref().unwrap_or_default());
                self.session_push_bytes(id, out);
                self.schedule_session(id);
            }
            Body::Disconnect => {
                s.sio_sid = None;
                self.router.handle_disconnect(now, ConnId(id as u64));
                self.drain_router();
            }
            Body::Event { name, data } => {
                if s.sio_sid.is_none() {
                    return; // not connected to "/": ignored, as Socket.IO servers do
                }
                let result = self.route_event(now, ConnId(id as u64), &name, data);
                match (packet.ack_id, result) {
                    (Some(ack), Ok(())) => {
                        let mut out = Vec::new();
                        sio::encode_ack(&mut out, ack, "[{\"ok\":true}]");
                        self.session_push_bytes(id, out);
                    }
                    (Some(ack), Err(r)) => {
                        let mut out = Vec::new();
                        sio::begin_ack(&mut out, ack);
                        let body = AckError {
                            ok: false,
                            error: AckErrorBody {
                                code: r.code.as_str(),
                                message: &r.message,
                            },
                        };
                        let _ = serde_json::to_writer(&mut out, &body);
                        sio::end_packet(&mut out);
                        self.session_push_bytes(id, out);
                    }
                    (None, Ok(())) => {}
                    (None, Err(r)) => {
                        self.send(ConnId(id as u64), &ServerEvent::error(r, Some(&name)))
                    }
                }
                self.drain_router();
            }
            Body::Ack { .. } | Body::ConnectError { .. } => {}
        }
    }

    /// Whether sessions and connections together are at `max_connections`.
    fn sessions_full(&self) -> bool {
        self.sessions.len() + self.conns.len() > self.config.limits.max_connections
    }

    /// Creates a session with its timers.
    fn new_session(&mut self, now: Instant, carrier: Carrier) -> usize {
        let id = self.next_token;
        self.next_token += 1;
        let sid = self.sid_source.next();
        let sio = self.config.socketio;
        let session = Session {
            sid: sid.clone(),
            carrier,
            probe: None,
            probed: false,
            sio_sid: None,
            ping_due: now + sio.ping_interval,
            pong_deadline: None,
            connect_deadline: Some(now + sio.connect_timeout),
            timer_at: None,
            listed: false,
        };
        self.metrics.connection_opened(session.transport());
        self.sessions.insert(id, session);
        self.sids.insert(sid, id);
        self.schedule_session(id);
        debug!("session {id} opened");
        id
    }

    /// The Engine.IO open packet for a session, offering `upgrades`.
    fn open_packet(&self, id: usize, upgrades: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(s) = self.sessions.get(&id) {
            let sio = self.config.socketio;
            eio::encode_open(
                &mut out,
                &OpenInfo {
                    sid: &s.sid,
                    upgrades,
                    ping_interval_ms: sio.ping_interval.as_millis() as u64,
                    ping_timeout_ms: sio.ping_timeout.as_millis() as u64,
                    max_payload: sio.max_payload_bytes as u64,
                },
            );
        }
        out
    }

    /// Queues a packet built in `bytes` (always UTF-8: JSON and ASCII framing).
    pub(super) fn session_push_bytes(&mut self, id: usize, bytes: Vec<u8>) {
        match Utf8Bytes::try_from(bytes) {
            Ok(text) => self.session_push(id, text),
            Err(_) => log::error!("bug: non-UTF-8 packet for session {id} dropped"),
        }
    }

    /// Queues one encoded packet for a session, over whatever carries it now.
    pub(super) fn session_push(&mut self, id: usize, packet: Utf8Bytes) {
        let limit = self.config.limits.max_outbound_bytes;
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        match &mut s.carrier {
            Carrier::Ws { token } => {
                let token = *token;
                self.write_message(token, packet);
            }
            Carrier::Polling { queue, held } => {
                if queue.len() + packet.len() > limit {
                    self.metrics.slow_consumer();
                    log::warn!("session {id}: slow consumer, over {limit} bytes queued; dropped");
                    let now = self.now;
                    return self.close_session(now, id, "slow consumer");
                }
                if !queue.is_empty() {
                    eio::encode_separator(queue);
                }
                queue.extend_from_slice(packet.as_bytes());
                if held.is_some() && !s.listed {
                    s.listed = true;
                    self.polls_ready.push(id);
                }
            }
        }
    }

    /// Pushes an already encoded Socket.IO frame to every CONNECTed session.
    pub(super) fn broadcast_sessions(&mut self, packet: &Utf8Bytes) -> usize {
        let ids: Vec<usize> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.sio_sid.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.session_push(*id, packet.clone());
        }
        ids.len()
    }

    /// Answers held polls that have something queued (once per loop turn).
    pub(super) fn flush_polls(&mut self) {
        for id in std::mem::take(&mut self.polls_ready) {
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            s.listed = false;
            if let Carrier::Polling { queue, held } = &mut s.carrier {
                if queue.is_empty() {
                    continue;
                }
                if let Some(token) = held.take() {
                    let body = std::mem::take(queue);
                    if let Err(body) = self.respond_held(token, body) {
                        // The held connection died this turn: keep the packets for the next poll.
                        if let Some(Carrier::Polling { queue, .. }) =
                            self.sessions.get_mut(&id).map(|s| &mut s.carrier)
                        {
                            *queue = body;
                        }
                    }
                }
            }
        }
    }

    /// Answers a session's held poll with `body`, if one is held.
    fn answer_held(&mut self, id: usize, body: &[u8]) {
        let held = match self.sessions.get_mut(&id).map(|s| &mut s.carrier) {
            Some(Carrier::Polling { held, .. }) => held.take(),
            _ => None,
        };
        if let Some(token) = held {
            let _ = self.respond_held(token, body.to_vec());
        }
    }

    /// Sends a 200 with `body` on a held GET and returns the connection to keep-alive;
    /// gives the body back if that connection is gone.
    fn respond_held(&mut self, token: usize, body: Vec<u8>) -> Result<(), Vec<u8>> {
        let Some(conn) = self.conns.get_mut(&token) else {
            return Err(body);
        };
        if conn.dead || !matches!(conn.phase, Phase::Held { .. }) {
            return Err(body);
        }
        let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
        let Phase::Held {
            mut stream,
            origin,
            keep_alive,
            carry,
            ..
        } = phase
        else {
            conn.phase = phase;
            return Err(body);
        };
        let mut headers = cors_headers(origin.as_deref());
        headers.push(("Content-Type", "text/plain; charset=UTF-8".into()));
        stream.queue_raw(&response(200, &headers, &body, !keep_alive));
        conn.phase = Phase::Reply {
            stream,
            close: !keep_alive,
            carry,
        };
        self.mark_dirty(token);
        self.reply_deadline(token);
        Ok(())
    }

    /// A held GET's connection went away.
    pub(super) fn held_gone(&mut self, token: usize, id: usize) {
        if let Some(Carrier::Polling { held, .. }) =
            self.sessions.get_mut(&id).map(|s| &mut s.carrier)
        {
            if *held == Some(token) {
                *held = None;
            }
        }
    }

    /// A Socket.IO WebSocket connection ended: its session ends, or its probe is dropped.
    pub(super) fn engine_ws_gone(&mut self, now: Instant, token: usize, id: usize) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if s.probe == Some(token) {
            s.probe = None;
            s.probed = false;
        } else if matches!(s.carrier, Carrier::Ws { token: t } if t == token) {
            self.close_session(now, id, "websocket closed");
        }
    }

    /// Ends a session: the router forgets it and its carrier is closed.
    pub(super) fn close_session(&mut self, now: Instant, id: usize, why: &str) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        debug!("session {id} closed: {why}");
        self.sids.remove(&s.sid);
        self.metrics.connection_closed(s.transport());
        self.router.handle_disconnect(now, ConnId(id as u64));
        self.drain_router();
        if let Some(p) = s.probe {
            self.close_ws(now, p, CloseCode::Normal, "session closed");
        }
        let code = match self.shutdown_at {
            Some(_) => CloseCode::Away,
            None => CloseCode::Normal,
        };
        match s.carrier {
            Carrier::Ws { token } => self.close_ws(now, token, code, why_static(why)),
            Carrier::Polling { held, .. } => {
                if let Some(token) = held {
                    let mut out = Vec::new();
                    eio::encode_close(&mut out);
                    let _ = self.respond_held(token, out);
                }
            }
        }
    }

    /// Fires a session's due timers: connect timeout, pong timeout, ping.
    pub(super) fn session_timer(&mut self, now: Instant, id: usize) {
        let interval = self.config.socketio.ping_interval;
        let timeout = self.config.socketio.ping_timeout;
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.timer_at = None;
        if s.connect_deadline.is_some_and(|t| t <= now) {
            return self.close_session(now, id, "no CONNECT in time");
        }
        if s.pong_deadline.is_some_and(|t| t <= now) {
            return self.close_session(now, id, "ping timeout");
        }
        if s.ping_due <= now {
            s.ping_due = now + interval;
            if s.pong_deadline.is_none() {
                s.pong_deadline = Some(now + timeout);
            }
            let mut out = Vec::new();
            eio::encode_ping(&mut out);
            self.session_push_bytes(id, out);
        }
        self.schedule_session(id);
    }

    /// Makes sure the timer heap holds the session's next deadline.
    fn schedule_session(&mut self, id: usize) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let next = [Some(s.ping_due), s.pong_deadline, s.connect_deadline]
            .into_iter()
            .flatten()
            .min();
        if let Some(next) = next {
            if s.timer_at.is_none_or(|t| next < t) {
                s.timer_at = Some(next);
                self.push_timer(next, id);
            }
        }
    }

    /// Whether a timer entry belongs to a live session and is current.
    pub(super) fn session_timer_due(&self, id: usize, at: Instant) -> Option<bool> {
        self.sessions.get(&id).map(|s| s.timer_at == Some(at))
    }

    /// An Engine.IO error response (JSON body, CORS headers), then close.
    fn engine_error(&mut self, token: usize, code: eio::ErrorCode, origin: Option<&str>) {
        let (status, body) = eio::error_response(code);
        let mut headers = cors_headers(origin);
        headers.push(("Content-Type", "application/json".into()));
        let resp = response(status, &headers, body.as_bytes(), true);
        self.reply(token, resp);
    }

    /// Sends a response and keeps the connection for the next request (unless asked not to).
    fn reply_keep(&mut self, token: usize, resp_keep_alive: Vec<u8>, head: &Head) {
        let close = head.header_has_token("connection", "close");
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
        // Bytes read past this request (pipelined) are kept for the next one.
        let (mut stream, carry) = match phase {
            Phase::Head { stream, buf } => {
                (stream, buf.get(head.len..).unwrap_or_default().to_vec())
            }
            Phase::Body {
                stream, buf, need, ..
            } => (stream, buf.get(need..).unwrap_or_default().to_vec()),
            other => {
                conn.phase = other;
                return;
            }
        };
        stream.queue_raw(&resp_keep_alive);
        conn.phase = Phase::Reply {
            stream,
            close,
            carry,
        };
        self.reply_deadline(token);
        self.mark_dirty(token);
    }
}

/// A 200 polling response carrying an Engine.IO payload.
fn poll_response(origin: Option<&str>, body: &[u8], head: &Head) -> Vec<u8> {
    let mut headers = cors_headers(origin);
    headers.push(("Content-Type", "text/plain; charset=UTF-8".into()));
    let close = head.header_has_token("connection", "close");
    response(200, &headers, body, close)
}

/// An HTTP response with owned header values.
fn response(status: u16, headers: &[(&'static str, String)], body: &[u8], close: bool) -> Vec<u8> {
    let hs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    http::response(status, &hs, body, close)
}

/// The close-frame reason for a session's end.
fn why_static(why: &str) -> &'static str {
    match why {
        "client closed" => "client closed",
        "ping timeout" => "ping timeout",
        "server shutting down" => "server shutting down",
        _ => "session closed",
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
