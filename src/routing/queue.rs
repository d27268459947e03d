//! The call queue: users who asked for a call and are not connected yet, higher priority
//! first and first come first served within a priority, with their positions and an
//! estimate of their wait.
//!
//! Why: when no agent is eligible, a user waits here instead of being refused; each entry
//! (a `Ticket`) keeps what a call needs once an agent takes it (room, the data the user
//! sent, the agents it must not go to), so a user put back in line (rejected, agent lost,
//! transferred to the queue) is routed exactly like a new one.
//!
//! Order: an entry's key is (rank, seq): `rank` comes from the user's priority (and, with
//! `priority_aging_secs`, the time of its first ask: see `skills::rank`; aging is continuous,
//! so keys never change), `seq` is the sequence number of the user's first `callAgent` for
//! this request. A user put back keeps its key, so it goes ahead of everyone of its rank who
//! asked after it. With no priorities every rank is equal (0, or the ask time with aging)
//! and the order is first come first served, as it always was. The queue computes ranks
//! itself (from each request's priority and ask time) when a ticket enters, and all of
//! them again when a reload changes the aging rule (`set_aging`).
//! Users under an offer keep their place (they are in `all`, counted in positions and
//! `queueLength`) but are not in `waiting`, so an agent looking for a call skips them at no
//! cost.
//!
//! Skills index: `waiting` is one ordered map per distinct current requirement (the skills a
//! ticket needs now; empty for "any agent"), the groups filed under their requirement's
//! first skill name (None for "any agent"). An agent looking for a call looks only at the
//! "any agent" group and the groups filed under one of its own skills (an agent without a
//! requirement's first skill cannot cover it), checks each is covered, and takes the best of
//! their heads (lowest key). Choosing costs O(a + c · (r + log n) + k) for a agent skills,
//! c candidate groups, r skills per requirement, n waiting users and k tickets skipped
//! because they exclude the agent: never a scan of the queue. A ticket whose requirement
//! relaxes (a skill step) moves to another group in O(log n).
//!
//! Position of a new arrival is the queue length (O(log n)); of a user put back it is the
//! number of entries ahead of it, counted (those are the few users passed over by
//! exclusions or under an offer). Position updates are computed in one in-order walk.
//!
//! Estimated wait (`estimatedWaitSecs`): position × the mean interval between the last
//! `HISTORY` assignments (calls connected), rounded up to whole seconds; absent until
//! `MIN_HISTORY` assignments have been seen.
//!
//! Invariants: `all` and `tickets` hold the same entries (`all[t.key] == id` exactly when
//! `tickets[id]` is `t`); `waiting` is the subset of `all` with no offer pending, each in
//! the group of its ticket's `need`, with no empty group; `waiting_len` counts it, and
//! `skill_sets` counts its groups with a requirement (all but "any agent").
use super::ids::{CallId, PeerId};
use super::party::PartyId;
use super::skills::Skills;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Assignments the wait estimate looks back over.
pub(super) const HISTORY: usize = 20;
/// Assignments needed before the wait is estimated.
pub(super) const MIN_HISTORY: usize = 3;

/// What a call needs from the user's request, kept from the first `callAgent` on.
#[derive(Debug, Clone, Default)]
pub(super) struct Request {
    /// Queue key: the order of the user's first ask.
    pub key: u64,
    /// Queue rank (lower goes first; see `skills::rank`), set by the queue from `priority`
    /// and `asked_ms` under its aging rule whenever the request enters it.
    pub rank: i64,
    /// The user's priority (higher goes first).
    pub priority: i32,
    /// When the user first asked, in ms from the queue's origin (`Queue::ms_since_origin`).
    pub asked_ms: u64,
    /// The skills the call requires (before any step relaxes them).
    pub needs: Skills,
    /// When the user first asked (skill steps count from it); None in made-up tests.
    pub asked: Option<Instant>,
    /// The `callAgent` data as the user sent it, with userId and roomId (and, once routed,
    /// the agentId it was last sent with).
    pub data: Rc<Map<String, Value>>,
    /// Agents this request must not go to (they rejected it, or transferred it away).
    pub excluded: Vec<PartyId>,
}

