//! One Engine.IO v4 session with Socket.IO v5 on top, as a state machine: bytes and time
//! come in through `handle_*`, what to send comes out of `push`/`poll_output`, and the loop
//! only carries bytes between it and the sockets (which sockets, it keeps itself).
//!
//! A session's carrier is HTTP long-polling or one WebSocket; a polling session may be
//! upgraded once, through a probing WebSocket. Invariants: at most one GET is held and at
//! most one probe is open; packets leave in the order they were pushed; once `Closed` has
//! been output the session takes no input and emits nothing more.
//!
//! Drain order: after every `handle_*` call, `push` or `ack`, drain `poll_output` until
//! None; then call `poll_timeout` for the next wake-up. `take_held_answer` is asked once per
//! loop turn for a held GET, so that packets pushed within a turn leave in one response.
use super::binary::{BinaryEvent, PendingBinary, Step};
use crate::protocol::engineio::{self as eio, OpenInfo, PacketType};
use crate::protocol::socketio::{self as sio, Body};
use crate::routing::{EventData, Rejection};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tungstenite::Utf8Bytes;

/// The settings a session runs with (from `[socketio]` and `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_payload_bytes: usize,
    /// Bytes a polling session may have queued before it counts as a slow consumer.
    pub max_queued_bytes: usize,
    /// Most bytes a binary event (header and attachments) may carry: within
    /// max_payload_bytes, and small enough that its base64 form fits any receiver's queue.
    pub max_binary_bytes: usize,
}

/// How the session's packets travel now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Polling,
    WebSocket,
}

/// Which WebSocket a frame arrived on (polling POST packets come `Via::Carrier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Carrier,
    Probe,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent an Engine.IO close packet.
    ClientClosed,
    /// No pong within ping_timeout.
    PingTimeout,
    /// No Socket.IO CONNECT within connect_timeout.
    ConnectTimeout,
    /// A packet the protocol does not allow here, or one that does not decode.
    Malformed,
    /// A Socket.IO event before the client CONNECTed to its namespace.
    EventBeforeConnect,
    /// Two GETs held at once.
    OverlappingPolls,
    /// A POST body over max_payload_bytes.
    PayloadTooLarge,
    /// More than max_queued_bytes waiting for a poll.
    SlowConsumer,
    /// The carrier WebSocket closed.
    TransportClosed,
    /// The connection of the held GET closed ("poll connection closed prematurely").
    PollClosed,
    /// The server is stopping.
    Shutdown,
    /// A registration without valid proof, or its token expired.
    Unauthorized,
    /// Another connection resumed the party of this one.
    Replaced,
    /// The client sent `[limits] rate_limit_close_after` events over its rate in a row.
    RateLimited,
}

impl CloseReason {
    /// For logs and the WebSocket close frame.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client closed",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ConnectTimeout => "no CONNECT in time",
            CloseReason::Malformed => "malformed packet",
            CloseReason::EventBeforeConnect => "event before CONNECT",
            CloseReason::OverlappingPolls => "overlapping polls",
            CloseReason::PayloadTooLarge => "payload too large",
            CloseReason::SlowConsumer => "slow consumer",
            CloseReason::TransportClosed => "websocket closed",
            CloseReason::PollClosed => "poll connection closed",
            CloseReason::Shutdown => "server shutting down",
            CloseReason::Unauthorized => "unauthorized",
            CloseReason::Replaced => "session replaced",
            CloseReason::RateLimited => "rate limited",
        }
    }
}

/// What the session asks of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutput {
    /// Write this text frame on the carrier WebSocket.
    ToCarrier(Utf8Bytes),
    /// Write this binary frame on the carrier WebSocket.
    ToCarrierBinary(bytes::Bytes),
    /// Write this text frame on the probing WebSocket.
    ToProbe(Utf8Bytes),
    /// Answer the held GET now with this payload (the loop may have none held: then drop it).
    AnswerHeld(Vec<u8>),
    /// The probe has become the carrier; frames that follow go to it.
    Upgraded,
    /// Close the probing WebSocket (protocol error); the session goes on polling.
    CloseProbe,
    /// The client left the Socket.IO namespace: its router party ends, the session stays.
    Left,
    /// The client CONNECTed asking to recover a party (`take_recovery` says which); the
    /// loop tries, then answers with `connect_answer`.
    Recover,
    /// The session is over: the router party ends, its sockets close.
    Closed(CloseReason),
}

