//! One TCP connection through its phases (request head, body, held poll, reply, WebSocket,
//! lingering close) and the table of all of them with the loop's per-turn lists (dirty, dead, pending
//! reads). Every phase change is a method here, so no other file swaps phases.
//! Invariant: a connection is in exactly one phase with its one stream; `Gone` exists only
//! inside a transition; a dead connection is on the dead list once and takes no more I/O.
use super::http::Chunked;
use super::keepalive::Live;
use super::stream::Stream;
use crate::metrics::Transport;
use mio::net::TcpStream;
use rustc_hash::FxHashMap;
use std::time::Instant;
use tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use tungstenite::WebSocket;

/// The wire framing a WebSocket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Native,
    /// Engine.IO packets of the session with this key.
    SocketIo(usize),
    /// Every message sent back as it came: the WebSocket stack alone, for the Autobahn
    /// conformance suite (served only by a build with the `autobahn-echo` feature).
    Echo,
}

/// How far a request body has been read.
#[derive(Debug)]
pub enum BodyRead {
    /// `Content-Length`: the request (head and body) ends at this offset of `buf`.
    Fixed { end: usize },
    /// `Transfer-Encoding: chunked`, decoded as it arrives.
    Chunked(Chunked),
}

/// What a connection is doing.
pub enum Phase {
    /// Reading the HTTP request head.
    Head { stream: Stream, buf: Vec<u8> },
    /// Reading a request body: `buf` holds the head and the raw body read so far.
    Body {
        stream: Stream,
        head: super::http::Head,
        buf: Vec<u8>,
        body: BodyRead,
    },
    /// A long-polling GET waiting for its session to have something to send.
    Held {
        stream: Stream,
        session: usize,
        origin: Option<String>,
        keep_alive: bool,
        http10: bool,
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
        /// Keepalive, registration and soft-limit deadlines (`keepalive.rs`).
        live: Live,
    },
    /// Lingering close: everything is written and the write side shut down; input is read
    /// and discarded until the peer closes or the deadline passes, so that the kernel does
    /// not answer unread input with a reset that would destroy the close frame or response.
    Linger { stream: Stream },
    /// Only while a phase is being replaced.
    Gone,
}

/// One connection.
pub struct Conn {
    pub phase: Phase,
    pub deadline: Option<Instant>,
    pub dirty: bool,
    pub dead: bool,
    /// Counted in `support_open_connections` under this transport.
    pub transport: Option<Transport>,
    /// Registered for WRITABLE: only while a flush left bytes queued.
    pub write_interest: bool,
    /// Bytes of a partial inbound message or request body it holds (`Conns::set_inbound`).
    inbound: usize,
}

impl Conn {
    /// A connection starting to read its request head.
    pub fn new(tcp: TcpStream, deadline: Instant) -> Conn {
        Conn {
            phase: Phase::Head {
                stream: Stream::new(tcp),
                buf: Vec::new(),
            },
            deadline: Some(deadline),
            dirty: false,
            dead: false,
            transport: None,
            write_interest: false,
            inbound: 0,
        }
    }

    /// The connection's stream, in whatever phase.
    pub fn stream(&mut self) -> Option<&mut Stream> {
        match &mut self.phase {
            Phase::Head { stream, .. }
            | Phase::Body { stream, .. }
            | Phase::Held { stream, .. }
            | Phase::Reply { stream, .. }
            | Phase::Linger { stream } => Some(stream),
            Phase::Ws { ws, .. } => Some(ws.get_mut()),
            Phase::Gone => None,
        }
    }

    /// The connection's socket, in whatever phase.
    pub fn tcp(&mut self) -> Option<&mut TcpStream> {
        self.stream().map(|s| &mut s.tcp)
    }

    /// Head -> Body: the head is complete and a body of this kind follows.
    pub fn start_body(&mut self, head: super::http::Head, body: BodyRead) {
        self.transition(|phase| match phase {
            Phase::Head { stream, buf } => Phase::Body {
                stream,
                head,
                buf,
                body,
            },
            other => other,
        });
    }

    /// Head -> Held: a polling GET waits for its session; bytes past `head_len` are kept.
    pub fn hold(
        &mut self,
        head_len: usize,
        session: usize,
        origin: Option<String>,
        head: &super::http::Head,
    ) {
        let keep_alive = head.keep_alive();
        let http10 = head.version == 0;
        self.transition(|phase| match phase {
            Phase::Head { stream, buf } => Phase::Held {
                stream,
                session,
                origin,
                keep_alive,
                http10,
                carry: buf.get(head_len..).unwrap_or_default().to_vec(),
            },
            other => other,
        });
        if matches!(self.phase, Phase::Held { .. }) {
            self.deadline = None;
        }
    }

