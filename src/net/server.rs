//! The event loop: one mio `Poll` owns the listener, every connection and the router.
//!
//! Each turn: poll; accept and read every ready socket until WouldBlock, feeding each
//! decoded event to the router and queueing its outputs; fire due timers; send the coalesced
//! free-agent count; flush dirty connections; reap the dead. Then sleep until the next
//! deadline. A connection's failure ends that connection only; only start-up fails the loop.
use super::engine::{Session, SidSource, SOCKETIO_PATH};
use super::http::{self, Head, Parsed};
use super::signals::Signals;
use super::stream::Stream;
use crate::config::{Config, CorsPolicy};
use crate::metrics::{self, Metrics, RejectReason, Transport};
use crate::protocol::{native, socketio};
use crate::routing::{
    ClientEvent, ConnId, ErrorCode, EventData, Output, Rejection, Router, ServerEvent,
};
use log::{debug, error, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_CONN_TOKEN: usize = 2;

/// TCP keepalive: first probe after this much silence, then every interval, so many times.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 6;
/// Pending connections the kernel may queue (capped by net.core.somaxconn).
const LISTEN_BACKLOG: i32 = 4096;
/// Native WebSocket endpoint path.
pub const NATIVE_PATH: &str = "/ws";
/// Messages read from one connection before others get a turn.
const READ_BUDGET: usize = 256;
/// Time a closing connection gets to finish the close handshake.
const CLOSE_GRACE: Duration = Duration::from_millis(1000);
/// Time clients get to answer the close frames sent at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);
/// Delay before accepting again after the process ran out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Initial read buffer per WebSocket; it grows for larger messages.
const WS_READ_BUFFER: usize = 4096;
/// Bytes buffered per connection within a turn before a write is attempted early.
const WS_WRITE_BATCH: usize = 16 * 1024;

/// Why the loop stopped with an error.
#[derive(Debug)]
pub enum LoopError {
    /// The listener could not be bound.
    Bind(io::Error),
    /// Polling or signal set-up failed.
    Io(io::Error),
}

/// The wire framing a WebSocket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Native,
    /// Engine.IO packets of the session with this id.
    SocketIo(usize),
}

pub(super) enum Phase {
    /// Reading the HTTP request head.
    Head { stream: Stream, buf: Vec<u8> },
    /// Reading a request body: `buf` holds head and body, `need` bytes in all.
    Body {
        stream: Stream,
        head: Head,
        buf: Vec<u8>,
        need: usize,
    },
    /// A long-polling GET waiting for its session to have something to send.
    Held {
        stream: Stream,
        session: usize,
        origin: Option<String>,
        keep_alive: bool,
        carry: Vec<u8>,
    },
    /// Writing an HTTP response; then closing, or reading the next request (`carry` holds
    /// bytes already read past this one).
    Reply {
        stream: Stream,
        close: bool,
        carry: Vec<u8>,
    },
    /// An open (or closing) WebSocket.
    Ws {
        ws: Box<WebSocket<Stream>>,
        framing: Framing,
        closing: bool,
    },
    /// Only while a phase is being replaced.
    Gone,
}

pub(super) struct Conn {
    pub(super) phase: Phase,
    pub(super) deadline: Option<Instant>,
    dirty: bool,
    pub(super) dead: bool,
    /// The router has been told this connection is gone.
    ended: bool,
    /// Counted in `support_open_connections` under this transport.
    transport: Option<Transport>,
    /// Registered for WRITABLE: only while a flush left bytes queued.
    write_interest: bool,
}

impl Conn {
    /// The connection's stream, in whatever phase.
    fn stream(&mut self) -> Option<&mut Stream> {
        match &mut self.phase {
            Phase::Head { stream, .. }
            | Phase::Body { stream, .. }
            | Phase::Held { stream, .. }
            | Phase::Reply { stream, .. } => Some(stream),
            Phase::Ws { ws, .. } => Some(ws.get_mut()),
            Phase::Gone => None,
        }
    }

    /// The connection's socket, in whatever phase.
    fn tcp(&mut self) -> Option<&mut TcpStream> {
        self.stream().map(|s| &mut s.tcp)
    }
}

