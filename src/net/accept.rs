//! Accepting connections: until WouldBlock; a refusal (503) at `max_connections` (TCP
//! connections at accept; connections plus Engine.IO sessions for a new client, native
//! upgrade and Engine.IO handshake alike) and at `max_connections_per_ip`; and, out of file descriptors, libuv's spare-descriptor trick:
//! close the spare, accept, answer 503, close, open the spare again, for every waiting
//! connection, so that clients hear "busy" instead of nothing.
use super::conn::Conn;
use super::http::{self, Head};
use super::listener::set_stream_options;
use super::per_ip::{client_of, Admit};
use super::server::Server;
use super::sessions::Slot;
use super::timers::TimerKey;
use crate::metrics::{LimitReason, RejectReason};
use crate::reserve::out_of_descriptors;
use log::{debug, warn};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Delay before accepting again after accept failed and nothing could be answered.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// What a client refused for want of descriptors reads.
const BUSY_BODY: &str = "server busy, try again later\n";

impl Server {
    /// Accepts every pending connection (until WouldBlock).
    pub(super) fn accept_all(&mut self, now: Instant) {
        // A spare given up in an earlier shortage is taken again as soon as one is free.
        if self.spare.held() == 0 {
            self.spare.refill();
        }
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((tcp, peer)) => self.admit(now, tcp, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if out_of_descriptors(&e) => return self.shed(now),
                Err(e) => {
                    // Out of memory or buffers: try again shortly (the edge is spent).
                    warn!("accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                    self.accept_retry = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    /// Out of descriptors: each waiting connection gets a 503 on the spare descriptor and
    /// is closed, until none waits. If the spare cannot be had (another thread took the
    /// descriptor), accepting is retried shortly.
    fn shed(&mut self, now: Instant) {
        let mut refused = 0u64;
        let mut done = false;
        while self.spare.release() {
            let accepted = match self.listener.as_ref() {
                Some(listener) => listener.accept(),
                None => Err(io::ErrorKind::WouldBlock.into()),
            };
            let go_on = match accepted {
                Ok((tcp, _)) => {
                    // Counted first: a client that has its answer finds it counted.
                    self.metrics.limit(LimitReason::Descriptors);
                    refuse(tcp, 503, BUSY_BODY);
                    refused += 1;
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    done = true;
                    false
                }
                // Else still out (the freed descriptor went elsewhere), or another error.
                Err(e) => matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ),
            };
            // The refused socket is closed by now: its descriptor becomes the spare again.
            if !self.spare.refill() || !go_on {
                break;
            }
        }
        // (Linux reports EMFILE whether or not a connection waits: a full table with none
        // waiting is no news.)
        let news = refused > 0 || !done;
        if let Some(n) = news.then(|| self.fd_warning.note(now, refused)).flatten() {
            let spare = match self.spare.held() {
                0 => " (no spare descriptor free: retrying)",
                _ => "",
            };
            warn!(
                "out of file descriptors (RLIMIT_NOFILE {}): {n} connections answered 503 \
                 since the last warning{spare}; raise LimitNOFILE or lower \
                 limits.max_connections",
                nofile_limit().map_or_else(|| "unknown".into(), |n| n.to_string())
            );
        }
        if !done {
            self.accept_retry = Some(now + ACCEPT_BACKOFF);
        }
    }

    /// Accepts again once the back-off after a failed accept is over.
    pub(super) fn retry_accept(&mut self, now: Instant) {
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_retry = None;
            self.accept_all(now);
        }
    }

    /// Whether TCP connections alone are at `max_connections`: a new one is refused at
    /// accept (requests for sessions that exist still come in below it).
    fn at_connection_limit(&self) -> bool {
        self.conns.open() >= self.config.limits.max_connections
    }

    /// Whether a new client may start, one that adds `adds` to the count (a native
    /// WebSocket: 0, its connection is counted already; an Engine.IO session: 1):
    /// connections plus sessions must stay within `max_connections`, the same count for
    /// both kinds of client.
    pub(super) fn admits_client(&self, adds: usize) -> bool {
        self.conns.open() + self.sessions.len() + adds <= self.config.limits.max_connections
    }

    /// A native WebSocket upgrade on connection `token`: refused (503, false) when
    /// connections plus sessions are over `max_connections`.
    pub(super) fn admit_native(&mut self, token: usize) -> bool {
        if self.admits_client(0) {
            return true;
        }
        self.metrics.connection_rejected(RejectReason::Limit);
        self.reply_close(
            token,
            http::error_response(503, "connection limit reached\n"),
        );
        false
    }

    /// Registers one accepted socket, or refuses it at a connection limit.
    fn admit(&mut self, now: Instant, mut tcp: TcpStream, peer: std::net::SocketAddr) {
        if self.at_connection_limit() {
            self.metrics.connection_rejected(RejectReason::Limit);
            refuse(tcp, 503, "connection limit reached\n");
            debug!("refused {peer}: connection limit");
            return;
        }
        let token = self.next_key();
        let limit = self.config.limits.max_connections_per_ip;
        let admit = self
            .per_ip
            .accepted(&self.config.addresses, limit, token, peer.ip());
        if let Admit::Over(ip) = admit {
            self.metrics.limit(LimitReason::ConnectionsPerIp);
            refuse(tcp, 503, "too many connections from your address\n");
            debug!("refused {peer}: {limit} connections from {ip} already");
            return;
        }
        // Linux copies TCP_NODELAY and the keepalive settings from the listener.
        if !cfg!(target_os = "linux") {
            let _ = set_stream_options(&socket2::SockRef::from(&tcp));
        }
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut tcp, Token(token), Interest::READABLE)
        {
            warn!("cannot register connection from {peer}: {e}");
            self.per_ip.closed(token);
            return;
        }
        let deadline = now + self.config.limits.handshake_timeout;
        self.conns.insert(token, Conn::new(tcp, deadline));
        self.timers.push(deadline, TimerKey::Conn(token));
        // Edge-triggered: the request may already be waiting.
        self.read_conn(now, token);
    }
}

impl Server {
    /// A request head on connection `token`: a trusted proxy's connection is counted under
    /// the client its `X-Forwarded-For` names, or refused (503) over
    /// `max_connections_per_ip`. False if refused.
    pub(super) fn admit_request(&mut self, token: usize, head: &Head) -> bool {
        let limit = self.config.limits.max_connections_per_ip;
        match self
            .per_ip
            .head_read(&self.config.addresses, limit, token, head)
        {
            Admit::Yes => true,
            Admit::Over(ip) => {
                debug!("connection {token} refused: {limit} connections from {ip} already");
                self.metrics.limit(LimitReason::ConnectionsPerIp);
                let resp = http::error_response(503, "too many connections from your address\n");
                self.reply_close(token, resp);
                false
            }
        }
    }