/// One waiting user.
#[derive(Debug)]
pub(super) struct Ticket {
    pub user: PartyId,
    pub room: PeerId,
    pub request: Request,
    /// When the user (re-)entered the queue.
    pub entered: Instant,
    /// The agent the call is offered to, while an offer is pending.
    pub offered: Option<PartyId>,
    /// Agents that let this call's offer expire in the current round.
    pub expired: Vec<PartyId>,
    /// The skills an agent needs to take it now (`request.needs`, relaxed by time).
    pub need: Skills,
    /// The position last sent to the user (0: none yet).
    sent_position: usize,
    /// When, and in which loop turn, the last `queued` went out.
    sent_at: Option<(Instant, u64)>,
}

impl Ticket {
    /// A ticket for `user` entering the queue at `now`.
    pub fn new(user: PartyId, room: PeerId, request: Request, now: Instant) -> Ticket {
        Ticket {
            user,
            room,
            request,
            entered: now,
            offered: None,
            expired: Vec::new(),
            need: Skills::default(),
            sent_position: 0,
            sent_at: None,
        }
    }

    /// Whether this ticket may go to `agent` at all.
    pub fn allows(&self, agent: PartyId) -> bool {
        !self.request.excluded.contains(&agent)
    }

    /// The ticket's place in the queue order.
    fn key(&self) -> Key {
        (self.request.rank, self.request.key)
    }
}

/// A ticket's place: (rank, seq), lowest first.
type Key = (i64, u64);

/// Waiting tickets by their current requirement, each group in queue order.
type Groups = FxHashMap<Skills, BTreeMap<Key, CallId>>;

/// A position update due to one user.
#[derive(Debug)]
pub(super) struct Update {
    pub user: PartyId,
    pub room: PeerId,
    pub position: usize,
}

/// Every waiting user, in queue order.
#[derive(Debug, Default)]
pub(super) struct Queue {
    tickets: FxHashMap<CallId, Ticket>,
    all: BTreeMap<Key, CallId>,
    /// The waiting tickets, one group per current requirement, filed under its first skill.
    waiting: FxHashMap<Option<Arc<str>>, Groups>,
    waiting_len: usize,
    /// The groups of `waiting` with a skill requirement (all but "any agent"): what a freed
    /// agent may have to look at, bounded by `max_skill_sets` for new requests.
    skill_sets: usize,
    next_key: u64,
    /// The instant ranks with aging count from (the first ask seen).
    origin: Option<Instant>,
    /// The aging rule ranks are computed with (`priority_aging_secs`).
    aging: Option<Duration>,
    /// Some position may have changed since the last flush.
    dirty: bool,
    /// When `dirty` was last set from clean.
    dirty_since: Option<Instant>,
    last_flush: Option<Instant>,
    /// When the last assignments happened, oldest first.
    assignments: VecDeque<Instant>,
}

impl Queue {
    /// An empty queue ranking under aging rule `aging`.
    pub fn with_aging(aging: Option<Duration>) -> Queue {
        Queue {
            aging,
            ..Queue::default()
        }
    }

    /// A fresh queue key, later than every key handed out before.
    pub fn new_key(&mut self) -> u64 {
        self.next_key = self.next_key.wrapping_add(1);
        self.next_key
    }

