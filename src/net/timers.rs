//! The loop's own deadlines (connections' handshake, reply and close deadlines, sessions'
//! heartbeat, WebSockets' keepalive), typed by what they belong to. Entries are never removed early: each owner
//! remembers the deadline it wants, and an entry that no longer matches is skipped when it
//! comes due. Invariant: an owner has at most one current entry; stale ones only wait.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Whose deadline an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKey {
    /// A connection (by token): handshake, reply or close deadline.
    Conn(usize),
    /// An Engine.IO session (by key): its heartbeat or CONNECT deadline.
    Session(usize),
    /// A peer's verified token (by router id): its expiry.
    Token(u64),
    /// A WebSocket (by token): its keepalive, registration or soft-limit deadline.
    Live(usize),
}

/// A min-heap of (deadline, owner).
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, TimerKey)>>,
}

impl Timers {
    /// Adds an entry; the owner decides when it fires whether it is still current.
    pub fn push(&mut self, at: Instant, key: TimerKey) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest entry's deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerKey)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Entries waiting (current and stale).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
#[path = "timers_tests.rs"]
mod tests;
