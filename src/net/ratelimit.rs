//! Per-connection rate limits: a token bucket for every event a connection sends
//! (`[limits] events_per_sec`, `events_burst`), a second one for `toggleAvailability`
//! (`toggles_per_sec`, `toggles_burst`), and the count of refusals in a row past which the
//! connection is closed (`rate_limit_close_after`).
//!
//! Why here: the limits are a property of the connection, not of routing; the loop checks
//! them before an event reaches the router. The buckets are pure (the time is a parameter,
//! the rates are read from the config at each check, so a reload applies at once) and cost
//! one `Instant` each: a bucket is kept as the time at which it would be full again (the
//! "theoretical arrival time" of GCRA), which is the same as a token bucket of `burst`
//! tokens refilled at `per_sec`. Invariant: with rate r and burst b, in any interval of
//! length t a bucket allows at most b + r·t events, and a bucket idle for b/r seconds is
//! full again.
use crate::config::Limits;
use std::time::{Duration, Instant};

/// One token bucket: `burst` tokens at most, `per_sec` added each second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// When the bucket is full again; None (or a time past) = full.
    full_at: Option<Instant>,
}

impl Bucket {
    /// Takes one token at `now` if there is one; `per_sec` 0 = unlimited (always true).
    pub fn take(&mut self, now: Instant, per_sec: u32, burst: u32) -> bool {
        if per_sec == 0 {
            return true;
        }
        // The time one token takes to come back; a rate past 1e9/s is a token per ns.
        let interval = (Duration::from_secs(1) / per_sec).max(Duration::from_nanos(1));
        // A full bucket may be emptied at once: `burst` tokens, so the fill time may run
        // `burst` intervals ahead of now (at least one: a burst of 0 acts as 1).
        let depth = interval.saturating_mul(burst.max(1));
        let full_at = match self.full_at {
            Some(t) if t > now => t,
            _ => now,
        };
        let Some(after) = full_at.checked_add(interval) else {
            return false;
        };
        if after.saturating_duration_since(now) > depth {
            return false;
        }
        self.full_at = Some(after);
        true
    }
}

/// What the limiter says of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limits: apply it.
    Allowed,
    /// Over `events_per_sec`: refuse it.
    Limited,
    /// A `toggleAvailability` over `toggles_per_sec`: refuse it.
    ToggleLimited,
}

/// A connection's limiter: both buckets and the refusals in a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limiter {
    events: Bucket,
    toggles: Bucket,
    /// Events refused in a row (any allowed event resets it).
    refused_in_row: u32,
}

impl Limiter {
    /// Checks one event at `now` under `limits` (`toggle`: it is a `toggleAvailability`,
    /// which draws from both buckets). A refused event changes nothing but the count.
    pub fn check(&mut self, now: Instant, limits: &Limits, toggle: bool) -> Verdict {
        let verdict = if !self
            .events
            .take(now, limits.events_per_sec, limits.events_burst)
        {
            Verdict::Limited
        } else if toggle
            && !self
                .toggles
                .take(now, limits.toggles_per_sec, limits.toggles_burst)
        {
            Verdict::ToggleLimited
        } else {
            Verdict::Allowed
        };
        if verdict == Verdict::Allowed {
            self.refused_in_row = 0;
        } else {
            self.refused_in_row = self.refused_in_row.saturating_add(1);
        }
        verdict
    }

    /// Whether the refusal just counted is the one that closes the connection: exactly the
    /// `close_after`-th in a row (so a connection is closed once, however many follow).
    pub fn closes_now(&self, close_after: u32) -> bool {
        self.refused_in_row == close_after.max(1)
    }
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
