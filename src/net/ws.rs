//! WebSockets on a connection: the upgrade, reading frames (bounded per turn), queueing
//! writes (slow consumers closed with 1008 at max_outbound_bytes), the close handshake, and
//! the end-of-turn flush of every dirty connection (which starts the lingering close once
//! a closing connection's last byte is out, and times the soft outbound limit).
//! Invariant: nothing is written to a closing or dead connection, and WRITABLE interest is
//! held only while a backlog remains.
use super::conn::{Framing, Phase};
use super::deliver::Gone;
use super::http::{self, Head};
use super::keepalive::Live;
use super::server::Server;
use crate::metrics::Transport;
use crate::protocol::native;
use crate::routing::{ClientSeq, ConnId, ErrorCode, ServerEvent};
use log::{debug, error, warn};
use mio::{Interest, Token};
use std::io;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, Utf8Bytes};

/// Messages read from one connection before others get a turn.
const READ_BUDGET: usize = 256;
/// Time a closing connection gets to finish the close handshake.
const CLOSE_GRACE: Duration = Duration::from_millis(1000);
/// Initial read buffer per WebSocket; it grows for larger messages.
const WS_READ_BUFFER: usize = 4096;
/// Bytes buffered per connection within a turn before a write is attempted early.
const WS_WRITE_BATCH: usize = 16 * 1024;

impl Server {
    /// Answers 101 and turns the connection into a WebSocket.
    pub(super) fn upgrade(
        &mut self,
        token: usize,
        head: &Head,
        key: &str,
        framing: Framing,
    ) -> bool {
        let ws_config = self.ws_config(framing);
        let live = Live::new(self.now, framing == Framing::Native, &self.config.limits);
        let Some(conn) = self.conns.get_mut(token) else {
            return false;
        };
        if !conn.upgrade(
            head.len,
            &http::switching_protocols(key),
            framing,
            ws_config,
            live,
        ) {
            return false;
        }
        if framing == Framing::Native {
            // A Socket.IO session is counted under its transport by the session, not the socket.
            conn.transport = Some(Transport::Native);
            self.metrics.connection_opened(Transport::Native);
            let id = ConnId(token as u64);
            self.peers.insert(id, super::peers::Route::Native(token));
            self.offer_bearer(id, head);
        }
        self.arm_live(token);
        self.conns.mark_dirty(token);
        debug!("connection {token} upgraded ({framing:?})");
        // Frames may have arrived with the head.
        self.conns.read_again(token);
        true
    }