/// Where a pushed packet went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Push {
    /// Write it on the carrier WebSocket now.
    Carrier(Utf8Bytes),
    /// Write it on the carrier WebSocket now, as a binary frame.
    CarrierBinary(bytes::Bytes),
    /// Queued for polling; `answer` when a GET is held and should be answered this turn.
    Queued { answer: bool },
    /// Nothing to do (closed, or it went into the output queue).
    Done,
    /// The queue is over max_queued_bytes: the session has closed as a slow consumer
    /// (drain its outputs).
    Overflow,
}

/// A Socket.IO packet for the router.
#[derive(Debug)]
pub enum Inbound<'a> {
    /// An EVENT on "/" while connected.
    Event {
        name: Cow<'a, str>,
        data: EventData<'a>,
        ack: Option<u64>,
    },
    /// A BINARY_EVENT on "/" with all its attachments.
    BinaryEvent(BinaryEvent),
}

/// The answer to an event that asked for an acknowledgement.
pub type Ack<'a> = Result<(), &'a Rejection>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    None,
    /// A WebSocket is open and may probe.
    Open,
    /// It answered `2probe`: polls return at once until the upgrade.
    Probed,
}

/// One Engine.IO session.
#[derive(Debug)]
pub struct EioSession {
    sid: Box<str>,
    sio_sid: Box<str>,
    config: SessionConfig,
    transport: Transport,
    /// Polling payload waiting for a GET (packets joined by the separator).
    queue: Vec<u8>,
    held: bool,
    probe: Probe,
    connected: bool,
    ping_due: Instant,
    pong_deadline: Option<Instant>,
    connect_deadline: Option<Instant>,
    closed: bool,
    /// A binary event whose attachments are arriving.
    pending: Option<PendingBinary>,
    /// Attachments still to come of a binary packet that is dropped (a BINARY_ACK).
    skip_attachments: usize,
    /// `auth.token` of the CONNECT to "/", for a registration that needs proof.
    auth_token: Option<Box<str>>,
    /// The private session id given in the CONNECT answer (connection state recovery).
    pid: Option<Box<str>>,
    /// What the CONNECT asked to recover: a resume token and the last offset seen.
    recovery: Option<(Box<str>, u64)>,
    out: VecDeque<SessionOutput>,
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

impl EioSession {
    /// A new session with Engine.IO id `sid`; `sio_sid` is given on CONNECT.
    pub fn new(
        now: Instant,
        sid: Box<str>,
        sio_sid: Box<str>,
        transport: Transport,
        config: SessionConfig,
    ) -> EioSession {
        EioSession {
            sid,
            sio_sid,
            config,
            transport,
            queue: Vec::new(),
            held: false,
            probe: Probe::None,
            connected: false,
            ping_due: now + config.ping_interval,
            pong_deadline: None,
            connect_deadline: Some(now + config.connect_timeout),
            closed: false,
            pending: None,
            skip_attachments: 0,
            auth_token: None,
            pid: None,
            recovery: None,
            out: VecDeque::new(),
        }
    }

    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The current transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether the client is CONNECTed to "/" (it hears broadcasts).
    pub fn is_connected(&self) -> bool {
        self.connected && !self.closed
    }

    /// The `auth.token` the client sent with its CONNECT, if any.
    pub fn auth_token(&self) -> Option<&str> {
        self.auth_token.as_deref()
    }

    /// Whether `Closed` has been output.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Settings changed by a reload (heartbeat and limits apply from the next timer on).
    pub fn set_config(&mut self, config: SessionConfig) {
        self.config = config;
    }

    /// The Engine.IO open packet, offering `upgrades`.
    pub fn open_packet(&self, upgrades: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        eio::encode_open(
            &mut out,
            &OpenInfo {
                sid: &self.sid,
                upgrades,
                ping_interval_ms: self.config.ping_interval.as_millis() as u64,
                ping_timeout_ms: self.config.ping_timeout.as_millis() as u64,
                max_payload: self.config.max_payload_bytes as u64,
            },
        );
        out
    }

