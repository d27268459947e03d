//! Socket.IO at `/socket.io/`: the loop's side of each `EioSession`. This file maps HTTP
//! requests and WebSocket frames to the session's inputs and carries its outputs to the
//! right socket (held GET, carrier WebSocket, probe); every protocol decision is the
//! session's. Invariant: a session's sockets are only those its `Slot` names, and when the
//! session closes each of them is answered or closed.
use super::conn::{Framing, Phase};
use super::deliver::Gone;
use super::http::{self, Head};
use super::peers::Route;
use super::request::KeepAlive;
use super::server::Server;
use super::timers::TimerKey;
use crate::metrics::{LimitReason, Transport as MetricTransport};
use crate::protocol::engineio as eio;
use crate::protocol::socketio::{self as sio, Body};
use crate::routing::{Attachments, ConnId, Rejection, ServerEvent};
use crate::session::{
    BinaryEvent, CloseReason, EioSession, Inbound, Push, SessionConfig, SessionOutput, Transport,
    Via,
};
use bytes::Bytes;
use log::debug;
use std::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Utf8Bytes;

/// Time a probing WebSocket has to complete the upgrade (engine.io's default).
const UPGRADE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Methods the original's CORS settings allow.
const CORS_METHODS: &str = "GET, POST, PATCH, PUT";

/// Headers a polling or preflight response carries for an allowed browser origin.
fn cors_headers(origin: Option<&str>) -> Vec<(&'static str, &str)> {
    match origin {
        Some(o) => vec![
            ("Access-Control-Allow-Origin", o),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ],
        None => Vec::new(),
    }
}