/// The daemon's event loop and everything it owns.
pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    signals: Signals,
    /// Keyed by token (server-assigned, so a fast non-keyed hash is safe).
    pub(super) conns: FxHashMap<usize, Conn>,
    pub(super) next_token: usize,
    pub(super) router: Router,
    pub(super) config: Config,
    pub(super) sessions: FxHashMap<usize, Session>,
    pub(super) sids: HashMap<Box<str>, usize>,
    pub(super) sid_source: SidSource,
    pub(super) polls_ready: Vec<usize>,
    config_path: Option<PathBuf>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    dirty: Vec<usize>,
    dead: Vec<usize>,
    pending_reads: Vec<usize>,
    accept_retry: Option<Instant>,
    pub(super) shutdown_at: Option<Instant>,
    hooks: Hooks,
    pub(super) metrics: Metrics,
    /// The time at the start of this loop turn.
    pub(super) now: Instant,
}

/// Stages of a config reload, as told to the reload hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadStage {
    Started,
    Applied,
    Failed,
}

/// Told of each reload stage.
pub type ReloadHook = Box<dyn FnMut(ReloadStage)>;

/// Callbacks to the rest of the process (service manager, metrics heartbeat).
#[derive(Default)]
pub struct Hooks {
    /// Called once per loop turn.
    pub on_turn: Option<Box<dyn FnMut()>>,
    /// Called when a reload starts and when it is applied or has failed.
    pub on_reload: Option<ReloadHook>,
    /// Called when shutdown begins.
    pub on_stopping: Option<Box<dyn FnMut()>>,
    /// The loop turns at least this often (for heartbeats and the watchdog).
    pub tick: Option<Duration>,
}

impl Server {
    /// Binds the listener and installs signal handling.
    pub fn bind(
        config: Config,
        config_path: Option<PathBuf>,
        metrics: Metrics,
    ) -> Result<Server, LoopError> {
        let poll = Poll::new().map_err(LoopError::Io)?;
        let mut listener = listen(config.listen).map_err(LoopError::Bind)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(LoopError::Io)?;
        let signals = Signals::install(poll.registry(), SIGNALS).map_err(LoopError::Io)?;
        Ok(Server {
            poll,
            listener: Some(listener),
            signals,
            conns: FxHashMap::default(),
            next_token: FIRST_CONN_TOKEN,
            router: Router::new(),
            config,
            sessions: FxHashMap::default(),
            sids: HashMap::new(),
            sid_source: SidSource::new(),
            polls_ready: Vec::new(),
            config_path,
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            dead: Vec::new(),
            pending_reads: Vec::new(),
            accept_retry: None,
            shutdown_at: None,
            hooks: Hooks::default(),
            metrics,
            now: Instant::now(),
        })
    }

    /// The bound client address.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Sets the process hooks.
    pub fn set_hooks(&mut self, hooks: Hooks) {
        self.hooks = hooks;
    }

