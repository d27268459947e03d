//! Typed timers: what the router must do later, and when.
//!
//! Why: routing rules need deadlines (an offered call the agent does not accept in time, the
//! end of an agent's wrap-up or reject delay, a user's longest wait). The router holds no
//! clock: the loop asks `Router::poll_timeout` for the earliest deadline and calls
//! `Router::handle_timeout(now)`, which fires the timers due by then.
//!
//! Invariants: a `Timer` is identified by its value and has at most one live deadline (in
//! `live`); scheduling it again moves that deadline, cancelling removes it. The heap also
//! holds stale entries (cancelled or moved), which never fire; its top is always live (stale
//! tops are popped as soon as they surface), so the earliest deadline is read without
//! changing anything, and the heap is compacted once stale entries outnumber live ones by
//! more than `STALE_SLACK`, so its size stays bounded by the live timers.
use super::ids::CallId;
use super::party::PartyId;
use rustc_hash::FxHashMap;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

/// Stale heap entries tolerated beyond the live ones before the heap is compacted.
const STALE_SLACK: usize = 64;

/// Something the router does at a deadline; what it is about is part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Timer {
    /// The agent the queue ticket was offered to has not accepted it in time.
    OfferExpiry(CallId),
    /// An agent's wrap-up after a call is over.
    WrapUpEnd(PartyId),
    /// An agent's reject delay is over.
    RejectDelayEnd(PartyId),
    /// A queued user has waited `max_wait_ms`.
    MaxWait(CallId),
    /// A held party's resume grace is over.
    GraceEnd(PartyId),
    /// A queued user's skill requirement relaxes (the next skill step, or any agent).
    SkillStep(CallId),
}

/// One scheduled deadline; `seq` orders equal deadlines by scheduling and tells the live
/// entry of a timer from its stale ones.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    seq: u64,
    timer: Timer,
}

impl PartialEq for Entry {
    /// Equal when deadline and sequence are (the timer follows from `seq`).
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    /// As `Ord`.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Earlier deadline first; equal deadlines in the order they were scheduled.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-heap of deadlines with lazy removal of cancelled and moved entries.
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Each live timer's deadline and the `seq` of its live heap entry.
    live: FxHashMap<Timer, (Instant, u64)>,
    next_seq: u64,
}

impl Timers {
    /// Sets `timer` to fire at `at`, replacing any deadline it had.
    pub fn schedule(&mut self, timer: Timer, at: Instant) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.live.insert(timer, (at, seq));
        self.heap.push(Reverse(Entry { at, seq, timer }));
        self.settle();
    }

    /// Stops `timer` from firing; false when it was not scheduled.
    pub fn cancel(&mut self, timer: Timer) -> bool {
        let was = self.live.remove(&timer).is_some();
        self.settle();
        was
    }

    /// When `timer` fires, if it is scheduled.
    #[cfg(test)]
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.live.get(&timer).map(|(at, _)| *at)
    }

    /// The earliest live deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns the earliest timer due at `now` (deadline <= now); None when none
    /// is due, so calling early, or again after it fired, does nothing.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.heap.peek().is_none_or(|Reverse(e)| e.at > now) {
            return None;
        }
        let Reverse(entry) = self.heap.pop()?;
        self.live.remove(&entry.timer);
        self.settle();
        Some(entry.timer)
    }

    /// How many timers are scheduled.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// How many heap entries there are, stale ones included.
    #[cfg(test)]
    fn heap_len(&self) -> usize {
        self.heap.len()
    }

    /// Whether `entry` is its timer's live entry.
    fn is_live(live: &FxHashMap<Timer, (Instant, u64)>, entry: &Entry) -> bool {
        live.get(&entry.timer)
            .is_some_and(|&(_, seq)| seq == entry.seq)
    }

    /// Restores the invariants: the top is live, and stale entries are few.
    fn settle(&mut self) {
        if self.heap.len() > 2 * self.live.len() + STALE_SLACK {
            let live = &self.live;
            self.heap.retain(|Reverse(e)| Self::is_live(live, e));
        }
        while let Some(Reverse(top)) = self.heap.peek() {
            if Self::is_live(&self.live, top) {
                break;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
#[path = "timer_tests.rs"]
mod tests;