    /// Head/Body/Held -> Reply: queue `response`; with `keep_from`, the connection reads the
    /// next request from that offset of the bytes read (pipelining) once it is out, else it
    /// closes. Returns false if the connection was in no phase that can reply.
    pub fn respond(&mut self, response: &[u8], keep_from: Option<usize>) -> bool {
        let mut ok = true;
        self.transition(|phase| {
            let (mut stream, carry, keep) = match phase {
                Phase::Head { stream, buf } | Phase::Body { stream, buf, .. } => {
                    let carry = keep_from
                        .map(|at| buf.get(at..).unwrap_or_default().to_vec())
                        .unwrap_or_default();
                    (stream, carry, keep_from.is_some())
                }
                Phase::Held { stream, carry, .. } => (stream, carry, keep_from.is_some()),
                Phase::Reply { stream, .. } => (stream, Vec::new(), false),
                other => {
                    ok = false;
                    return other;
                }
            };
            stream.queue_raw(response);
            Phase::Reply {
                stream,
                close: !keep,
                carry: if keep { carry } else { Vec::new() },
            }
        });
        ok
    }

    /// Reply -> Head: the response is out; read the next request (carried bytes first).
    pub fn next_request(&mut self) {
        self.transition(|phase| match phase {
            Phase::Reply {
                mut stream, carry, ..
            } => {
                // Bytes may have arrived (or be carried) while we were replying.
                stream.mark_readable(false);
                Phase::Head { stream, buf: carry }
            }
            other => other,
        });
    }

    /// Head -> Ws: queue the 101 `accept` and hand the stream (with bytes read past the
    /// head) to tungstenite.
    pub fn upgrade(
        &mut self,
        head_len: usize,
        accept: &[u8],
        framing: Framing,
        config: WebSocketConfig,
        live: Live,
    ) -> bool {
        let mut ok = false;
        self.transition(|phase| match phase {
            Phase::Head { mut stream, buf } => {
                stream.queue_raw(accept);
                let rest = buf.get(head_len..).unwrap_or_default().to_vec();
                let mut inbound = super::inbound::Inbound::default();
                inbound.feed(&rest);
                stream.inbound = Some(inbound);
                let ws = WebSocket::from_partially_read(stream, rest, WsRole::Server, Some(config));
                ok = true;
                Phase::Ws {
                    ws: Box::new(ws),
                    framing,
                    closing: false,
                    live,
                }
            }
            other => other,
        });
        if ok {
            self.deadline = None;
        }
        ok
    }

    /// Ws -> Ws: a fresh WebSocket on the same stream, so that buffers grown for a large
    /// message go back to their first size. Only for an open WebSocket whose input holds no
    /// partial frame or message and whose output is all written (both are dropped).
    pub fn renew_ws(&mut self) {
        self.transition(|phase| match phase {
            Phase::Ws {
                ws,
                framing,
                closing: false,
                live,
            } => {
                let config = *ws.get_config();
                let stream = ws.into_inner();
                let ws = WebSocket::from_raw_socket(stream, WsRole::Server, Some(config));
                Phase::Ws {
                    ws: Box::new(ws),
                    framing,
                    closing: false,
                    live,
                }
            }
            other => other,
        });
    }

    /// Reply/Ws -> Linger: the last byte is out; from now on input is only discarded.
    /// Returns false if the connection was in no phase that can linger.
    pub fn linger(&mut self) -> bool {
        let mut ok = true;
        self.transition(|phase| match phase {
            Phase::Reply { stream, .. } => Phase::Linger { stream },
            Phase::Ws { ws, .. } => Phase::Linger {
                stream: ws.into_inner(),
            },
            other => {
                ok = false;
                other
            }
        });
        ok
    }

    /// Replaces the phase through `f` (the one place a phase is taken apart).
    fn transition(&mut self, f: impl FnOnce(Phase) -> Phase) {
        let phase = std::mem::replace(&mut self.phase, Phase::Gone);
        self.phase = f(phase);
    }
}