    /// Queues one encoded packet (a whole Engine.IO packet) for the client.
    pub fn push(&mut self, packet: Utf8Bytes) -> Push {
        if self.closed {
            return Push::Done;
        }
        match self.transport {
            // Behind outputs still to drain: keep the order.
            Transport::WebSocket if self.out.is_empty() => Push::Carrier(packet),
            Transport::WebSocket => {
                self.out.push_back(SessionOutput::ToCarrier(packet));
                Push::Done
            }
            Transport::Polling => {
                if self.queue.len() + packet.len() > self.config.max_queued_bytes {
                    log::warn!(
                        "session {}: slow consumer, over {} bytes queued; dropped",
                        self.sid,
                        self.config.max_queued_bytes
                    );
                    self.close(CloseReason::SlowConsumer);
                    return Push::Overflow;
                }
                if !self.queue.is_empty() {
                    eio::encode_separator(&mut self.queue);
                }
                self.queue.extend_from_slice(packet.as_bytes());
                Push::Queued { answer: self.held }
            }
        }
    }

    /// Queues one binary packet (an attachment) for the client.
    pub fn push_binary(&mut self, bytes: bytes::Bytes) -> Push {
        if self.closed {
            return Push::Done;
        }
        match self.transport {
            Transport::WebSocket if self.out.is_empty() => Push::CarrierBinary(bytes),
            Transport::WebSocket => {
                self.out.push_back(SessionOutput::ToCarrierBinary(bytes));
                Push::Done
            }
            Transport::Polling => {
                let mut packet = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
                eio::encode_binary(&mut packet, &bytes);
                self.push(Utf8Bytes::from(packet))
            }
        }
    }

    /// A polling GET arrived: Some(payload) to answer at once, None when it is now held.
    pub fn handle_poll(&mut self, _now: Instant) -> Option<Vec<u8>> {
        if self.closed || self.transport != Transport::Polling {
            return None;
        }
        if self.held {
            // Two GETs at once: the client is confused; end the session (as engine.io does).
            self.close(CloseReason::OverlappingPolls);
            return None;
        }
        if !self.queue.is_empty() {
            return Some(std::mem::take(&mut self.queue));
        }
        if self.probe == Probe::Probed {
            // Upgrading: end this polling cycle at once so the client can switch.
            let mut body = Vec::new();
            eio::encode_noop(&mut body);
            return Some(body);
        }
        self.held = true;
        None
    }

    /// The payload for the held GET, if one is held and packets wait; it is then released.
    pub fn take_held_answer(&mut self) -> Option<Vec<u8>> {
        if !self.held || self.queue.is_empty() || self.closed {
            return None;
        }
        self.held = false;
        Some(std::mem::take(&mut self.queue))
    }

    /// The loop could not deliver an answer for the held GET: the packets wait for the next.
    pub fn handle_answer_undelivered(&mut self, mut body: Vec<u8>) {
        if self.closed || body.is_empty() {
            return;
        }
        if !self.queue.is_empty() {
            eio::encode_separator(&mut body);
            body.extend_from_slice(&self.queue);
        }
        self.queue = body;
    }

    /// The held GET's connection closed before it was answered: the session ends at once.
    pub fn handle_poll_gone(&mut self) {
        if self.held && !self.closed {
            self.held = false;
            self.close(CloseReason::PollClosed);
        }
    }

    /// Whether a WebSocket may probe this session (it then counts as the probe).
    pub fn handle_probe_open(&mut self) -> bool {
        if self.closed || self.transport != Transport::Polling || self.probe != Probe::None {
            return false;
        }
        self.probe = Probe::Open;
        true
    }

    /// The connection an answer for the held GET was meant for had died: the client is
    /// gone, the session ends.
    pub fn handle_poll_lost(&mut self) {
        self.held = false;
        self.close(CloseReason::PollClosed);
    }

    /// The probing WebSocket went away before the upgrade.
    pub fn handle_probe_gone(&mut self) {
        self.probe = Probe::None;
    }

    /// The carrier WebSocket went away: the session ends.
    pub fn handle_carrier_gone(&mut self) {
        if self.transport == Transport::WebSocket {
            self.close(CloseReason::TransportClosed);
        }
    }

    /// A POST body over the limit: the session ends.
    pub fn handle_oversized(&mut self) {
        self.close(CloseReason::PayloadTooLarge);
    }

    /// A polling payload or frame that does not decode: the session ends.
    pub fn handle_malformed(&mut self) {
        self.close(CloseReason::Malformed);
    }

