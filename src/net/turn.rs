//! The loop's per-event and per-turn steps for connections: readiness, reads by phase,
//! deadlines (a WebSocket's liveness: pings, register timeout, soft outbound limit),
//! reaping. Invariant: the router hears of every peer's end exactly once, before
//! its connection is dropped.
use super::conn::Phase;
use super::deliver::Gone;
use super::http;
use super::keepalive::Verdict;
use super::server::Server;
use super::timers::TimerKey;
use crate::metrics::LimitReason;
use crate::routing::ConnId;
use log::debug;
use std::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

impl Server {
    /// A readiness event for the connection with token `t`.
    pub(super) fn conn_ready(&mut self, now: Instant, t: usize, event: &mio::event::Event) {
        let closed = event.is_read_closed() || event.is_error();
        if let Some(stream) = self.conns.get_mut(t).and_then(|c| c.stream()) {
            stream.mark_readable(closed);
        }
        if closed {
            self.peer_closed(t);
        }
        if event.is_writable() {
            self.conns.mark_dirty(t);
        }
        if event.is_readable() || closed {
            self.read_conn(now, t);
        }
    }

    /// Reads what a ready connection has, according to its phase.
    pub(super) fn read_conn(&mut self, now: Instant, token: usize) {
        let Some(conn) = self.conns.get(token) else {
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
            Phase::Linger { .. } => self.read_linger(token),
            Phase::Gone => {}
        }
    }

    /// The peer hung up: a held poll nobody waits for is dropped at once, which ends its
    /// session (a reply still goes out: the peer may only have half-closed).
    fn peer_closed(&mut self, token: usize) {
        if let Some(Phase::Held { .. }) = self.conns.get(token).map(|c| &c.phase) {
            self.conns.kill(token);
        }
    }

    /// Sets a connection's deadline (replacing any earlier one).
    pub(super) fn set_deadline(&mut self, token: usize, at: Instant) {
        if let Some(conn) = self.conns.get_mut(token) {
            conn.deadline = Some(at);
            self.timers.push(at, TimerKey::Conn(token));
        }
    }

    /// Runs due timers: accept retry, the router's, connections' and sessions' deadlines.
    pub(super) fn fire_timers(&mut self, now: Instant) {
        self.retry_accept(now);
        self.router.handle_timeout(now);
        self.drain_router();
        while let Some((at, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::Session(id) => self.session_timer(now, id, at),
                TimerKey::Conn(token) => self.conn_timer(token, at),
                TimerKey::Token(id) => self.token_timer(now, ConnId(id)),
                TimerKey::Live(token) => self.live_timer(now, token, at),
            }
        }
    }

    /// A connection's deadline: a head or a request body not read in time gets 408,
    /// anything else (a close handshake or a linger over) is dropped.
    fn conn_timer(&mut self, token: usize, at: Instant) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.deadline != Some(at) {
            return; // superseded
        }
        conn.deadline = None;
        match conn.phase {
            Phase::Head { .. } => {
                debug!("connection {token}: handshake timeout");
                self.reply_close(token, http::error_response(408, "request timeout\n"));
                // The 408 must be out within the handshake timeout too.
            }
            Phase::Body { .. } => {
                debug!("connection {token}: request body not complete within message_timeout_ms");
                self.metrics.limit(LimitReason::MessageTimeout);
                self.reply_close(token, http::error_response(408, "request timeout\n"));
            }
            _ => self.conns.kill(token),
        }
    }

    /// Removes dead connections, telling the router and their sessions first.
    pub(super) fn reap(&mut self, now: Instant) {
        while self.conns.has_dead() {
            for token in self.conns.take_dead() {
                match self.conns.get(token).map(|c| &c.phase) {
                    Some(Phase::Held { session, .. }) => {
                        let key = *session;
                        self.poll_gone(now, key, token);
                    }
                    Some(Phase::Ws {
                        framing: super::conn::Framing::SocketIo(key),
                        ..
                    }) => {
                        let key = *key;
                        self.session_ws_gone(now, key, token);
                    }
                    _ => self.end_peer(now, ConnId(token as u64), super::deliver::Gone::Lost),
                }
                self.per_ip.closed(token);
                if let Some(conn) = self.conns.remove(token) {
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

    /// Connection `token` now holds `held` bytes of partial input; past
    /// `max_inbound_buffer_bytes` over all connections, the largest holders are closed
    /// first (WebSockets 1008 "inbound buffer limit", request bodies 503) until it fits.
    pub(super) fn inbound_counted(&mut self, now: Instant, token: usize, held: usize) {
        let cap = self.config.limits.max_inbound_buffer_bytes;
        let mut total = self.conns.set_inbound(token, held);
        if total <= cap {
            return;
        }
        for (victim, bytes) in self.conns.inbound_holders() {
            if total <= cap {
                break;
            }
            total = self.conns.set_inbound(victim, 0);
            debug!("connection {victim}: holds {bytes} bytes of partial input; over the cap");
            self.metrics.limit(LimitReason::InboundBuffer);
            let is_ws = matches!(
                self.conns.get(victim).map(|c| &c.phase),
                Some(Phase::Ws { .. })
            );
            if is_ws {
                self.close_ws_as(
                    now,
                    victim,
                    CloseCode::Policy,
                    "inbound buffer limit",
                    Gone::Lost,
                );
            } else {
                self.reply_close(
                    victim,
                    http::error_response(503, "server busy, try again later\n"),
                );
            }
        }
    }

    /// Adds a WebSocket's liveness entry to the timer heap if it needs an earlier one.
    pub(super) fn arm_live(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if let Phase::Ws { live, .. } = &mut conn.phase {
            if let Some(at) = live.arm(&self.config.limits) {
                self.timers.push(at, TimerKey::Live(token));
            }
        }
    }

    /// A WebSocket's liveness entry came due.
    pub(super) fn live_timer(&mut self, now: Instant, token: usize, at: Instant) {
        let registered = self.router.role_of(ConnId(token as u64)).is_some();
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Ws { live, closing, .. } = &mut conn.phase else {
            return;
        };
        if *closing || conn.dead {
            return; // its close deadline rules now
        }
        let limits = &self.config.limits;
        let (code, reason, how, metric) = match live.check(now, at, registered, limits) {
            Verdict::Stale => return,
            Verdict::Quiet => return self.arm_live(token),
            Verdict::Ping => {
                self.write_frame(token, Message::Ping(Default::default()));
                return self.arm_live(token);
            }
            Verdict::PingTimeout => (
                CloseCode::Policy,
                "ping timeout",
                Gone::Lost,
                LimitReason::PingTimeout,
            ),
            Verdict::RegisterTimeout => (
                CloseCode::Policy,
                "register timeout",
                Gone::Closed,
                LimitReason::RegisterTimeout,
            ),
            Verdict::MessageTimeout => (
                CloseCode::Policy,
                "message timeout",
                Gone::Lost,
                LimitReason::MessageTimeout,
            ),
            Verdict::SlowConsumer => {
                self.metrics.slow_consumer();
                (
                    CloseCode::Policy,
                    "slow consumer",
                    Gone::Lost,
                    LimitReason::SoftOutbound,
                )
            }
        };
        debug!("connection {token}: {reason}; closing");
        self.metrics.limit(metric);
        self.close_ws_as(now, token, code, reason, how);
    }
}