/// Every connection by token, with the lists the loop works through each turn.
#[derive(Default)]
pub struct Conns {
    /// Keyed by token (server-assigned, so a fast non-keyed hash is safe).
    map: FxHashMap<usize, Conn>,
    /// To flush before sleeping.
    dirty: Vec<usize>,
    /// To reap before sleeping.
    dead: Vec<usize>,
    /// To read again this turn (budget spent, or bytes carried).
    pending_reads: Vec<usize>,
    /// How many are lingering (on their way out: not counted as open for admission).
    lingering: usize,
    /// Bytes held in partial inbound messages and request bodies, summed over connections.
    inbound: usize,
}

impl Conns {
    /// Moves `token` to its lingering close (`Conn::linger`), counting it; false when it
    /// is in no phase that can linger.
    pub fn start_linger(&mut self, token: usize) -> bool {
        let ok = self.map.get_mut(&token).is_some_and(Conn::linger);
        self.lingering += usize::from(ok);
        ok
    }

    /// Records that `token` now holds `bytes` of partial inbound input; returns the total
    /// over every connection.
    pub fn set_inbound(&mut self, token: usize, bytes: usize) -> usize {
        if let Some(conn) = self.map.get_mut(&token) {
            self.inbound = self.inbound - conn.inbound + bytes;
            conn.inbound = bytes;
        }
        self.inbound
    }

    /// The connections holding partial inbound input, largest first.
    pub fn inbound_holders(&self) -> Vec<(usize, usize)> {
        let mut holders: Vec<(usize, usize)> = self
            .map
            .iter()
            .filter(|(_, c)| c.inbound > 0 && !c.dead)
            .map(|(t, c)| (c.inbound, *t))
            .collect();
        holders.sort_unstable_by(|a, b| b.cmp(a));
        holders.into_iter().map(|(bytes, t)| (t, bytes)).collect()
    }

    /// Connections open, lingering ones left out (what admission counts).
    pub fn open(&self) -> usize {
        self.map.len() - self.lingering
    }

    /// Adds a connection.
    pub fn insert(&mut self, token: usize, conn: Conn) {
        self.map.insert(token, conn);
    }

    /// The connection with `token`.
    pub fn get(&self, token: usize) -> Option<&Conn> {
        self.map.get(&token)
    }

    /// The connection with `token`, to change.
    pub fn get_mut(&mut self, token: usize) -> Option<&mut Conn> {
        self.map.get_mut(&token)
    }

    /// Removes a connection (dropping it closes the socket and leaves epoll).
    pub fn remove(&mut self, token: usize) -> Option<Conn> {
        let conn = self.map.remove(&token)?;
        self.inbound -= conn.inbound;
        if matches!(conn.phase, Phase::Linger { .. }) {
            self.lingering -= 1;
        }
        Some(conn)
    }

    /// Connections open.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every token.
    pub fn tokens(&self) -> Vec<usize> {
        self.map.keys().copied().collect()
    }

    /// Puts a connection on the flush list for the end of this turn.
    pub fn mark_dirty(&mut self, token: usize) {
        if let Some(conn) = self.map.get_mut(&token) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(token);
            }
        }
    }

    /// Marks a connection for reaping at the end of the turn.
    pub fn kill(&mut self, token: usize) {
        if let Some(conn) = self.map.get_mut(&token) {
            if !conn.dead {
                conn.dead = true;
                self.dead.push(token);
            }
        }
    }

    /// Asks for another read of `token` this turn.
    pub fn read_again(&mut self, token: usize) {
        self.pending_reads.push(token);
    }

    /// Whether reads are pending (the loop must not sleep).
    pub fn has_pending_reads(&self) -> bool {
        !self.pending_reads.is_empty()
    }

    /// Takes the pending reads.
    pub fn take_pending_reads(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.pending_reads)
    }

    /// Takes the flush list.
    pub fn take_dirty(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.dirty)
    }

    /// Takes the dead list.
    pub fn take_dead(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.dead)
    }

    /// Whether any connection waits to be reaped.
    pub fn has_dead(&self) -> bool {
        !self.dead.is_empty()
    }

    /// Marks a connection with `token` as queued for flushing, given its entry (one lookup).
    pub fn mark_dirty_entry(dirty: &mut Vec<usize>, conn: &mut Conn, token: usize) {
        if !conn.dirty {
            conn.dirty = true;
            dirty.push(token);
        }
    }

    /// The connection and the flush list at once (to queue and mark in one lookup).
    pub fn get_with_dirty(&mut self, token: usize) -> Option<(&mut Conn, &mut Vec<usize>)> {
        let conn = self.map.get_mut(&token)?;
        Some((conn, &mut self.dirty))
    }
}