    /// Milliseconds from the queue's origin (set by the first call) to `now`.
    pub fn ms_since_origin(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(origin).as_millis()).unwrap_or(u64::MAX)
    }

    /// How many users are queued (offers pending included).
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether no user waits without an offer.
    #[inline]
    pub fn none_waiting(&self) -> bool {
        self.waiting_len == 0
    }

    /// Whether a new ticket needing `need` may wait under `max` distinct skill requirements
    /// (0 = any number): "any agent" and a requirement some ticket waits with already
    /// always may; a new one only while fewer than `max` are waiting.
    pub fn admits_skill_set(&self, need: &Skills, max: usize) -> bool {
        let Some(first) = need.first_name() else {
            return true;
        };
        max == 0
            || self.skill_sets < max
            || self
                .waiting
                .get(&Some(first.clone()))
                .is_some_and(|file| file.contains_key(need))
    }

    /// Puts ticket `id` (keyed `key`, needing `need`) in its waiting group.
    fn wait(&mut self, need: &Skills, key: Key, id: CallId) {
        let file = self.waiting.entry(need.first_name().cloned()).or_default();
        let group = match file.get_mut(need) {
            Some(g) => g,
            None => {
                if need.first_name().is_some() {
                    self.skill_sets += 1;
                }
                file.entry(need.clone()).or_default()
            }
        };
        if group.insert(key, id).is_none() {
            self.waiting_len += 1;
        }
    }

    /// Takes the ticket keyed `key` out of the waiting group of `need`, if it is there.
    fn unwait(&mut self, need: &Skills, key: Key) {
        let first = need.first_name().cloned();
        let Some(file) = self.waiting.get_mut(&first) else {
            return;
        };
        let Some(group) = file.get_mut(need) else {
            return;
        };
        if group.remove(&key).is_some() {
            self.waiting_len -= 1;
        }
        if group.is_empty() {
            file.remove(need);
            if first.is_some() {
                self.skill_sets -= 1;
            }
            if file.is_empty() {
                self.waiting.remove(&first);
            }
        }
    }

    /// The ticket `id`.
    pub fn get(&self, id: CallId) -> Option<&Ticket> {
        self.tickets.get(&id)
    }

    /// Mutable form of `get`.
    pub fn get_mut(&mut self, id: CallId) -> Option<&mut Ticket> {
        self.tickets.get_mut(&id)
    }

    /// Notes at `now` that positions may have changed.
    fn touch(&mut self, now: Instant) {
        if !self.dirty {
            self.dirty = true;
            self.dirty_since = Some(now);
        }
    }

    /// Queues ticket `id` at its key's place.
    pub fn insert(&mut self, now: Instant, id: CallId, mut ticket: Ticket) {
        let r = &mut ticket.request;
        r.rank = super::skills::rank(r.priority, r.asked_ms, self.aging);
        let key = ticket.key();
        if ticket.offered.is_none() {
            self.wait(&ticket.need, key, id);
        }
        if let Some(old) = self.all.insert(key, id) {
            log::warn!("queue key {key:?} of {old:?} given to {id:?}");
        }
        self.tickets.insert(id, ticket);
        self.touch(now);
    }

    /// Ranks every ticket under aging rule `aging` from now on (a reload changed
    /// `priority_aging_secs`): O(n log n), and positions are sent again as they change.
    pub fn set_aging(&mut self, now: Instant, aging: Option<Duration>) {
        if self.aging == aging {
            return;
        }
        self.aging = aging;
        self.all.clear();
        self.waiting.clear();
        self.waiting_len = 0;
        self.skill_sets = 0;
        let ids: Vec<CallId> = self.tickets.keys().copied().collect();
        for id in ids {
            let Some(t) = self.tickets.get_mut(&id) else {
                continue;
            };
            let r = &mut t.request;
            r.rank = super::skills::rank(r.priority, r.asked_ms, aging);
            let (key, need, waits) = (t.key(), t.need.clone(), t.offered.is_none());
            self.all.insert(key, id);
            if waits {
                self.wait(&need, key, id);
            }
        }
        self.touch(now);
    }

    /// Takes ticket `id` out of the queue.
    pub fn remove(&mut self, now: Instant, id: CallId) -> Option<Ticket> {
        let t = self.tickets.remove(&id)?;
        self.all.remove(&t.key());
        self.unwait(&t.need, t.key());
        self.touch(now);
        Some(t)
    }

    /// Marks ticket `id` as offered to `agent` (None: the offer is over, it waits again).
    pub fn set_offer(&mut self, id: CallId, agent: Option<PartyId>) {
        let Some(t) = self.tickets.get_mut(&id) else {
            return;
        };
        t.offered = agent;
        let (need, key) = (t.need.clone(), t.key());
        match agent {
            Some(_) => self.unwait(&need, key),
            None => self.wait(&need, key, id),
        }
    }

    /// Sets what ticket `id` requires of an agent now (a skill step relaxed it), moving it
    /// to that group if it waits.
    pub fn set_need(&mut self, id: CallId, need: Skills) {
        let Some(t) = self.tickets.get_mut(&id) else {
            return;
        };
        let old = std::mem::replace(&mut t.need, need.clone());
        let (key, waits) = (t.key(), t.offered.is_none());
        if waits && old != need {
            self.unwait(&old, key);
            self.wait(&need, key, id);
        }
    }

    /// The user's position (1 is next): the entries ahead of it, plus one.
    pub fn position(&self, id: CallId) -> usize {
        let Some(t) = self.tickets.get(&id) else {
            return 0;
        };
        let key = t.key();
        match self.all.last_key_value() {
            Some((last, _)) if *last == key => self.all.len(),
            _ => self.all.range(..key).count() + 1,
        }
    }

    /// The first waiting ticket (no offer pending) in queue order that an agent with
    /// `skills` may take and that `fits`: only the groups `skills` covers are looked at,
    /// and in each only tickets that do not fit (they excluded the agent) are skipped.
    pub fn first_waiting(&self, skills: &Skills, fits: impl Fn(&Ticket) -> bool) -> Option<CallId> {
        let mut best: Option<(Key, CallId)> = None;
        let files = std::iter::once(None)
            .chain(skills.names().map(Some))
            .filter_map(|n| self.waiting.get(&n.cloned()));
        for (need, group) in files.flatten() {
            if !skills.covers(need) {
                continue;
            }
            let head = group
                .iter()
                .take_while(|(k, _)| best.is_none_or(|(b, _)| **k < b))
                .find(|(_, id)| self.tickets.get(id).is_some_and(&fits));
            if let Some((k, id)) = head {
                best = Some((*k, *id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// (`skill_sets` as kept, the distinct skill requirements of waiting tickets counted by a
    /// scan): the two the property tests compare.
    #[cfg(test)]
    pub fn skill_sets_kept_and_scanned(&self) -> (usize, usize) {
        let scanned: std::collections::HashSet<&Skills> = self
            .tickets
            .values()
            .filter(|t| t.offered.is_none() && !t.need.is_empty())
            .map(|t| &t.need)
            .collect();
        (self.skill_sets, scanned.len())
    }

    /// The same choice as `first_waiting` by scanning every waiting ticket in queue order
    /// (the reference the property tests compare the index with).
    #[cfg(test)]
    pub fn first_waiting_scan(
        &self,
        skills: &Skills,
        fits: impl Fn(&Ticket) -> bool,
    ) -> Option<CallId> {
        self.all.values().copied().find(|id| {
            self.tickets
                .get(id)
                .is_some_and(|t| t.offered.is_none() && skills.covers(&t.need) && fits(t))
        })
    }

    /// Notes that a call was connected at `now` (for the wait estimate).
    pub fn record_assignment(&mut self, now: Instant) {
        if self.assignments.len() == HISTORY {
            self.assignments.pop_front();
        }
        self.assignments.push_back(now);
    }

    /// The estimated wait in seconds at `position`, once there is enough history.
    pub fn estimate(&self, position: usize) -> Option<u64> {
        if self.assignments.len() < MIN_HISTORY {
            return None;
        }
        let (first, last) = (self.assignments.front()?, self.assignments.back()?);
        let intervals = u32::try_from(self.assignments.len() - 1).ok()?;
        let mean = last.saturating_duration_since(*first) / intervals;
        let wait = mean.saturating_mul(u32::try_from(position).unwrap_or(u32::MAX));
        Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }

    /// Records that `queued` with `position` went to ticket `id` at `now` in loop `turn`.
    pub fn mark_sent(&mut self, id: CallId, position: usize, now: Instant, turn: u64) {
        if let Some(t) = self.tickets.get_mut(&id) {
            t.sent_position = position;
            t.sent_at = Some((now, turn));
        }
    }

    /// When the next position flush may run, if one is needed.
    pub fn next_flush(&self, interval: Duration) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        let since = self.dirty_since?;
        Some(match self.last_flush {
            Some(at) => since.max(at + interval),
            None => since,
        })
    }

    /// The position updates due at `now` in loop `turn`, if a flush is due: every user not
    /// under an offer whose position changed since it last heard, unless it heard within
    /// `interval` or in this turn (it is then kept for a later flush).
    pub fn flush(&mut self, now: Instant, interval: Duration, turn: u64) -> Vec<Update> {
        if !self.dirty || self.last_flush.is_some_and(|at| now < at + interval) {
            return Vec::new();
        }
        self.last_flush = Some(now);
        self.dirty = false;
        let mut still_dirty = false;
        let mut updates = Vec::new();
        for (i, id) in self.all.values().enumerate() {
            let Some(t) = self.tickets.get_mut(id) else {
                continue;
            };
            let position = i + 1;
            if t.offered.is_some() || t.sent_position == position {
                continue;
            }
            let recent = t
                .sent_at
                .is_some_and(|(at, tn)| tn == turn || now < at + interval);
            if recent {
                still_dirty = true;
                continue;
            }
            t.sent_position = position;
            t.sent_at = Some((now, turn));
            updates.push(Update {
                user: t.user,
                room: t.room.clone(),
                position,
            });
        }
        if still_dirty {
            self.touch(now);
        }
        updates
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