    /// Runs until a shutdown signal has been handled.
    pub fn run(&mut self) -> Result<(), LoopError> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(LoopError::Io(e));
            }
            let now = Instant::now();
            self.now = now;
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(now),
                    SIGNALS => self.handle_signals(now),
                    Token(t) => {
                        let closed = event.is_read_closed() || event.is_error();
                        if let Some(stream) = self.conns.get_mut(&t).and_then(Conn::stream) {
                            stream.mark_readable(closed);
                        }
                        if closed {
                            self.peer_closed(t);
                        }
                        if event.is_writable() {
                            self.mark_dirty(t);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read_conn(now, t);
                        }
                    }
                }
            }
            for t in std::mem::take(&mut self.pending_reads) {
                self.read_conn(now, t);
            }
            self.fire_timers(now);
            self.broadcast_available();
            self.flush_polls();
            self.flush_dirty(now);
            self.reap(now);
            self.update_gauges();
            if let Some(f) = self.hooks.on_turn.as_mut() {
                f();
            }
            if let Some(at) = self.shutdown_at {
                if self.conns.is_empty() || now >= at {
                    info!(
                        "shutdown complete ({} connections still open were dropped)",
                        self.conns.len()
                    );
                    return Ok(());
                }
            }
        }
    }

    /// How long poll may sleep: until the next timer, or not at all with reads pending.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.pending_reads.is_empty() {
            return Some(Duration::ZERO);
        }
        let next = [
            self.timers.peek().map(|Reverse((t, _))| *t),
            self.router.poll_timeout(),
            self.accept_retry,
            self.shutdown_at,
            self.hooks.tick.map(|t| now + t),
        ]
        .into_iter()
        .flatten()
        .min();
        next.map(|t| t.saturating_duration_since(now))
    }

    /// Accepts every pending connection (until WouldBlock).
    fn accept_all(&mut self, now: Instant) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((tcp, peer)) => self.admit(now, tcp, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors or memory: try again shortly (the edge is spent).
                    warn!("accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                    self.accept_retry = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    /// Registers one accepted socket, or refuses it at the connection limit.
    fn admit(&mut self, now: Instant, mut tcp: TcpStream, peer: std::net::SocketAddr) {
        if self.conns.len() >= self.config.limits.max_connections {
            use std::io::Write;
            let _ = tcp.write(&http::error_response(503, "connection limit reached\n"));
            debug!("refused {peer}: connection limit");
            self.metrics.connection_rejected(RejectReason::Limit);
            return;
        }
        // Linux copies TCP_NODELAY and the keepalive settings from the listener.
        if !cfg!(target_os = "linux") {
            let _ = set_stream_options(&socket2::SockRef::from(&tcp));
        }
        let token = self.next_token;
        self.next_token += 1;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut tcp, Token(token), Interest::READABLE)
        {
            warn!("cannot register connection from {peer}: {e}");
            return;
        }
        let deadline = now + self.config.limits.handshake_timeout;
        self.conns.insert(
            token,
            Conn {
                phase: Phase::Head {
                    stream: Stream::new(tcp),
                    buf: Vec::new(),
                },
                deadline: Some(deadline),
                dirty: false,
                dead: false,
                ended: false,
                transport: None,
                write_interest: false,
            },
        );
        self.push_timer(deadline, token);
        // Edge-triggered: the request may already be waiting.
        self.read_conn(now, token);
    }

    /// Reads what a ready connection has, according to its phase.
    fn read_conn(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return; // a sporadic event for a reaped connection
        };
        if conn.dead {
            return;
        }
        match conn.phase {
            Phase::Head { .. } => self.read_head(now, token),
            Phase::Body { .. } => self.read_body(now, token),
            // Requests behind a held poll or a reply wait in the kernel until the connection
            // is back to reading heads (its hang-up is seen through the poll's flags).
            Phase::Reply { .. } | Phase::Held { .. } => {}
            Phase::Ws { .. } => self.read_ws(now, token),
            Phase::Gone => {}
        }
    }

    /// The peer hung up: a held poll nobody waits for is dropped at once (a reply still
    /// goes out, the peer may only have half-closed).
    fn peer_closed(&mut self, token: usize) {
        if let Some(Phase::Held { .. }) = self.conns.get(&token).map(|c| &c.phase) {
            self.kill(token);
        }
    }

    /// Reads and parses a request head; a complete one is routed.
    fn read_head(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get_mut(&token) else {
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
                Ok(0) => {
                    self.kill(token);
                    return;
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    match http::parse_head(buf) {
                        Parsed::Partial => continue,
                        done => break done,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.kill(token);
                    return;
                }
            }
        };
        match parsed {
            Parsed::Complete(head) => self.route_request(now, token, head),
            _ => {
                self.metrics.connection_rejected(RejectReason::BadRequest);
                self.reply(token, http::error_response(400, "bad request\n"))
            }
        }
    }

    /// Reads a request body until complete, then hands it to the Engine.IO layer.
    pub(super) fn read_body(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let Phase::Body {
            stream, buf, need, ..
        } = &mut conn.phase
        else {
            return;
        };
        let mut chunk = [0u8; 4096];
        while buf.len() < *need {
            match stream.read(&mut chunk) {
                Ok(0) => return self.kill(token),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.kill(token),
            }
        }
        let Phase::Body {
            head, buf, need, ..
        } = &conn.phase
        else {
            return;
        };
        let head = head.clone();
        let body = buf[head.len..*need].to_vec();
        self.finish_post(now, token, head, &body);
    }

    /// Decides what a complete request head gets.
    fn route_request(&mut self, now: Instant, token: usize, head: Head) {
        if let Some(origin) = head.header("origin") {
            if !self.config.cors.allows(origin) {
                debug!("refused origin {origin:?}");
                self.metrics.connection_rejected(RejectReason::Origin);
                return self.reply(token, http::error_response(403, "origin not allowed\n"));
            }
        }
        match head.path() {
            SOCKETIO_PATH | "/socket.io" => self.engine_request(now, token, head),
            NATIVE_PATH => match head.websocket_key() {
                Some(key) => {
                    let key = key.to_owned();
                    self.upgrade(token, &head, &key, Framing::Native)
                }
                None => self.reply(
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
                self.reply(token, http::error_response(404, "not found\n"))
            }
        }
    }

    /// Answers 101 and turns the connection into a WebSocket.
    pub(super) fn upgrade(&mut self, token: usize, head: &Head, key: &str, framing: Framing) {
        let ws_config = self.ws_config(framing);
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
        let Phase::Head { mut stream, buf } = phase else {
            conn.phase = phase;
            return;
        };
        stream.queue_raw(&http::switching_protocols(key));
        let rest = buf[head.len..].to_vec();
        let ws = WebSocket::from_partially_read(stream, rest, WsRole::Server, Some(ws_config));
        conn.phase = Phase::Ws {
            ws: Box::new(ws),
            framing,
            closing: false,
        };
        conn.deadline = None;
        // A Socket.IO session is counted under its transport by the session, not the socket.
        if framing == Framing::Native {
            conn.transport = Some(Transport::Native);
            self.metrics.connection_opened(Transport::Native);
        }
        self.mark_dirty(token);
        debug!("connection {token} upgraded ({framing:?})");
        // Frames may have arrived with the head.
        self.pending_reads.push(token);
    }

    /// Buffer sizes and limits for a new WebSocket of this framing.
    fn ws_config(&self, framing: Framing) -> WebSocketConfig {
        let l = &self.config.limits;
        let max_message = match framing {
            Framing::Native => l.max_message_bytes,
            Framing::SocketIo(_) => self.config.socketio.max_payload_bytes,
        };
        WebSocketConfig::default()
            .read_buffer_size(WS_READ_BUFFER)
            .write_buffer_size(WS_WRITE_BATCH)
            .max_write_buffer_size(l.max_outbound_bytes.max(max_message + 1024))
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message))
    }

    /// Sends a final HTTP response, then closes.
    pub(super) fn reply(&mut self, token: usize, response: Vec<u8>) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
        match phase {
            Phase::Head { mut stream, .. }
            | Phase::Body { mut stream, .. }
            | Phase::Held { mut stream, .. }
            | Phase::Reply { mut stream, .. } => {
                stream.queue_raw(&response);
                conn.phase = Phase::Reply {
                    stream,
                    close: true,
                    carry: Vec::new(),
                };
                self.mark_dirty(token);
                self.reply_deadline(token);
            }
            other => conn.phase = other,
        }
    }

    /// Reads WebSocket messages until WouldBlock or the read budget is spent.
    fn read_ws(&mut self, now: Instant, token: usize) {
        for _ in 0..READ_BUDGET {
            let Some(conn) = self.conns.get_mut(&token) else {
                return;
            };
            let Phase::Ws { ws, framing, .. } = &mut conn.phase else {
                return;
            };
            let framing = *framing;
            if conn.dead {
                return;
            }
            match ws.read() {
                Ok(Message::Text(text)) => match framing {
                    Framing::Native => self.on_text(now, token, &text),
                    Framing::SocketIo(id) => self.on_engine_text(now, token, id, &text),
                },
                // Socket.IO binary attachments belong to an event already refused.
                Ok(Message::Binary(_)) if matches!(framing, Framing::SocketIo(_)) => {}
                Ok(Message::Binary(_)) => self.close_ws(
                    now,
                    token,
                    CloseCode::Unsupported,
                    "binary frames are not supported",
                ),
                Ok(Message::Close(_)) => {
                    // tungstenite queued the reply; the next read or flush completes it.
                    self.mark_dirty(token);
                    self.end_session(now, token);
                    self.closing_started(now, token);
                    if let Framing::SocketIo(id) = framing {
                        self.engine_ws_gone(now, token, id);
                    }
                }
                Ok(_) => self.mark_dirty(token), // ping: a pong is queued
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(tungstenite::Error::Capacity(_)) => {
                    self.close_ws(now, token, CloseCode::Size, "message too big")
                }
                Err(tungstenite::Error::Utf8(_)) => {
                    self.close_ws(now, token, CloseCode::Invalid, "invalid UTF-8")
                }
                Err(tungstenite::Error::Protocol(p)) => {
                    debug!("connection {token}: protocol error: {p}");
                    self.close_ws(now, token, CloseCode::Protocol, "protocol error");
                    self.kill(token);
                    return;
                }
                Err(_) => {
                    self.kill(token);
                    return;
                }
            }
        }
        self.pending_reads.push(token);
    }

    /// One text message from a WebSocket.
    fn on_text(&mut self, now: Instant, token: usize, text: &str) {
        let conn = ConnId(token as u64);
        let result = match native::decode(text) {
            Err(rejection) => {
                self.metrics.error(rejection.code.as_str());
                Err((rejection, None))
            }
            Ok(env) => self
                .route_event(now, conn, &env.event, env.data)
                .map_err(|r| (r, Some(env.event.clone()))),
        };
        if let Err((rejection, name)) = result {
            self.send(conn, &ServerEvent::error(rejection, name.as_deref()));
        }
        self.drain_router();
    }

    /// Counts and routes one named event; the caller reports a rejection its own way.
    pub(super) fn route_event(
        &mut self,
        now: Instant,
        conn: ConnId,
        name: &str,
        data: EventData<'_>,
    ) -> Result<(), Rejection> {
        let event = ClientEvent::from_name(name);
        let label = event.map_or(metrics::Event::Other, received_label);
        self.metrics.events_received(label).inc();
        let result = match event {
            None => Err(Rejection::new(ErrorCode::UnknownEvent, "no such event")),
            Some(event) => self.router.handle_event(now, conn, event, data),
        };
        if let Err(r) = &result {
            debug!("{conn:?}: {} ({})", r.code.as_str(), r.message);
            self.metrics.error(r.code.as_str());
        }
        result
    }

    /// Mirrors the router's counts into the gauges.
    fn update_gauges(&self) {
        let s = self.router.stats();
        self.metrics.connected_users.set(s.users as i64);
        self.metrics.connected_agents.set(s.agents as i64);
        self.metrics.available_agents.set(s.available_agents as i64);
        self.metrics.active_calls.set(s.active_calls as i64);
    }

    /// Delivers everything the router has queued.
    pub(super) fn drain_router(&mut self) {
        while let Some(output) = self.router.poll_output() {
            match output {
                Output::Send { to, event } => self.send(to, &event),
                Output::CallStarted { call } => {
                    self.metrics.call_started();
                    debug!("call {} started", call.0)
                }
                Output::CallFinished {
                    call,
                    reason,
                    duration,
                } => {
                    self.metrics
                        .call_ended(metrics::EndReason::from_name(reason.as_str()), duration);
                    debug!(
                        "call {} ended: {} after {:.1}s",
                        call.0,
                        reason.as_str(),
                        duration.as_secs_f64()
                    )
                }
            }
        }
    }

    /// Encodes and queues one event for a router connection (a native WebSocket or a
    /// Socket.IO session), if it can still take one.
    pub(super) fn send(&mut self, to: ConnId, event: &ServerEvent) {
        let id = to.0 as usize;
        self.metrics.events_sent(sent_label(event)).inc();
        if let Some(Conn {
            phase:
                Phase::Ws {
                    framing: Framing::Native,
                    ..
                },
            ..
        }) = self.conns.get(&id)
        {
            let mut out = Vec::with_capacity(event.size_hint());
            native::encode(event, &mut out);
            return self.write_text(id, out);
        }
        if self.sessions.contains_key(&id) {
            let mut out = Vec::with_capacity(event.size_hint());
            socketio::encode(event, &mut out);
            self.session_push_bytes(id, out);
        }
    }

    /// Queues a text message built in `bytes` (always UTF-8: JSON and ASCII framing).
    pub(super) fn write_text(&mut self, token: usize, bytes: Vec<u8>) {
        match Utf8Bytes::try_from(bytes) {
            Ok(text) => self.write_message(token, text),
            Err(_) => error!("bug: non-UTF-8 frame for connection {token} dropped"),
        }
    }

    /// Adds a timer entry; stale ones are skipped when they fire.
    pub(super) fn push_timer(&mut self, at: Instant, id: usize) {
        self.timers.push(Reverse((at, id)));
    }

    /// Queues one text message on a WebSocket; a slow consumer is dropped.
    pub(super) fn write_message(&mut self, token: usize, text: Utf8Bytes) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let Phase::Ws { ws, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing || conn.dead {
            return;
        }
        match ws.write(Message::Text(text)) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(tungstenite::Error::WriteBufferFull(_)) => {
                warn!(
                    "connection {token}: slow consumer, over {} bytes queued; dropped",
                    self.config.limits.max_outbound_bytes
                );
                self.metrics.slow_consumer();
                return self.kill(token);
            }
            Err(_) => return self.kill(token),
        }
        // Queued: flush before the next poll (marked here, not through a second lookup).
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(token);
        }
    }

    /// Sends the free-agent count to every open WebSocket, once per turn at most.
    fn broadcast_available(&mut self) {
        let Some(count) = self.router.poll_available_agents() else {
            return;
        };
        let event = ServerEvent::AvailableAgents { count };
        let mut native_bytes = Vec::with_capacity(64);
        native::encode(&event, &mut native_bytes);
        let mut sio_bytes = Vec::with_capacity(64);
        socketio::encode(&event, &mut sio_bytes);
        let (Ok(native_bytes), Ok(sio_bytes)) = (
            Utf8Bytes::try_from(native_bytes),
            Utf8Bytes::try_from(sio_bytes),
        ) else {
            return;
        };
        let tokens: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                matches!(
                    c.phase,
                    Phase::Ws {
                        closing: false,
                        framing: Framing::Native,
                        ..
                    }
                ) && !c.dead
            })
            .map(|(t, _)| *t)
            .collect();
        for &token in &tokens {
            self.write_message(token, native_bytes.clone());
        }
        let sessions = self.broadcast_sessions(&sio_bytes);
        self.metrics
            .events_sent(metrics::Event::GetAvailableAgents)
            .inc_by((tokens.len() + sessions) as u64);
    }

    /// Starts a server-side close with `code`.
    pub(super) fn close_ws(
        &mut self,
        now: Instant,
        token: usize,
        code: CloseCode,
        reason: &'static str,
    ) {
        self.end_session(now, token);
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let Phase::Ws { ws, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing {
            return;
        }
        *closing = true;
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        match ws.close(Some(frame)) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return self.kill(token),
        }
        self.closing_started(now, token);
        self.mark_dirty(token);
    }

    /// A WebSocket is closing: it gets CLOSE_GRACE to finish, then it is dropped.
    fn closing_started(&mut self, now: Instant, token: usize) {
        let deadline = now + CLOSE_GRACE;
        if let Some(conn) = self.conns.get_mut(&token) {
            if let Phase::Ws { closing, .. } = &mut conn.phase {
                *closing = true;
            }
            if conn.deadline.is_none_or(|d| d > deadline) {
                conn.deadline = Some(deadline);
                self.push_timer(deadline, token);
            }
        }
    }

    /// A response is being written: it must be out within the handshake timeout.
    pub(super) fn reply_deadline(&mut self, token: usize) {
        let deadline = self.now + self.config.limits.handshake_timeout;
        if let Some(conn) = self.conns.get_mut(&token) {
            conn.deadline = Some(deadline);
            self.push_timer(deadline, token);
        }
    }

    /// Tells the router the connection's session is over (once).
    fn end_session(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if conn.ended {
            return;
        }
        conn.ended = true;
        self.router.handle_disconnect(now, ConnId(token as u64));
        self.drain_router();
    }

    /// Marks a connection for reaping at the end of the turn.
    fn kill(&mut self, token: usize) {
        if let Some(conn) = self.conns.get_mut(&token) {
            if !conn.dead {
                conn.dead = true;
                self.dead.push(token);
            }
        }
    }

    /// Puts a connection on the flush list for the end of this turn.
    pub(super) fn mark_dirty(&mut self, token: usize) {
        if let Some(conn) = self.conns.get_mut(&token) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(token);
            }
        }
    }

    /// Writes what every dirty connection has queued, as far as the socket takes it.
    fn flush_dirty(&mut self, now: Instant) {
        let registry = self.poll.registry();
        for token in std::mem::take(&mut self.dirty) {
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            conn.dirty = false;
            if conn.dead {
                continue;
            }
            let mut blocked = false;
            let finished = match &mut conn.phase {
                Phase::Head { .. } | Phase::Body { .. } | Phase::Held { .. } | Phase::Gone => false,
                Phase::Reply { stream, close, .. } => match stream.drain_raw() {
                    Ok(()) if *close => true,
                    Ok(()) => {
                        // Keep-alive: back to reading the next request.
                        let phase = std::mem::replace(&mut conn.phase, Phase::Gone);
                        if let Phase::Reply {
                            mut stream, carry, ..
                        } = phase
                        {
                            // Bytes may have arrived (or be carried) while we were replying.
                            stream.mark_readable(false);
                            conn.phase = Phase::Head { stream, buf: carry };
                            let deadline = now + self.config.limits.handshake_timeout;
                            conn.deadline = Some(deadline);
                            self.timers.push(Reverse((deadline, token)));
                            self.pending_reads.push(token);
                        }
                        false
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        blocked = true;
                        false
                    }
                    Err(_) => true,
                },
                Phase::Ws { ws, .. } => match ws.flush() {
                    Ok(()) => false,
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        blocked = true;
                        false
                    }
                    Err(_) => true,
                },
            };
            if finished {
                conn.dead = true;
                self.dead.push(token);
                continue;
            }
            // Ask for WRITABLE only while a backlog remains: no wake-ups for every ACK.
            if blocked != conn.write_interest {
                let interest = match blocked {
                    true => Interest::READABLE | Interest::WRITABLE,
                    false => Interest::READABLE,
                };
                conn.write_interest = blocked;
                if let Some(tcp) = conn.tcp() {
                    if registry.reregister(tcp, Token(token), interest).is_err() {
                        conn.dead = true;
                        self.dead.push(token);
                    }
                }
            }
        }
    }

    /// Runs due timers: accept retry, the router's, connections' and sessions' deadlines.
    fn fire_timers(&mut self, now: Instant) {
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_retry = None;
            self.accept_all(now);
        }
        self.router.handle_timeout(now);
        self.drain_router();
        while let Some(Reverse((at, token))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(current) = self.session_timer_due(token, at) {
                if current {
                    self.session_timer(now, token);
                }
                continue;
            }
            let Some(conn) = self.conns.get(&token) else {
                continue;
            };
            if conn.deadline != Some(at) {
                continue; // superseded
            }
            match conn.phase {
                Phase::Head { .. } => {
                    debug!("connection {token}: handshake timeout");
                    self.reply(token, http::error_response(408, "request timeout\n"));
                    if let Some(c) = self.conns.get_mut(&token) {
                        c.deadline = None;
                    }
                }
                _ => self.kill(token),
            }
        }
    }

    /// Removes dead connections, telling the router first.
    fn reap(&mut self, now: Instant) {
        while !self.dead.is_empty() {
            for token in std::mem::take(&mut self.dead) {
                self.end_session(now, token);
                match self.conns.get(&token).map(|c| &c.phase) {
                    Some(Phase::Held { session, .. }) => {
                        let id = *session;
                        self.held_gone(token, id);
                    }
                    Some(Phase::Ws {
                        framing: Framing::SocketIo(id),
                        ..
                    }) => {
                        let id = *id;
                        self.engine_ws_gone(now, token, id);
                    }
                    _ => {}
                }
                if let Some(conn) = self.conns.remove(&token) {
                    if let Some(t) = conn.transport {
                        self.metrics.connection_closed(t);
                    }
                    // Dropping the socket closes it, which also removes it from epoll.
                    drop(conn);
                }
            }
        }
        // Sessions ended above may have queued messages for live connections.
        self.flush_polls();
        self.flush_dirty(now);
    }

    /// Acts on the signals received since the last turn.
    fn handle_signals(&mut self, now: Instant) {
        let pending = self.signals.take();
        if pending.reload {
            self.reload();
        }
        if pending.shutdown && self.shutdown_at.is_none() {
            self.begin_shutdown(now);
        }
    }

    /// Re-reads the config file; all or nothing.
    fn reload(&mut self) {
        let Some(path) = self.config_path.clone() else {
            warn!("SIGHUP ignored: running on built-in defaults, no config file to re-read");
            return;
        };
        if let Some(f) = self.hooks.on_reload.as_mut() {
            f(ReloadStage::Started);
        }
        match Config::load(&path) {
            Ok(new) => {
                if new.listen != self.config.listen {
                    warn!(
                        "reload: server address changed to {} (still on {}); it takes effect after a restart",
                        new.listen, self.config.listen
                    );
                }
                if new.metrics != self.config.metrics {
                    warn!("reload: metrics address changed; it takes effect after a restart");
                }
                if new.cors == CorsPolicy::Any && self.config.cors != CorsPolicy::Any {
                    warn!("cors_origins = [\"*\"]: any web origin may connect");
                }
                crate::log::set_level(new.log_level);
                let listen = self.config.listen;
                let metrics = self.config.metrics;
                self.config = Config {
                    listen,
                    metrics,
                    ..new
                };
                info!("configuration reloaded from {}", path.display());
                self.metrics.config_reload(true);
                if let Some(f) = self.hooks.on_reload.as_mut() {
                    f(ReloadStage::Applied);
                }
            }
            Err(e) => {
                error!("reload failed, keeping the running configuration: {e}");
                self.metrics.config_reload(false);
                if let Some(f) = self.hooks.on_reload.as_mut() {
                    f(ReloadStage::Failed);
                }
            }
        }
    }

    /// Stops accepting and sends close 1001 to every client.
    fn begin_shutdown(&mut self, now: Instant) {
        info!("shutting down: closing {} connections", self.conns.len());
        if let Some(f) = self.hooks.on_stopping.as_mut() {
            f();
        }
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.shutdown_at = Some(now + SHUTDOWN_GRACE);
        // Socket.IO sessions first: held polls get the close packet, carriers close 1001
        // (close_session picks 1001 once shutdown has begun).
        let sessions: Vec<usize> = self.sessions.keys().copied().collect();
        for id in sessions {
            self.close_session(now, id, "server shutting down");
        }
        let tokens: Vec<usize> = self.conns.keys().copied().collect();
        for token in tokens {
            match self.conns.get_mut(&token).map(|c| &mut c.phase) {
                Some(Phase::Ws { .. }) => {
                    self.close_ws(now, token, CloseCode::Away, "server shutting down")
                }
                // Responses under way may finish within the grace period.
                Some(Phase::Reply { close, .. }) => *close = true,
                _ => self.kill(token),
            }
        }
    }
}