impl Server {
    /// Handles a complete request head for the Socket.IO path.
    pub(super) fn engine_request(&mut self, now: Instant, token: usize, head: Head) {
        let origin = head.header("origin").map(str::to_owned);
        let keep = KeepAlive::of(&head);
        if head.method == "OPTIONS" {
            let mut headers = cors_headers(origin.as_deref());
            headers.push(("Access-Control-Allow-Methods", CORS_METHODS));
            if let Some(h) = head.header("access-control-request-headers") {
                headers.push(("Access-Control-Allow-Headers", h));
            }
            let resp = keep.response(204, &headers, b"");
            return self.reply_keep(token, &resp, keep, head.len);
        }
        let query = match eio::parse_query(&head.target) {
            Ok(q) => q,
            Err(code) => return self.engine_error(token, code, origin.as_deref()),
        };
        let sid = query.sid.as_deref().map(str::to_owned);
        if let Some(id) = sid.as_deref().and_then(|s| self.sessions.key_of(s)) {
            // A request at or past a session's deadline finds it expired, whatever the
            // order in which this turn sees the request and the timer.
            self.expire_if_due(now, id);
        }
        let mut source = None;
        if sid.is_none() {
            let Some(s) = self.admit_handshake(token, &head) else {
                return;
            };
            source = s;
        }
        match (query.transport, sid, head.method.as_str()) {
            (eio::Transport::Websocket, None, "GET") => {
                let Some(key) = head.websocket_key().map(str::to_owned) else {
                    return self.engine_error(token, eio::ErrorCode::BadRequest, None);
                };
                let id = self.new_session(now, Transport::WebSocket, &head);
                self.session_counted(id, source);
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.ws = Some(token);
                }
                if self.upgrade(token, &head, &key, Framing::SocketIo(id)) {
                    let open = self.sessions.get(id).map(|s| s.eio.open_packet(&[]));
                    if let Some(open) = open {
                        self.write_text(token, open);
                    }
                }
            }
            (eio::Transport::Websocket, Some(sid), "GET") => {
                let Some(key) = head.websocket_key().map(str::to_owned) else {
                    return self.engine_error(token, eio::ErrorCode::BadRequest, None);
                };
                let Some(id) = self.sessions.key_of(&sid) else {
                    return self.engine_error(token, eio::ErrorCode::UnknownSid, None);
                };
                let probing = match self.sessions.get_mut(id) {
                    Some(slot) => {
                        let probing = slot.eio.handle_probe_open();
                        if probing {
                            slot.probe = Some(token);
                        }
                        probing
                    }
                    None => false,
                };
                if self.upgrade(token, &head, &key, Framing::SocketIo(id)) {
                    if probing {
                        // An upgrade must finish in time (engine.io's upgradeTimeout), or the
                        // probe is dropped and polling goes on.
                        self.set_deadline(token, now + UPGRADE_TIMEOUT);
                    } else {
                        // Already upgraded or upgrading: engine.io accepts it and closes it.
                        self.close_ws(now, token, CloseCode::Status, "");
                    }
                }
            }
            (eio::Transport::Polling, None, "GET") => {
                let id = self.new_session(now, Transport::Polling, &head);
                self.session_counted(id, source);
                let Some(open) = self
                    .sessions
                    .get(id)
                    .map(|s| s.eio.open_packet(&["websocket"]))
                else {
                    return;
                };
                self.poll_answer(token, origin.as_deref(), &open, keep, head.len);
            }
            (eio::Transport::Polling, None, _) => {
                self.engine_error(token, eio::ErrorCode::BadHandshakeMethod, origin.as_deref())
            }
            (eio::Transport::Polling, Some(sid), method) => {
                let Some(id) = self.sessions.key_of(&sid) else {
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

    /// A polling GET: answered with what is queued, or held until something is.
    fn poll_get(
        &mut self,
        now: Instant,
        token: usize,
        id: usize,
        head: Head,
        origin: Option<String>,
    ) {
        let keep = KeepAlive::of(&head);
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if slot.eio.transport() != Transport::Polling {
            return self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
        }
        match slot.eio.handle_poll(now) {
            Some(body) => self.poll_answer(token, origin.as_deref(), &body, keep, head.len),
            None if slot.eio.is_closed() => {
                self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
                self.drain_session(now, id);
            }
            None => {
                slot.held = Some(token);
                if let Some(conn) = self.conns.get_mut(token) {
                    conn.hold(head.len, id, origin, &head);
                }
            }
        }
    }

    /// A polling POST: read the body (now or later), then hand its packets to the session.
    fn poll_post(&mut self, now: Instant, token: usize, id: usize, head: Head) {
        let origin = head.header("origin").map(str::to_owned);
        let Some(slot) = self.sessions.get(id) else {
            return;
        };
        if slot.eio.transport() != Transport::Polling {
            return self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
        }
        // Another POST still being read: the client is confused; end the session (as
        // engine.io does for two writes at once).
        let reading = slot.post.and_then(|t| self.conns.get(t));
        if reading.is_some_and(|c| matches!(c.phase, Phase::Body { .. }) && !c.dead) {
            self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
            return self.close_session(now, id, CloseReason::OverlappingPolls);
        }
        if let Some(slot) = self.sessions.get_mut(id) {
            slot.post = Some(token);
        }
        let max = self.config.socketio.max_payload_bytes;
        let refused = self.start_body(now, token, head.clone(), max);
        if let Err(code) = refused {
            self.body_refused(now, token, &head, code);
        }
    }

    /// A POST body that cannot be taken: 413 (over the limit) or 400 ends the session.
    pub(super) fn body_refused(&mut self, now: Instant, token: usize, head: &Head, status: u16) {
        let origin = head.header("origin").map(str::to_owned);
        let id = self.session_of(head);
        match status {
            413 => {
                self.reply_close(token, http::error_response(413, "payload too large\n"));
                if let Some(slot) = id.and_then(|id| self.sessions.get_mut(id)) {
                    slot.eio.handle_oversized();
                }
            }
            _ => {
                self.engine_error(token, eio::ErrorCode::BadRequest, origin.as_deref());
                if let Some(slot) = id.and_then(|id| self.sessions.get_mut(id)) {
                    slot.eio.handle_malformed();
                }
            }
        }
        if let Some(id) = id {
            self.drain_session(now, id);
        }
    }

    /// The session a request's `sid` names.
    fn session_of(&self, head: &Head) -> Option<usize> {
        let query = eio::parse_query(&head.target).ok()?;
        self.sessions.key_of(query.sid.as_deref()?)
    }

    /// A POST body is complete (the request ended at byte `end`): its packets go to the
    /// session, then "ok".
    pub(super) fn finish_post(
        &mut self,
        now: Instant,
        token: usize,
        head: Head,
        body: &[u8],
        end: usize,
    ) {
        let origin = head.header("origin").map(str::to_owned);
        let Some(id) = self.session_of(&head) else {
            return self.engine_error(token, eio::ErrorCode::UnknownSid, origin.as_deref());
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return self.body_refused(now, token, &head, 400);
        };
        for packet in text.split(eio::SEPARATOR) {
            match eio::decode_packet(packet) {
                // Binary packets (`b<base64>`) are attachments: the session reads them.
                Ok(_) | Err(eio::EioError::Binary) => {
                    self.session_packet(now, id, Via::Carrier, packet)
                }
                Err(_) => return self.body_refused(now, token, &head, 400),
            }
            if self.sessions.get(id).is_none_or(|s| s.eio.is_closed()) {
                break;
            }
        }
        let keep = KeepAlive::of(&head);
        let mut headers = cors_headers(origin.as_deref());
        headers.push(("Content-Type", "text/html"));
        let resp = keep.response(200, &headers, b"ok");
        self.reply_keep(token, &resp, keep, end);
    }

    /// One text frame on a Socket.IO WebSocket (the carrier or the probe).
    pub(super) fn on_session_text(&mut self, now: Instant, id: usize, token: usize, text: &str) {
        let Some(slot) = self.sessions.get(id) else {
            return;
        };
        let via = match (slot.ws == Some(token), slot.probe == Some(token)) {
            (true, _) => Via::Carrier,
            (_, true) => Via::Probe,
            _ => return, // a socket the session no longer uses
        };
        self.session_packet(now, id, via, text);
    }

    /// One binary frame on a Socket.IO WebSocket: an attachment.
    pub(super) fn on_session_binary(
        &mut self,
        now: Instant,
        id: usize,
        token: usize,
        bytes: Vec<u8>,
    ) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        let via = match (slot.ws == Some(token), slot.probe == Some(token)) {
            (true, _) => Via::Carrier,
            (_, true) => Via::Probe,
            _ => return,
        };
        let inbound = slot.eio.handle_binary(now, via, bytes);
        self.drain_session(now, id);
        if let Some(Inbound::BinaryEvent(event)) = inbound {
            self.route_binary(now, id, event);
        }
    }

    /// One Engine.IO packet into a session; an event it yields goes to the router.
    fn session_packet(&mut self, now: Instant, id: usize, via: Via, text: &str) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        let inbound = slot.eio.handle_packet(now, via, text);
        self.session_progressed(id);
        self.drain_session(now, id);
        match inbound {
            None => {}
            Some(Inbound::Event { name, data, ack }) => {
                let result = self.route_event(now, ConnId(id as u64), &name, data);
                self.answer_event(now, id, &name, ack, result);
            }
            Some(Inbound::BinaryEvent(event)) => self.route_binary(now, id, event),
        }
    }

    /// A binary event with its attachments, decoded again from its owned packet text.
    fn route_binary(&mut self, now: Instant, id: usize, event: BinaryEvent) {
        let Ok(packet) = sio::decode(&event.packet) else {
            return; // the session decoded it once already
        };
        let Body::Event { name, data } = packet.body else {
            return;
        };
        let peer = ConnId(id as u64);
        let attachments: Attachments = event.attachments.into_iter().map(Bytes::from).collect();
        let result = self.route_event_with(now, peer, &name, data, Some(attachments));
        self.answer_event(now, id, &name, packet.ack_id, result);
    }

    /// Reports an event's result: an ack when one was asked for, else an error event.
    fn answer_event(
        &mut self,
        now: Instant,
        id: usize,
        name: &str,
        ack: Option<u64>,
        result: Result<(), Rejection>,
    ) {
        let peer = ConnId(id as u64);
        match (ack, result) {
            (Some(ack), result) => {
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.eio.ack(ack, result.as_ref().map(|_| ()));
                }
            }
            (None, Ok(())) => {}
            (None, Err(r)) => self.send(peer, &ServerEvent::error(r, Some(name))),
        }
        self.drain_router();
        self.drain_session(now, id);
    }