    /// Buffer sizes and limits for a new WebSocket of this framing.
    fn ws_config(&self, framing: Framing) -> WebSocketConfig {
        let l = &self.config.limits;
        let max_message = match framing {
            Framing::Native | Framing::Echo => l.max_message_bytes,
            Framing::SocketIo(_) => self.config.socketio.max_payload_bytes,
        };
        WebSocketConfig::default()
            .read_buffer_size(WS_READ_BUFFER)
            .write_buffer_size(WS_WRITE_BATCH)
            .max_write_buffer_size(l.max_outbound_bytes.max(max_message + 1024))
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message))
    }

    /// Reads WebSocket messages until WouldBlock or the read budget is spent.
    pub(super) fn read_ws(&mut self, now: Instant, token: usize) {
        for _ in 0..READ_BUDGET {
            let Some(conn) = self.conns.get_mut(token) else {
                return;
            };
            let Phase::Ws {
                ws,
                framing,
                closing,
                live,
            } = &mut conn.phase
            else {
                return;
            };
            live.heard = now;
            let framing = *framing;
            let closing = *closing;
            // A native peer whose close has begun is gone for the router: what it still
            // sends is read (to finish the close handshake) but never routed.
            let routed = !(closing && framing == Framing::Native);
            if conn.dead {
                return;
            }
            match ws.read() {
                Ok(Message::Text(_)) | Ok(Message::Binary(_)) if !routed => {}
                Ok(Message::Text(text)) => match framing {
                    Framing::Native => self.on_native_text(now, token, &text),
                    Framing::SocketIo(key) => self.on_session_text(now, key, token, &text),
                    Framing::Echo => self.write_message(token, text),
                },
                Ok(Message::Binary(bytes)) if framing == Framing::Echo => {
                    self.write_binary(token, bytes)
                }
                Ok(Message::Binary(bytes)) if matches!(framing, Framing::SocketIo(_)) => {
                    if let Framing::SocketIo(key) = framing {
                        self.on_session_binary(now, key, token, Vec::from(bytes));
                    }
                }
                Ok(Message::Binary(_)) => self.close_ws(
                    now,
                    token,
                    CloseCode::Unsupported,
                    "binary frames are not supported",
                ),
                Ok(Message::Close(frame)) => {
                    // tungstenite queued the reply; the next read or flush completes it.
                    self.conns.mark_dirty(token);
                    self.closing_started(now, token);
                    // 1000 (or no code) says the client is done; any other may come back.
                    let how = match frame.map(|f| f.code) {
                        None | Some(CloseCode::Normal) => Gone::Closed,
                        Some(_) => Gone::Lost,
                    };
                    match framing {
                        Framing::Native => self.end_peer(now, ConnId(token as u64), how),
                        Framing::SocketIo(key) => self.session_ws_gone(now, key, token),
                        Framing::Echo => {}
                    }
                }
                Ok(Message::Pong(_)) => {} // heard, which is all a pong is for
                Ok(_) => self.conns.mark_dirty(token), // ping: a pong is queued
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.ws_input_checked(now, token);
                    return self.shrink_ws(token);
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(tungstenite::Error::Protocol(
                    tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                )) if closing => return self.conns.kill(token),
                Err(_) if closing => {
                    // The close handshake is done (or the input past our close is not worth
                    // parsing): the flush starts the lingering close, which drains the rest.
                    return self.conns.mark_dirty(token);
                }
                Err(tungstenite::Error::Capacity(_)) => {
                    return self.close_ws(now, token, CloseCode::Size, "message too big")
                }
                Err(tungstenite::Error::Utf8(_)) => {
                    return self.close_ws(now, token, CloseCode::Invalid, "invalid UTF-8")
                }
                Err(tungstenite::Error::Protocol(
                    tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                )) => {
                    // The connection dropped without a close: the peer may come back.
                    return self.conns.kill(token);
                }
                Err(tungstenite::Error::Protocol(p)) => {
                    debug!("connection {token}: protocol error: {p}");
                    return self.close_ws(now, token, CloseCode::Protocol, "protocol error");
                }
                Err(_) => return self.conns.kill(token),
            }
        }
        self.ws_input_checked(now, token);
        self.conns.read_again(token);
    }

    /// After a WebSocket's input ran dry: if a frame larger than the read buffer came since
    /// the last check, and nothing is partway in or waiting to go out (a flush is tried),
    /// the WebSocket is renewed so that its grown buffers are freed.
    fn shrink_ws(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Ws { ws, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing || conn.dead {
            return;
        }
        let Some(input) = ws.get_mut().inbound.as_mut() else {
            return;
        };
        if input.pending() || !input.take_grown(WS_READ_BUFFER) {
            return;
        }
        match ws.flush() {
            Ok(()) if ws.get_ref().unsent() == 0 => conn.renew_ws(),
            // Output still queued: the next drained read tries again.
            Ok(()) | Err(_) => {
                if let Some(input) = ws.get_mut().inbound.as_mut() {
                    input.grown_again();
                }
            }
        }
    }

    /// After reading a WebSocket: starts or stops the clock of a message partway in
    /// (`message_timeout_ms`), and counts what it holds toward `max_inbound_buffer_bytes`.
    fn ws_input_checked(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Ws { ws, live, .. } = &mut conn.phase else {
            return;
        };
        let Some(input) = ws.get_ref().inbound.as_ref() else {
            return;
        };
        let held = usize::try_from(input.held()).unwrap_or(usize::MAX);
        let started = live.inbound(now, input.pending(), input.completed());
        if started {
            self.arm_live(token);
        }
        self.inbound_counted(now, token, held);
    }

    /// One text message from a native WebSocket. An event the client numbered (`seq`) is
    /// acknowledged with `ack {seq}` once handled; a number at or below the highest one
    /// handled for its party is a resend: acknowledged again, not applied.
    fn on_native_text(&mut self, now: Instant, token: usize, text: &str) {
        let conn = ConnId(token as u64);
        let mut ack = None;
        let result = match native::decode(text) {
            // A frame that is not an event still counts against the rate.
            Err(rejection) => {
                // A frame refused for its shape may still name its event: say which.
                let name = match rejection.code {
                    ErrorCode::BadMessage => native::readable_event(text),
                    _ => None,
                };
                match self.rate_check(now, conn, "") {
                    Err(limited) => Err((limited, name)),
                    Ok(()) => {
                        self.metrics.rejected(rejection.code);
                        Err((rejection, name))
                    }
                }
            }
            Ok(env) => {
                ack = env.seq;
                // A registration is never a resend: it may be the one that resumes.
                let registers = matches!(&*env.event, "connectUser" | "connectAgent");
                match env.seq.map(|seq| self.router.client_seq(conn, seq)) {
                    // A resend is not applied again, but it counts against the rate.
                    Some(ClientSeq::Repeat) if !registers => self
                        .rate_check(now, conn, &env.event)
                        .map_err(|r| (r, Some(env.event.clone()))),
                    _ => self
                        .route_event(now, conn, &env.event, env.data)
                        .map_err(|r| (r, Some(env.event.clone()))),
                }
            }
        };
        if let Err((rejection, name)) = result {
            self.send(conn, &ServerEvent::error(rejection, name.as_deref()));
        }
        self.drain_router();
        if let Some(seq) = ack {
            self.router.client_seq_applied(conn, seq);
            self.send(conn, &ServerEvent::Ack { seq });
        }
    }

    /// Queues a text message built in `bytes` (always UTF-8: JSON and ASCII framing).
    pub(super) fn write_text(&mut self, token: usize, bytes: Vec<u8>) {
        match Utf8Bytes::try_from(bytes) {
            Ok(text) => self.write_message(token, text),
            Err(_) => error!("bug: non-UTF-8 frame for connection {token} dropped"),
        }
    }

    /// Queues one text message on a WebSocket; a slow consumer is dropped.
    pub(super) fn write_message(&mut self, token: usize, text: Utf8Bytes) {
        self.write_frame(token, Message::Text(text));
    }

    /// Queues one binary message on a WebSocket; a slow consumer is dropped.
    pub(super) fn write_binary(&mut self, token: usize, bytes: bytes::Bytes) {
        self.write_frame(token, Message::Binary(bytes));
    }

    /// Queues one message on a WebSocket; a slow consumer is closed with 1008 (dropped at
    /// once if not even the close frame fits).
    pub(super) fn write_frame(&mut self, token: usize, message: Message) {
        let Some((conn, dirty)) = self.conns.get_with_dirty(token) else {
            return;
        };
        let Phase::Ws { ws, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing || conn.dead {
            return;
        }
        match ws.write(message) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(tungstenite::Error::WriteBufferFull(_)) => {
                warn!(
                    "connection {token}: slow consumer, over {} bytes queued; dropped",
                    self.config.limits.max_outbound_bytes
                );
                self.metrics.slow_consumer();
                // A dropped connection for the router: its party is held for a resume.
                let now = self.now;
                return self.close_ws_as(
                    now,
                    token,
                    CloseCode::Policy,
                    "slow consumer",
                    Gone::Lost,
                );
            }
            Err(_) => return self.conns.kill(token),
        }
        // Queued: flush before the next poll (marked here, not through a second lookup).
        super::conn::Conns::mark_dirty_entry(dirty, conn, token);
    }

    /// Starts a server-side close with `code` (the peer, if any, ends first, as closed).
    pub(super) fn close_ws(
        &mut self,
        now: Instant,
        token: usize,
        code: CloseCode,
        reason: &'static str,
    ) {
        self.close_ws_as(now, token, code, reason, Gone::Closed);
    }

    /// Starts a server-side close with `code`; a native peer ends first, `how` (Lost: held
    /// for a resume). If not even the close frame fits, the connection is dropped.
    pub(super) fn close_ws_as(
        &mut self,
        now: Instant,
        token: usize,
        code: CloseCode,
        reason: &'static str,
        how: Gone,
    ) {
        if let Some(Phase::Ws {
            framing: Framing::Native,
            ..
        }) = self.conns.get(token).map(|c| &c.phase)
        {
            self.end_peer(now, ConnId(token as u64), how);
        }
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Ws { ws, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing {
            return;
        }
        *closing = true;
        let frame = code_frame(code, reason);
        match ws.close(frame) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return self.conns.kill(token),
        }
        self.closing_started(now, token);
        self.conns.mark_dirty(token);
    }

    /// A WebSocket is closing: it gets CLOSE_GRACE to finish, then it is dropped.
    fn closing_started(&mut self, now: Instant, token: usize) {
        let deadline = now + CLOSE_GRACE;
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if let Phase::Ws { closing, .. } = &mut conn.phase {
            *closing = true;
        }
        if conn.deadline.is_none_or(|d| d > deadline) {
            self.set_deadline(token, deadline);
        }
    }

    /// Writes what every dirty connection has queued, as far as the socket takes it.
    pub(super) fn flush_dirty(&mut self, now: Instant) {
        let limits = self.config.limits;
        for token in self.conns.take_dirty() {
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            conn.dirty = false;
            if conn.dead {
                continue;
            }
            let mut blocked = false;
            let mut next_request = false;
            let mut linger = false;
            let mut soft_started = false;
            let finished = match &mut conn.phase {
                Phase::Head { .. }
                | Phase::Body { .. }
                | Phase::Held { .. }
                | Phase::Linger { .. }
                | Phase::Gone => false,
                Phase::Reply { stream, close, .. } => match stream.drain_raw() {
                    Ok(()) if *close => {
                        linger = true;
                        false
                    }
                    Ok(()) => {
                        next_request = true;
                        false
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        blocked = true;
                        false
                    }
                    Err(_) => true,
                },
                Phase::Ws {
                    ws, closing, live, ..
                } => match ws.flush() {
                    // Our close frame, or the reply to the peer's, is out.
                    Ok(()) | Err(tungstenite::Error::ConnectionClosed) if *closing => {
                        linger = true;
                        false
                    }
                    Ok(()) => {
                        live.queued(now, 0, &limits);
                        false
                    }
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        blocked = true;
                        soft_started = live.queued(now, ws.get_ref().unsent(), &limits);
                        false
                    }
                    Err(_) => true,
                },
            };
            if finished {
                self.conns.kill(token);
                continue;
            }
            if linger {
                self.linger(now, token);
                continue;
            }
            if soft_started {
                self.arm_live(token);
            }
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            let interest_changed = blocked != conn.write_interest;
            if next_request {
                // Keep-alive: back to reading the next request.
                conn.next_request();
                self.conns.read_again(token);
                let at = now + self.config.limits.handshake_timeout;
                self.set_deadline(token, at);
            }
            if interest_changed {
                self.write_interest(token, blocked);
            }
        }
    }

    /// Asks for WRITABLE only while a backlog remains: no wake-ups for every ACK.
    pub(super) fn write_interest(&mut self, token: usize, blocked: bool) {
        let registry = self.poll.registry();
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let interest = match blocked {
            true => Interest::READABLE | Interest::WRITABLE,
            false => Interest::READABLE,
        };
        conn.write_interest = blocked;
        let failed = conn
            .tcp()
            .is_some_and(|tcp| registry.reregister(tcp, Token(token), interest).is_err());
        if failed {
            self.conns.kill(token);
        }
    }
}

/// The close frame for `code` (None: an empty close frame, as engine.io's `close()` sends).
fn code_frame(code: CloseCode, reason: &'static str) -> Option<CloseFrame> {
    match code {
        CloseCode::Status => None,
        _ => Some(CloseFrame {
            code,
            reason: reason.into(),
        }),
    }
}