    /// One Engine.IO text packet; an event for the router comes back, the rest is output.
    pub fn handle_packet<'a>(
        &mut self,
        now: Instant,
        via: Via,
        text: &'a str,
    ) -> Option<Inbound<'a>> {
        if self.closed {
            return None;
        }
        let packet = match eio::decode_packet(text) {
            Ok(p) => p,
            Err(eio::EioError::Binary) if via == Via::Carrier => {
                return match eio::decode_binary(text) {
                    Ok(bytes) => self.handle_binary(now, via, bytes),
                    Err(_) => {
                        self.close(CloseReason::Malformed);
                        None
                    }
                };
            }
            Err(_) => {
                match via {
                    Via::Carrier => self.close(CloseReason::Malformed),
                    Via::Probe => self.reject_probe(),
                }
                return None;
            }
        };
        match via {
            Via::Probe => {
                self.on_probe_packet(packet);
                None
            }
            Via::Carrier => self.on_packet(now, packet),
        }
    }

    /// One binary packet (a WebSocket binary frame, or a polling `b` packet decoded): the
    /// next attachment of the binary packet being read; a whole binary event comes back.
    pub fn handle_binary(
        &mut self,
        _now: Instant,
        via: Via,
        bytes: Vec<u8>,
    ) -> Option<Inbound<'static>> {
        if self.closed {
            return None;
        }
        if via == Via::Probe {
            self.reject_probe();
            return None;
        }
        if self.skip_attachments > 0 {
            self.skip_attachments -= 1;
            return None;
        }
        let Some(pending) = self.pending.as_mut() else {
            // An attachment nobody announced: the reference parser fails the same way.
            self.close(CloseReason::Malformed);
            return None;
        };
        match pending.push(bytes) {
            Step::More => None,
            Step::Done(event) => {
                self.pending = None;
                Some(Inbound::BinaryEvent(event))
            }
            Step::TooLarge => {
                self.close(CloseReason::PayloadTooLarge);
                None
            }
            Step::BadPlaceholders => {
                self.close(CloseReason::Malformed);
                None
            }
        }
    }

    /// Answers an event that carried an ack id.
    pub fn ack(&mut self, id: u64, result: Ack<'_>) {
        let mut out = Vec::new();
        match result {
            Ok(()) => sio::encode_ack(&mut out, id, "[{\"ok\":true}]"),
            Err(r) => {
                sio::begin_ack(&mut out, id);
                let body = AckError {
                    ok: false,
                    error: AckErrorBody {
                        code: r.code.as_str(),
                        message: &r.message,
                    },
                };
                let _ = serde_json::to_writer(&mut out, &body);
                sio::end_packet(&mut out);
            }
        }
        self.emit(out);
    }

    /// Ends the session (the server's decision: shutdown, limits).
    pub fn close(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        if self.held {
            // engine.io answers a pending poll: a noop when the client asked to close,
            // the close packet when the server ends the session.
            // Packets still queued (an error saying why, say) go out first.
            let mut body = std::mem::take(&mut self.queue);
            if !body.is_empty() {
                eio::encode_separator(&mut body);
            }
            match reason {
                CloseReason::ClientClosed => eio::encode_noop(&mut body),
                _ => eio::encode_close(&mut body),
            }
            self.held = false;
            self.out.push_back(SessionOutput::AnswerHeld(body));
        }
        self.closed = true;
        self.connected = false;
        self.queue = Vec::new();
        self.out.push_back(SessionOutput::Closed(reason));
    }

    /// Fires due timers: connect timeout, pong timeout, ping. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.connect_deadline.is_some_and(|t| t <= now) {
            return self.close(CloseReason::ConnectTimeout);
        }
        if self.pong_deadline.is_some_and(|t| t <= now) {
            return self.close(CloseReason::PingTimeout);
        }
        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
            // A binary event whose attachments stopped coming holds memory: it ends here.
            return self.close(CloseReason::Malformed);
        }
        if self.ping_due <= now {
            // Deadlines count from when the ping was due, not from when the loop got to it,
            // so a late turn neither delays a timeout nor drifts the heartbeat (unless it is
            // so late that the client would have had no time at all to answer).
            let due = self.ping_due;
            self.ping_due = (due + self.config.ping_interval).max(now);
            if self.pong_deadline.is_none() {
                let deadline = due + self.config.ping_timeout;
                self.pong_deadline = Some(match deadline > now {
                    true => deadline,
                    false => now + self.config.ping_timeout,
                });
            }
            let mut out = Vec::new();
            eio::encode_ping(&mut out);
            self.emit(out);
        }
    }

    /// When `handle_timeout` next needs to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let pending = self.pending.as_ref().map(|p| p.deadline);
        [
            Some(self.ping_due),
            self.pong_deadline,
            self.connect_deadline,
            pending,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<SessionOutput> {
        self.out.pop_front()
    }

    /// Sends a packet the session itself made (pong, CONNECT answer, ack, ping).
    fn emit(&mut self, bytes: Vec<u8>) {
        let Ok(packet) = Utf8Bytes::try_from(bytes) else {
            log::error!("bug: non-UTF-8 packet for session {} dropped", self.sid);
            return;
        };
        match self.push(packet) {
            Push::Carrier(p) => self.out.push_back(SessionOutput::ToCarrier(p)),
            Push::Queued { answer: true } => {
                if let Some(body) = self.take_held_answer() {
                    self.out.push_back(SessionOutput::AnswerHeld(body));
                }
            }
            Push::Queued { answer: false }
            | Push::Done
            | Push::Overflow
            | Push::CarrierBinary(_) => {}
        }
    }

    /// The probe sent something it must not: it is closed, polling goes on.
    fn reject_probe(&mut self) {
        self.probe = Probe::None;
        self.out.push_back(SessionOutput::CloseProbe);
    }

    /// A packet on the probing WebSocket.
    fn on_probe_packet(&mut self, p: eio::Packet<'_>) {
        if self.probe == Probe::None {
            return;
        }
        match p.kind {
            PacketType::Ping if p.data == "probe" => {
                self.probe = Probe::Probed;
                let mut out = Vec::new();
                eio::encode_pong_probe(&mut out);
                if let Ok(frame) = Utf8Bytes::try_from(out) {
                    self.out.push_back(SessionOutput::ToProbe(frame));
                }
                // Let a held poll return so the client can pause polling.
                if self.held {
                    self.held = false;
                    let mut noop = Vec::new();
                    eio::encode_noop(&mut noop);
                    self.out.push_back(SessionOutput::AnswerHeld(noop));
                }
            }
            PacketType::Upgrade if self.probe == Probe::Probed => self.upgrade(),
            PacketType::Noop => {}
            _ => self.reject_probe(),
        }
    }

    /// The probe becomes the carrier; queued packets follow over it, one frame each.
    fn upgrade(&mut self) {
        self.probe = Probe::None;
        self.transport = Transport::WebSocket;
        self.out.push_back(SessionOutput::Upgraded);
        if self.held {
            self.held = false;
            let mut noop = Vec::new();
            eio::encode_noop(&mut noop);
            self.out.push_back(SessionOutput::AnswerHeld(noop));
        }
        let queue = std::mem::take(&mut self.queue);
        if queue.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&queue);
        for packet in text.split(eio::SEPARATOR) {
            // Attachments queued as `b<base64>` go as binary frames, as the spec wants.
            let output = match eio::decode_binary(packet) {
                Ok(bytes) => SessionOutput::ToCarrierBinary(bytes.into()),
                Err(_) => SessionOutput::ToCarrier(Utf8Bytes::from(packet.to_owned())),
            };
            self.out.push_back(output);
        }
    }

    /// A packet from the carrier (a WebSocket frame or one record of a POST).
    fn on_packet<'a>(&mut self, now: Instant, p: eio::Packet<'a>) -> Option<Inbound<'a>> {
        match p.kind {
            PacketType::Pong => self.pong_deadline = None,
            PacketType::Ping => {
                let mut out = Vec::new();
                eio::encode_pong(&mut out, p.data);
                self.emit(out);
            }
            PacketType::Message if self.pending.is_some() || self.skip_attachments > 0 => {
                // Text where an attachment was due: the reference parser fails the same way.
                self.close(CloseReason::Malformed);
            }
            PacketType::Message => return self.on_sio(now, p.data),
            PacketType::Noop => {}
            PacketType::Close => self.close(CloseReason::ClientClosed),
            PacketType::Open | PacketType::Upgrade => self.close(CloseReason::Malformed),
        }
        None
    }
}

mod socketio;

#[cfg(test)]
#[path = "engineio_tests.rs"]
mod tests;