    /// Carries a session's outputs to its sockets.
    fn drain_session(&mut self, now: Instant, id: usize) {
        loop {
            let Some(slot) = self.sessions.get_mut(id) else {
                return;
            };
            let Some(output) = slot.eio.poll_output() else {
                // Quiet: make sure the timer heap holds its next deadline (same lookup).
                if let Some(next) = slot.eio.poll_timeout() {
                    if slot.timer_at.is_none_or(|t| next < t) {
                        slot.timer_at = Some(next);
                        self.timers.push(next, TimerKey::Session(id));
                    }
                }
                return;
            };
            let (ws, probe) = (slot.ws, slot.probe);
            match output {
                SessionOutput::ToCarrier(frame) => {
                    if let Some(t) = ws {
                        self.write_message(t, frame);
                    }
                }
                SessionOutput::ToCarrierBinary(bytes) => {
                    if let Some(t) = ws {
                        self.write_binary(t, bytes);
                    }
                }
                SessionOutput::ToProbe(frame) => {
                    if let Some(t) = probe {
                        self.write_message(t, frame);
                    }
                }
                SessionOutput::AnswerHeld(body) => {
                    if let Some(t) = slot.held.take() {
                        self.answer_held(id, t, body);
                    }
                }
                SessionOutput::Upgraded => {
                    slot.ws = slot.probe.take();
                    if let Some(conn) = slot.ws.and_then(|t| self.conns.get_mut(t)) {
                        conn.deadline = None; // the upgrade timeout no longer applies
                    }
                    self.metrics.connection_closed(MetricTransport::Polling);
                    self.metrics.connection_opened(MetricTransport::WebSocket);
                    debug!("session {id} upgraded to websocket");
                }
                SessionOutput::CloseProbe => {
                    if let Some(t) = slot.probe.take() {
                        self.close_ws(
                            now,
                            t,
                            CloseCode::Protocol,
                            "unexpected packet during upgrade",
                        );
                    }
                }
                SessionOutput::Left => {
                    // The registration ends with the namespace, and so does its proof.
                    if let Some(peer) = self.peers.get_mut(ConnId(id as u64)) {
                        peer.verified = None;
                    }
                    self.router.handle_disconnect(now, ConnId(id as u64));
                    self.drain_router();
                }
                SessionOutput::Recover => self.recover(now, id),
                SessionOutput::Closed(reason) => self.session_closed(now, id, reason),
            }
        }
    }

