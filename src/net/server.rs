//! The event loop: one mio `Poll` owns the listener, every connection, every session and
//! the router; this file holds what the loop owns and the turn order.
//!
//! Each turn: poll; accept and read every ready socket until WouldBlock (bounded per
//! connection), feeding each decoded event to the router and queueing its outputs; run
//! commands from side threads; fire due timers; send the coalesced free-agent count; answer
//! held polls; flush dirty connections; reap the dead. Then sleep until the next deadline.
//! A connection's failure ends that connection only; only start-up fails the loop.
use super::conn::Conns;
use super::inbox::{Inbox, InboxSender};
use super::listener::listen;
use super::peers::Peers;
use super::sessions::{Sessions, SidSource};
use super::signals::Signals;
use super::timers::Timers;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::routing::Router;
use log::info;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Least time between two log lines about refused browser origins.
pub(super) const CORS_LOG_INTERVAL: Duration = Duration::from_secs(10);

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const INBOX: Token = Token(2);
const FIRST_CONN_TOKEN: usize = 3;

/// Why the loop stopped with an error.
#[derive(Debug)]
pub enum LoopError {
    /// The listener could not be bound.
    Bind(io::Error),
    /// Polling or signal set-up failed.
    Io(io::Error),
    /// A key file of `[auth]` could not be used.
    Auth(crate::auth::AuthError),
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

/// The daemon's event loop and everything it owns.
pub struct Server {
    pub(super) poll: Poll,
    pub(super) listener: Option<TcpListener>,
    pub(super) signals: Signals,
    pub(super) inbox: Inbox,
    pub(super) conns: Conns,
    pub(super) peers: Peers,
    pub(super) sessions: Sessions,
    pub(super) sids: SidSource,
    pub(super) timers: Timers,
    /// Tokens and session keys alike; never reused.
    pub(super) next_token: usize,
    pub(super) router: Router,
    pub(super) config: Config,
    pub(super) config_path: Option<PathBuf>,
    pub(super) accept_retry: Option<Instant>,
    /// The spare descriptor for answering connections when out of descriptors.
    pub(super) spare: crate::reserve::Reserve,
    /// The out-of-descriptors warning, rate-limited.
    pub(super) fd_warning: crate::reserve::RateLimitedWarning,
    /// The info line about refused browser origins, at most one per `CORS_LOG_INTERVAL`.
    pub(super) cors_refusals: crate::reserve::RateLimitedWarning,
    /// Connections and unconnected sessions by source address (`max_*_per_ip`).
    pub(super) per_ip: super::per_ip::PerIp,
    pub(super) shutdown_at: Option<Instant>,
    pub(super) hooks: Hooks,
    pub(super) metrics: Metrics,
    /// The keys registrations are verified with (`[auth]`).
    pub(super) keys: crate::auth::Keys,
    /// Peers refused or expired this turn, closed once their error is queued.
    pub(super) refused: Vec<crate::routing::ConnId>,
    /// Peers whose party a resume took over this turn, closed once told.
    pub(super) replaced: Vec<crate::routing::ConnId>,
    /// Peers past `rate_limit_close_after` refused events in a row this turn, closed once
    /// their last `rate_limited` error is queued.
    pub(super) rate_closed: Vec<crate::routing::ConnId>,
    /// The time at the start of this loop turn.
    pub(super) now: Instant,
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
        let inbox = Inbox::new(poll.registry(), INBOX).map_err(LoopError::Io)?;
        let keys = crate::auth::Keys::load(&config.auth).map_err(LoopError::Auth)?;
        let server = Server {
            poll,
            listener: Some(listener),
            signals,
            inbox,
            conns: Conns::default(),
            peers: Peers::default(),
            sessions: Sessions::default(),
            sids: SidSource::new(),
            timers: Timers::default(),
            next_token: FIRST_CONN_TOKEN,
            router: Router::with_config(config.routing.clone(), routing_seed()),
            config,
            config_path,
            accept_retry: None,
            spare: crate::reserve::Reserve::new(1),
            cors_refusals: crate::reserve::RateLimitedWarning::new(CORS_LOG_INTERVAL),
            fd_warning: crate::reserve::RateLimitedWarning::new(
                crate::reserve::FD_WARNING_INTERVAL,
            ),
            per_ip: Default::default(),
            shutdown_at: None,
            hooks: Hooks::default(),
            metrics,
            keys,
            refused: Vec::new(),
            replaced: Vec::new(),
            rate_closed: Vec::new(),
            now: Instant::now(),
        };
        server.log_auth();
        Ok(server)
    }

    /// The bound client address.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Sets the process hooks.
    pub fn set_hooks(&mut self, hooks: Hooks) {
        self.hooks = hooks;
    }

    /// A handle through which another thread can send the loop commands.
    pub fn inbox(&self) -> InboxSender {
        self.inbox.sender()
    }

    /// Runs until a shutdown signal or command has been handled.
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
                    INBOX => self.handle_inbox(now),
                    Token(t) => self.conn_ready(now, t, event),
                }
            }
            for t in self.conns.take_pending_reads() {
                self.read_conn(now, t);
            }
            self.fire_timers(now);
            self.close_refused(now);
            self.broadcast_available();
            self.flush_polls();
            self.flush_dirty(now);
            self.reap(now);
            self.update_gauges();
            if let Some(f) = self.hooks.on_turn.as_mut() {
                f();
            }
            if self.shutdown_done(now) {
                return Ok(());
            }
        }
    }

    /// How long poll may sleep: until the next deadline, or not at all with reads pending.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if self.conns.has_pending_reads() {
            return Some(Duration::ZERO);
        }
        let next = [
            self.timers.next(),
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

    /// Whether shutdown has begun and every connection is gone (or the grace is over).
    fn shutdown_done(&self, now: Instant) -> bool {
        let Some(at) = self.shutdown_at else {
            return false;
        };
        if self.conns.is_empty() || now >= at {
            info!(
                "shutdown complete ({} connections still open were dropped)",
                self.conns.len()
            );
            return true;
        }
        false
    }

    /// A fresh token or session key.
    pub(super) fn next_key(&mut self) -> usize {
        let key = self.next_token;
        self.next_token += 1;
        key
    }
}

/// A seed for the router's random strategy, from the OS generator (a fixed one if it fails:
/// the seed only spreads calls, it protects nothing).
fn routing_seed() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => 0x9e37_79b9_7f4a_7c15,
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
