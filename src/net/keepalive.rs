//! A WebSocket's liveness, checked from one timer entry per connection: the native
//! keepalive (a ping every `ping_interval`; closed when nothing at all is heard within
//! `ping_timeout` of one), `register_timeout` for a native connection that has not
//! registered, and the soft outbound limit (over `soft_outbound_bytes` for
//! `slow_consumer_ms`) and the message timeout (a message partway in for
//! `message_timeout_ms`) for every WebSocket. Invariant: `due` is the connection's one current
//! entry in the timer heap (`TimerKey::Live`); a read only stores the time it was heard, so
//! messages never touch the heap, and an entry that comes due early is re-armed once.
//! (A leaf: the loop's side, sending the ping or closing, is in `turn.rs`.)
use crate::config::Limits;
use std::time::Instant;

/// One WebSocket's liveness deadlines.
#[derive(Debug, Clone)]
pub struct Live {
    /// When anything was last read from the socket.
    pub heard: Instant,
    /// The unanswered ping, sent then.
    pinged: Option<Instant>,
    /// When the next ping goes out (None: no keepalive on this connection).
    next_ping: Option<Instant>,
    /// When the connection must have registered by (None: no longer checked).
    register_by: Option<Instant>,
    /// Since when more than `soft_outbound_bytes` has stayed queued.
    over_since: Option<Instant>,
    /// Since when a message has been partway in, and how many had been completed then (a
    /// change means that one ended and another began).
    partial: Option<(Instant, u64)>,
    /// The current entry in the timer heap.
    due: Option<Instant>,
}

/// What a due check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The entry was superseded: nothing to do, nothing to re-arm.
    Stale,
    /// Nothing due: re-arm.
    Quiet,
    /// Send a ping, then re-arm.
    Ping,
    /// Nothing heard within `ping_timeout` of a ping.
    PingTimeout,
    /// Not registered within `register_timeout`.
    RegisterTimeout,
    /// Over the soft outbound limit for `slow_consumer_ms`.
    SlowConsumer,
    /// A message partway in for `message_timeout_ms`.
    MessageTimeout,
}

impl Live {
    /// A WebSocket opened at `now`: a native one gets the keepalive and the registration
    /// deadline; every one gets the soft limit.
    pub fn new(now: Instant, native: bool, l: &Limits) -> Live {
        Live {
            heard: now,
            pinged: None,
            next_ping: l.ping_interval.filter(|_| native).map(|i| now + i),
            register_by: l.register_timeout.filter(|_| native).map(|t| now + t),
            over_since: None,
            partial: None,
            due: None,
        }
    }

    /// The earliest deadline of those set.
    fn next_deadline(&self, l: &Limits) -> Option<Instant> {
        [
            self.next_ping.filter(|_| self.pinged.is_none()),
            self.pinged.map(|p| p + l.ping_timeout),
            self.register_by,
            self.over_since.map(|t| t + l.slow_consumer),
            self.partial.map(|(t, _)| t + l.message_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The entry to add to the timer heap, if the current one (if any) is not early enough.
    pub fn arm(&mut self, l: &Limits) -> Option<Instant> {
        let next = self.next_deadline(l)?;
        if self.due.is_some_and(|d| d <= next) {
            return None; // the earlier entry fires first and re-arms
        }
        self.due = Some(next);
        Some(next)
    }

    /// The entry for `at` came due at `now`; `registered`: whether the router knows a party
    /// on the connection.
    pub fn check(&mut self, now: Instant, at: Instant, registered: bool, l: &Limits) -> Verdict {
        if self.due != Some(at) {
            return Verdict::Stale;
        }
        self.due = None;
        if self.register_by.is_some_and(|t| now >= t) {
            if !registered {
                return Verdict::RegisterTimeout;
            }
            self.register_by = None;
        }
        if let Some(p) = self.pinged {
            if self.heard >= p {
                self.pinged = None;
            } else if now >= p + l.ping_timeout {
                return Verdict::PingTimeout;
            }
        }
        if self.over_since.is_some_and(|t| now >= t + l.slow_consumer) {
            return Verdict::SlowConsumer;
        }
        if self
            .partial
            .is_some_and(|(t, _)| now >= t + l.message_timeout)
        {
            return Verdict::MessageTimeout;
        }
        match (self.next_ping, l.ping_interval) {
            (Some(t), Some(interval)) if now >= t && self.pinged.is_none() => {
                self.pinged = Some(now);
                self.next_ping = Some(now + interval);
                Verdict::Ping
            }
            // Pings turned off by a reload.
            (Some(_), None) => {
                self.next_ping = None;
                Verdict::Quiet
            }
            _ => Verdict::Quiet,
        }
    }

    /// After a read: whether a message is partway in, and how many have been completed so
    /// far. Returns whether a message's clock has just started (then `arm`).
    pub fn inbound(&mut self, now: Instant, pending: bool, completed: u64) -> bool {
        match self.partial {
            _ if !pending => {
                self.partial = None;
                false
            }
            Some((_, done)) if done == completed => false,
            _ => {
                self.partial = Some((now, completed));
                true
            }
        }
    }

    /// After a flush: `queued` bytes are still waiting for the socket. Returns whether the
    /// soft limit's clock has just started (then `arm`).
    pub fn queued(&mut self, now: Instant, queued: usize, l: &Limits) -> bool {
        if l.soft_outbound_bytes == 0 || queued <= l.soft_outbound_bytes {
            self.over_since = None;
            return false;
        }
        if self.over_since.is_some() {
            return false;
        }
        self.over_since = Some(now);
        true
    }
}

#[cfg(test)]
#[path = "keepalive_tests.rs"]
mod tests;