    /// Answers the held GET `token` with `body`; if its connection died meanwhile, the
    /// client is gone: the packets are kept and the session ends (as for a vanished poll).
    fn answer_held(&mut self, id: usize, token: usize, body: Vec<u8>) {
        if let Err(body) = self.respond_held(token, body) {
            if let Some(slot) = self.sessions.get_mut(id) {
                slot.eio.handle_answer_undelivered(body);
                slot.eio.handle_poll_lost();
            }
        }
    }

    /// A session has closed: the router forgets it and its sockets are closed.
    fn session_closed(&mut self, now: Instant, id: usize, reason: CloseReason) {
        let Some(slot) = self.sessions.remove(id) else {
            return;
        };
        debug!("session {id} closed: {}", reason.as_str());
        self.session_uncounted(&slot);
        if reason == CloseReason::ConnectTimeout && self.config.limits.register_timeout.is_some() {
            self.metrics.limit(LimitReason::RegisterTimeout);
        }
        self.metrics.connection_closed(slot.metric_transport());
        // As Socket.IO's own recovery: only leaving the namespace, or a fault of the
        // client's, ends the party; a dropped or closed transport may come back.
        let how = match reason {
            CloseReason::ClientClosed
            | CloseReason::PingTimeout
            | CloseReason::TransportClosed
            | CloseReason::PollClosed
            | CloseReason::SlowConsumer
            | CloseReason::Shutdown => Gone::Lost,
            _ => Gone::Closed,
        };
        self.end_peer(now, ConnId(id as u64), how);
        if let Some(p) = slot.probe {
            self.close_ws(now, p, CloseCode::Normal, "session closed");
        }
        if let Some(t) = slot.ws {
            let code = match (self.shutdown_at, self.config.drain) {
                (Some(_), Some(_)) => CloseCode::Restart,
                (Some(_), None) => CloseCode::Away,
                (None, _) => CloseCode::Normal,
            };
            self.close_ws(now, t, code, close_reason(reason));
        }
        if let Some(t) = slot.held {
            let mut out = Vec::new();
            eio::encode_close(&mut out);
            let _ = self.respond_held(t, out);
        }
    }