/// Binds the client listener with a backlog sized for connection bursts.
fn listen(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    if let Err(e) = set_stream_options(&socket) {
        warn!("cannot set TCP_NODELAY/keepalive on the listener: {e}");
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// TCP_NODELAY, and keepalive so that peers that vanish without a FIN are found.
fn set_stream_options(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_tcp_nodelay(true)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    socket.set_tcp_keepalive(&keepalive)
}

/// The metrics label of a client event (no string matching on the hot path).
fn received_label(event: ClientEvent) -> metrics::Event {
    use metrics::Event as M;
    match event {
        ClientEvent::ConnectUser => M::ConnectUser,
        ClientEvent::ConnectAgent => M::ConnectAgent,
        ClientEvent::CallAgent => M::CallAgent,
        ClientEvent::RejectCall => M::RejectCall,
        ClientEvent::CallTransfer => M::CallTransfer,
        ClientEvent::ToggleAvailability => M::ToggleAvailability,
        ClientEvent::UserMessage => M::UserMessage,
        ClientEvent::AgentMessage => M::AgentMessage,
        ClientEvent::LeaveCall => M::LeaveCall,
        ClientEvent::Mute => M::Mute,
    }
}

/// The metrics label of a server event.
fn sent_label(event: &ServerEvent) -> metrics::Event {
    use metrics::Event as M;
    match event {
        ServerEvent::Registered { .. } => M::Registered,
        ServerEvent::AvailableAgents { .. } => M::GetAvailableAgents,
        ServerEvent::CallAgent(_) => M::CallAgent,
        ServerEvent::CallTransfer(_) => M::CallTransfer,
        ServerEvent::CallEnded { .. } => M::CallEnded,
        ServerEvent::UserMessage { .. } => M::UserMessage,
        ServerEvent::AgentMessage { .. } => M::AgentMessage,
        ServerEvent::Mute(_) => M::Mute,
        ServerEvent::Error { .. } => M::Error,
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
