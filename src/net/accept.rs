//! Accepting connections: until WouldBlock, with a back-off when the process is out of
//! descriptors, and a refusal (503) at `max_connections`.
use super::conn::Conn;
use super::listener::set_stream_options;
use super::server::Server;
use super::timers::TimerKey;
use crate::metrics::RejectReason;
use log::{debug, warn};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::io;
use std::time::{Duration, Instant};

/// Delay before accepting again after the process ran out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Server {
    /// Accepts every pending connection (until WouldBlock).
    pub(super) fn accept_all(&mut self, now: Instant) {
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

    /// Accepts again once the back-off after a failed accept is over.
    pub(super) fn retry_accept(&mut self, now: Instant) {
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_retry = None;
            self.accept_all(now);
        }
    }

    /// Registers one accepted socket, or refuses it at the connection limit.
    fn admit(&mut self, now: Instant, mut tcp: TcpStream, peer: std::net::SocketAddr) {
        if self.conns.len() >= self.config.limits.max_connections {
            use std::io::Write;
            let _ = tcp.write(&super::http::error_response(
                503,
                "connection limit reached\n",
            ));
            debug!("refused {peer}: connection limit");
            self.metrics.connection_rejected(RejectReason::Limit);
            return;
        }
        // Linux copies TCP_NODELAY and the keepalive settings from the listener.
        if !cfg!(target_os = "linux") {
            let _ = set_stream_options(&socket2::SockRef::from(&tcp));
        }
        let token = self.next_key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut tcp, Token(token), Interest::READABLE)
        {
            warn!("cannot register connection from {peer}: {e}");
            return;
        }
        let deadline = now + self.config.limits.handshake_timeout;
        self.conns.insert(token, Conn::new(tcp, deadline));
        self.timers.push(deadline, TimerKey::Conn(token));
        // Edge-triggered: the request may already be waiting.
        self.read_conn(now, token);
    }
}