    /// Ends a session for the server's own reasons (shutdown).
    pub(super) fn close_session(&mut self, now: Instant, id: usize, reason: CloseReason) {
        if let Some(slot) = self.sessions.get_mut(id) {
            slot.eio.close(reason);
            self.drain_session(now, id);
        }
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
        if let Some(push) = self.sessions.get_mut(id).map(|s| s.eio.push(packet)) {
            self.carry_push(id, push);
        }
    }

    /// Queues one binary packet (an attachment) for a session.
    pub(super) fn session_push_binary(&mut self, id: usize, bytes: Bytes) {
        if let Some(push) = self.sessions.get_mut(id).map(|s| s.eio.push_binary(bytes)) {
            self.carry_push(id, push);
        }
    }

    /// Does what the session asked for a pushed packet: write it, list a held poll for the
    /// end of the turn, or carry out the close a full queue caused.
    fn carry_push(&mut self, id: usize, push: Push) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        match push {
            Push::Carrier(p) => {
                if let Some(t) = slot.ws {
                    self.write_message(t, p);
                }
            }
            Push::CarrierBinary(b) => {
                if let Some(t) = slot.ws {
                    self.write_binary(t, b);
                }
            }
            Push::Queued { answer: true } if !slot.listed => {
                slot.listed = true;
                self.sessions.ready.push(id);
            }
            Push::Queued { .. } | Push::Done => {}
            Push::Overflow => {
                self.metrics.slow_consumer();
                let now = self.now;
                self.drain_session(now, id);
            }
        }
    }

    /// Answers held polls that have something queued (once per loop turn).
    pub(super) fn flush_polls(&mut self) {
        for id in std::mem::take(&mut self.sessions.ready) {
            let Some(slot) = self.sessions.get_mut(id) else {
                continue;
            };
            slot.listed = false;
            let Some(token) = slot.held else {
                continue;
            };
            let Some(body) = slot.eio.take_held_answer() else {
                continue;
            };
            slot.held = None;
            self.answer_held(id, token, body);
            self.drain_session(self.now, id);
        }
    }

    /// Sends a 200 with `body` on a held GET and returns the connection to keep-alive;
    /// gives the body back if that connection is gone.
    fn respond_held(&mut self, token: usize, body: Vec<u8>) -> Result<(), Vec<u8>> {
        let Some(conn) = self.conns.get(token) else {
            return Err(body);
        };
        let Phase::Held {
            origin,
            keep_alive,
            http10,
            ..
        } = &conn.phase
        else {
            return Err(body);
        };
        if conn.dead {
            return Err(body);
        }
        let keep = KeepAlive {
            keep: *keep_alive,
            http10: *http10,
        };
        let mut headers = cors_headers(origin.as_deref());
        headers.push(("Content-Type", "text/plain; charset=UTF-8"));
        let resp = keep.response(200, &headers, &body);
        self.reply_keep(token, &resp, keep, 0);
        Ok(())
    }

    /// A 200 polling answer with an Engine.IO payload to a request read up to `next`.
    fn poll_answer(
        &mut self,
        token: usize,
        origin: Option<&str>,
        body: &[u8],
        keep: KeepAlive,
        next: usize,
    ) {
        let mut headers = cors_headers(origin);
        headers.push(("Content-Type", "text/plain; charset=UTF-8"));
        let resp = keep.response(200, &headers, body);
        self.reply_keep(token, &resp, keep, next);
    }

    /// A held GET's connection went away: the session ends at once (engine.io's "poll
    /// connection closed prematurely"), so a vanished client is not routed calls.
    pub(super) fn poll_gone(&mut self, now: Instant, id: usize, token: usize) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if slot.held == Some(token) {
            slot.held = None;
            slot.eio.handle_poll_gone();
            self.drain_session(now, id);
        }
    }

    /// A Socket.IO WebSocket ended: its session ends, or its probe is dropped.
    pub(super) fn session_ws_gone(&mut self, now: Instant, id: usize, token: usize) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if slot.probe == Some(token) {
            slot.probe = None;
            slot.eio.handle_probe_gone();
        } else if slot.ws == Some(token) {
            slot.ws = None;
            slot.eio.handle_carrier_gone();
            self.drain_session(now, id);
        }
    }

    /// The session settings from the running config.
    pub(super) fn session_config(&self) -> SessionConfig {
        let sio = self.config.socketio;
        SessionConfig {
            ping_interval: sio.ping_interval,
            ping_timeout: sio.ping_timeout,
            // register_timeout applies to Socket.IO as "CONNECTed", as to native as
            // "registered": the smaller of the two ends an unused session.
            connect_timeout: self.connect_timeout(),
            max_payload_bytes: sio.max_payload_bytes,
            max_queued_bytes: self.config.limits.max_outbound_bytes,
            // Relayed to a native or polling receiver, attachments grow by a third (base64):
            // what one event carries must fit the receiver's outbound limit that way too.
            max_binary_bytes: sio
                .max_payload_bytes
                .min(self.config.limits.max_outbound_bytes.saturating_sub(4096) / 4 * 3),
        }
    }

    /// How long a session may go without a Socket.IO CONNECT: `[socketio]
    /// connect_timeout_ms` or `[limits] register_timeout_ms`, whichever is smaller.
    fn connect_timeout(&self) -> std::time::Duration {
        let sio = self.config.socketio.connect_timeout;
        match self.config.limits.register_timeout {
            Some(r) => sio.min(r),
            None => sio,
        }
    }

    /// Creates a session (and its peer) with its timers.
    fn new_session(&mut self, now: Instant, transport: Transport, head: &Head) -> usize {
        let id = self.next_key();
        let sid = self.sids.next();
        let sio_sid = self.sids.next();
        let mut eio = EioSession::new(now, sid, sio_sid, transport, self.session_config());
        if self.config.routing.resume.enabled() {
            // Connection state recovery: the CONNECT answer's pid, the party's resume token.
            eio.set_pid(self.sids.next());
        }
        let slot = self.sessions.insert(id, eio);
        self.metrics.connection_opened(slot.metric_transport());
        self.peers.insert(ConnId(id as u64), Route::Session(id));
        self.offer_bearer(ConnId(id as u64), head);
        self.drain_session(now, id);
        debug!("session {id} opened");
        id
    }

    /// A session's timer entry came due: it runs if still current.
    pub(super) fn session_timer(&mut self, now: Instant, id: usize, at: Instant) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if slot.timer_at != Some(at) {
            return; // superseded
        }
        slot.timer_at = None;
        slot.eio.handle_timeout(now);
        self.drain_session(now, id);
    }

    /// Runs a session's timers now if one is due (before a request decides anything).
    fn expire_if_due(&mut self, now: Instant, id: usize) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if slot.eio.poll_timeout().is_some_and(|t| t <= now) {
            slot.eio.handle_timeout(now);
            self.drain_session(now, id);
        }
    }

    /// An Engine.IO error response (JSON body, CORS headers), then close.
    fn engine_error(&mut self, token: usize, code: eio::ErrorCode, origin: Option<&str>) {
        let (status, body) = eio::error_response(code);
        let mut headers = cors_headers(origin);
        headers.push(("Content-Type", "application/json"));
        let resp = http::response(status, &headers, body.as_bytes(), true);
        self.reply_close(token, resp);
    }
}

/// The close-frame reason for a session's end.
fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::ClientClosed
        | CloseReason::PingTimeout
        | CloseReason::Shutdown
        | CloseReason::RateLimited => reason.as_str(),
        _ => "session closed",
    }
}
