//! Lingering close (as nginx's `lingering_close`): once the close frame or the closing
//! response is fully written, the write side is shut down (the peer sees FIN after the last
//! byte) and input is read and discarded for up to `linger_ms` or until the peer closes.
//! Dropping a socket with unread input makes the kernel send RST, which can destroy the
//! close frame or response in the peer's receive queue (a client sees 1006, not 1009).
//! Invariant: a lingering connection is already gone for the router and its session, is
//! no longer counted as open, and writes nothing.
use super::conn::{Framing, Phase};
use super::deliver::Gone;
use super::server::Server;
use crate::routing::ConnId;
use std::io::{self, Read};
use std::net::Shutdown;
use std::time::Instant;

/// Reads of a lingering connection per turn before others get theirs.
const LINGER_READS: usize = 16;
/// Bytes discarded per read.
const LINGER_CHUNK: usize = 16 * 1024;

impl Server {
    /// Everything `token` had to say is out: linger, or close at once with `linger_ms = 0`.
    pub(super) fn linger(&mut self, now: Instant, token: usize) {
        let linger = self.config.limits.linger;
        let Some(conn) = self.conns.get(token) else {
            return;
        };
        if conn.dead || linger.is_zero() {
            return self.conns.kill(token);
        }
        // Its owners hear of its end now, as they would when it is reaped.
        match conn.phase {
            Phase::Ws {
                framing: Framing::SocketIo(key),
                ..
            } => self.session_ws_gone(now, key, token),
            Phase::Ws { .. } => self.end_peer(now, ConnId(token as u64), Gone::Lost),
            _ => {}
        }
        if !self.conns.start_linger(token) {
            return self.conns.kill(token);
        }
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if let Some(t) = conn.transport.take() {
            self.metrics.connection_closed(t);
        }
        if conn
            .tcp()
            .is_none_or(|tcp| tcp.shutdown(Shutdown::Write).is_err())
        {
            return self.conns.kill(token);
        }
        if conn.write_interest {
            self.write_interest(token, false);
        }
        let until = match self.shutdown_at {
            Some(at) => (now + linger).min(at),
            None => now + linger,
        };
        self.set_deadline(token, until);
        // Input may already be waiting (its readiness event has been taken).
        self.conns.read_again(token);
    }

    /// Reads and discards what a lingering connection has; its end (EOF, error) reaps it.
    pub(super) fn read_linger(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Phase::Linger { stream } = &mut conn.phase else {
            return;
        };
        let mut chunk = [0u8; LINGER_CHUNK];
        for _ in 0..LINGER_READS {
            match stream.read(&mut chunk) {
                Ok(0) => return self.conns.kill(token),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.conns.kill(token),
            }
        }
        self.conns.read_again(token);
    }
}