    /// An Engine.IO handshake on connection `token`: refused (503, and None) at
    /// `max_connections` or when its client already has `max_sessions_per_ip` sessions not
    /// yet CONNECTed; else Some(the address to count the new session under, if counted).
    pub(super) fn admit_handshake(&mut self, token: usize, head: &Head) -> Option<Option<IpAddr>> {
        if !self.admits_client(1) {
            self.metrics.connection_rejected(RejectReason::Limit);
            self.reply_close(token, http::error_response(503, "session limit reached\n"));
            return None;
        }
        let limit = self.config.limits.max_sessions_per_ip;
        if limit == 0 {
            return Some(None);
        }
        let Some(peer) = self
            .conns
            .get_mut(token)
            .and_then(|c| c.tcp())
            .and_then(|t| t.peer_addr().ok())
        else {
            return Some(None); // the peer is gone already: nothing to count
        };
        let client = client_of(&self.config.addresses, peer.ip(), head);
        match self
            .per_ip
            .session_admits(&self.config.addresses, limit, client)
        {
            Ok(source) => Some(source),
            Err(ip) => {
                debug!("handshake refused: {limit} unconnected sessions from {ip} already");
                self.metrics.limit(LimitReason::SessionsPerIp);
                let resp = http::error_response(503, "too many sessions from your address\n");
                self.reply_close(token, resp);
                None
            }
        }
    }

    /// Session `id` has opened, admitted under `source` (`admit_handshake`).
    pub(super) fn session_counted(&mut self, id: usize, source: Option<IpAddr>) {
        let Some(ip) = source else {
            return;
        };
        if let Some(slot) = self.sessions.get_mut(id) {
            slot.unconnected_from = Some(ip);
            self.per_ip.session_opened(ip);
        }
    }

    /// After a packet into session `id`: once CONNECTed it no longer counts against
    /// `max_sessions_per_ip` (even if it leaves the namespace later).
    pub(super) fn session_progressed(&mut self, id: usize) {
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if slot.unconnected_from.is_some() && slot.eio.is_connected() {
            if let Some(ip) = slot.unconnected_from.take() {
                self.per_ip.session_done(ip);
            }
        }
    }

    /// Session `slot` has been removed: it no longer counts.
    pub(super) fn session_uncounted(&mut self, slot: &Slot) {
        if let Some(ip) = slot.unconnected_from {
            self.per_ip.session_done(ip);
        }
    }
}

/// Answers a connection that is not let in with an error `status`, best effort and
/// without blocking, then closes it. What the client has sent already is read first, so
/// that the close is a FIN, not a reset that could destroy the answer before it is read.
fn refuse(mut tcp: TcpStream, status: u16, body: &str) {
    let mut sink = [0u8; 2048];
    for _ in 0..4 {
        match tcp.read(&mut sink) {
            Ok(n) if n == sink.len() => continue,
            _ => break,
        }
    }
    let _ = tcp.write(&http::error_response(status, body));
    let _ = tcp.shutdown(std::net::Shutdown::Write);
}

/// The process's soft descriptor limit.
fn nofile_limit() -> Option<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}
