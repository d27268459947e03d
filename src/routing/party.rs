//! The registry of parties (users and agents) and of which connection each one is on.
//!
//! Why: a party is not its connection. Each registered party gets a server-assigned
//! `PartyId`, and calls, the queue, the ready set and timers refer to it by that id; the
//! connection is looked up only when something is sent. This lets a later change keep a party
//! (and its call) alive while its connection is gone and bind it to a new one.
//!
//! Invariants: `by_conn[c] == p` exactly when party `p`'s slot has `conn == Some(c)` (each
//! connection is bound to at most one party and each party to at most one connection); every
//! entry of `users_by_id`/`agents_by_id` names a live party of that role with that id, and
//! every live party is in the map of its role; a removed party's `PartyId` never matches
//! again (its slot's serial differs), so a stale id finds nothing.
use super::event::Role;
use super::ids::{CallId, ConnId, PeerId};
use super::outbox::{Continuity, ResumeKey};
use super::report::AgentState;
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// One registered party, as numbered by the router; never reused while the daemon runs.
///
/// It names a slot of the registry (so a lookup is an index, not a hash) and carries the
/// party's serial number, unique over the daemon's life, which tells a stale id from the
/// slot's current occupant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyId {
    serial: u64,
    slot: usize,
}

#[cfg(test)]
impl PartyId {
    /// An id made up for unit tests of modules that only store party ids.
    pub(super) fn made_up(n: u64) -> PartyId {
        PartyId {
            serial: n,
            slot: usize::try_from(n).unwrap_or(usize::MAX),
        }
    }
}

impl fmt::Display for PartyId {
    /// `party#SERIAL`, as logs show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "party#{}", self.serial)
    }
}

/// A registered user (visitor).
#[derive(Debug)]
pub(super) struct User {
    /// The client-chosen id.
    pub id: PeerId,
    /// The user's call, if in one.
    pub call: Option<CallId>,
    /// The user's queue ticket, while it waits for an agent (never with `call`).
    pub ticket: Option<CallId>,
    /// The `Origin` header of the connection it registered on (entry points check it).
    pub origin: Option<std::sync::Arc<str>>,
    /// The priority its verified token's `priority` claim gives.
    pub priority: Option<i32>,
}

/// The order key of a ready agent: its load first, then the strategy's own order.
pub(super) type ReadyKey = (u64, u64, u64);

/// `Agent::load` of a full agent.
pub(super) const LOAD_SCALE: u64 = 1 << 20;

/// A registered agent.
#[derive(Debug)]
pub(super) struct Agent {
    /// The client-chosen id.
    pub id: PeerId,
    /// Whether the agent takes calls (toggleAvailability).
    pub wants_calls: bool,
    /// The agent's calls, oldest first.
    pub calls: Vec<CallId>,
    /// The queue ticket offered to the agent, waiting for its answer.
    pub offer: Option<CallId>,
    /// Chats it may hold at once (`[routing] max_capacity` at most).
    pub capacity: usize,
    /// When each slot in wrap-up after a call is free again, earliest first (until then, or
    /// toggleAvailability true; `Timer::WrapUpEnd` fires at the first).
    pub wrap_ups: VecDeque<Instant>,
    /// Its free slots as counted in `Router::free_slots` (0 unless ready).
    pub slots_counted: usize,
    /// In its reject delay (until `Timer::RejectDelayEnd`).
    pub reject_delay: bool,
    /// Offers let expire in a row.
    pub no_answer: u32,
    /// Registration order (first-available, round-robin).
    pub registered: u64,
    /// Order of when it last became idle: registered, available again, or a call ended.
    pub idle_since: u64,
    /// Calls taken since registration.
    pub calls_taken: u64,
    /// Time spent in calls since registration (calls that ended or moved away).
    pub talk_time: Duration,
    /// The state counted in `Stats::agents_by_state`.
    pub state: AgentState,
    /// Key in the ready set (`select::ReadyAgents`) while the agent is there.
    pub ready_key: Option<ReadyKey>,
    /// The display name its verified token gave (shown to users as `agentName`).
    pub name: Option<std::rc::Rc<str>>,
    /// Its connection dropped and it is held for a resume (offered no new calls).
    pub held: bool,
    /// Its skills (token claim, or connectAgent's `skills` when unauthenticated).
    pub skills: super::skills::Skills,
}

impl Agent {
    /// A newly registered agent, available, registered as the `seq`-th.
    pub fn new(id: PeerId, seq: u64) -> Agent {
        Agent {
            id,
            wants_calls: true,
            calls: Vec::new(),
            offer: None,
            capacity: 1,
            wrap_ups: VecDeque::new(),
            slots_counted: 0,
            reject_delay: false,
            no_answer: 0,
            registered: seq,
            idle_since: seq,
            calls_taken: 0,
            talk_time: Duration::ZERO,
            state: AgentState::Away,
            ready_key: None,
            name: None,
            held: false,
            skills: super::skills::Skills::default(),
        }
    }

    /// Slots neither in a call nor in wrap-up (an offer pending takes none: one at a time).
    pub fn free_slots(&self) -> usize {
        self.capacity
            .saturating_sub(self.calls.len() + self.wrap_ups.len())
    }

    /// How loaded it is, comparable across capacities: calls held / capacity, scaled.
    pub fn load(&self) -> u64 {
        (self.calls.len() as u64 * LOAD_SCALE) / self.capacity.max(1) as u64
    }

    /// The state the agent's fields say it is in (with a free slot and nothing against it:
    /// ready, even in other calls).
    pub fn current_state(&self) -> AgentState {
        if self.held {
            AgentState::Held
        } else if self.calls.len() >= self.capacity {
            AgentState::Busy
        } else if self.offer.is_some() {
            AgentState::Offered
        } else if !self.wants_calls {
            AgentState::Away
        } else if self.free_slots() == 0 {
            AgentState::WrapUp
        } else if self.reject_delay {
            AgentState::Away
        } else {
            AgentState::Ready
        }
    }
}

/// A user or an agent.
#[derive(Debug)]
pub(super) enum Party {
    User(User),
    Agent(Agent),
}

impl Party {
    /// The party's role.
    pub fn role(&self) -> Role {
        match self {
            Party::User(_) => Role::User,
            Party::Agent(_) => Role::Agent,
        }
    }

    /// The party's client-chosen id.
    pub fn id(&self) -> &PeerId {
        match self {
            Party::User(u) => &u.id,
            Party::Agent(a) => &a.id,
        }
    }
}

/// A slot's current party.
#[derive(Debug)]
struct Occupant {
    serial: u64,
    conn: Option<ConnId>,
    party: Party,
    cont: Continuity,
}

/// Every registered party, its connection binding and the client-chosen id index.
#[derive(Debug, Default)]
pub(super) struct Parties {
    /// Indexed by `PartyId::slot`; None for a free slot. The `conn` of each occupant is the
    /// PartyId -> ConnId direction of the binding.
    slots: Vec<Option<Occupant>>,
    /// Free slots, reused last-freed first.
    free_slots: Vec<usize>,
    next_serial: u64,
    /// The ConnId -> PartyId direction of the binding. Keyed by server-assigned ids: a fast
    /// non-keyed hash is safe.
    by_conn: FxHashMap<ConnId, PartyId>,
    /// Client-chosen ids keep the default keyed hash against collision floods.
    users_by_id: HashMap<PeerId, PartyId>,
    agents_by_id: HashMap<PeerId, PartyId>,
    /// Resumable parties by the hash of their resume token.
    by_key: HashMap<ResumeKey, PartyId>,
}

impl Parties {
    /// The live occupant `id` names, or None when `id` is stale or unknown.
    #[inline]
    fn occupant(&self, id: PartyId) -> Option<&Occupant> {
        self.slots
            .get(id.slot)?
            .as_ref()
            .filter(|o| o.serial == id.serial)
    }

    /// Mutable form of `occupant`.
    #[inline]
    fn occupant_mut(&mut self, id: PartyId) -> Option<&mut Occupant> {
        self.slots
            .get_mut(id.slot)?
            .as_mut()
            .filter(|o| o.serial == id.serial)
    }

    /// The party bound to `conn`, if any.
    #[inline]
    pub fn party_of(&self, conn: ConnId) -> Option<PartyId> {
        self.by_conn.get(&conn).copied()
    }

    /// The party bound to `conn` with its id: one hash lookup and one index (the hot path).
    #[inline]
    pub fn on_conn(&self, conn: ConnId) -> Option<(PartyId, &Party)> {
        let id = self.party_of(conn)?;
        Some((id, &self.occupant(id)?.party))
    }

    /// The connection party `id` is bound to; None when it has none or `id` is stale.
    #[inline]
    pub fn conn_of(&self, id: PartyId) -> Option<ConnId> {
        self.occupant(id)?.conn
    }

    /// Party `id`'s connection (None while it is held) and resume state.
    #[inline]
    pub fn link_mut(&mut self, id: PartyId) -> Option<(Option<ConnId>, &mut Continuity)> {
        self.occupant_mut(id).map(|o| (o.conn, &mut o.cont))
    }

    /// Party `id`'s resume state.
    pub fn continuity(&self, id: PartyId) -> Option<&Continuity> {
        self.occupant(id).map(|o| &o.cont)
    }

    /// The party whose resume token hashes to `key`.
    pub fn by_key(&self, key: &ResumeKey) -> Option<PartyId> {
        self.by_key.get(key).copied()
    }

    /// Makes party `id` resumable with the token hashing to `key`; false (and nothing
    /// changed) when `id` is stale, already has a key, or `key` is another party's.
    pub fn set_key(&mut self, id: PartyId, key: ResumeKey) -> bool {
        if self.by_key.contains_key(&key) {
            return false;
        }
        let Some(o) = self.occupant_mut(id) else {
            return false;
        };
        if o.cont.key.is_some() {
            return false;
        }
        o.cont.key = Some(key);
        self.by_key.insert(key, id);
        true
    }

    /// The live party `id` names.
    #[inline]
    pub fn get(&self, id: PartyId) -> Option<&Party> {
        self.occupant(id).map(|o| &o.party)
    }

    /// Mutable form of `get`.
    #[inline]
    pub fn get_mut(&mut self, id: PartyId) -> Option<&mut Party> {
        self.occupant_mut(id).map(|o| &mut o.party)
    }

    /// The live user `id` names (None for an agent).
    pub fn user(&self, id: PartyId) -> Option<&User> {
        match self.get(id)? {
            Party::User(u) => Some(u),
            Party::Agent(_) => None,
        }
    }

    /// Mutable form of `user`.
    pub fn user_mut(&mut self, id: PartyId) -> Option<&mut User> {
        match self.get_mut(id)? {
            Party::User(u) => Some(u),
            Party::Agent(_) => None,
        }
    }

    /// The live agent `id` names (None for a user).
    pub fn agent(&self, id: PartyId) -> Option<&Agent> {
        match self.get(id)? {
            Party::Agent(a) => Some(a),
            Party::User(_) => None,
        }
    }

    /// Mutable form of `agent`.
    pub fn agent_mut(&mut self, id: PartyId) -> Option<&mut Agent> {
        match self.get_mut(id)? {
            Party::Agent(a) => Some(a),
            Party::User(_) => None,
        }
    }

    /// The party of `role` registered under the client-chosen `id`.
    pub fn by_peer_id(&self, role: Role, id: &PeerId) -> Option<PartyId> {
        self.ids(role).get(id).copied()
    }

    /// Every live party with its id, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (PartyId, &Party)> {
        self.slots.iter().enumerate().filter_map(|(slot, o)| {
            let o = o.as_ref()?;
            Some((
                PartyId {
                    serial: o.serial,
                    slot,
                },
                &o.party,
            ))
        })
    }

    /// How many users are registered.
    pub fn users(&self) -> usize {
        self.users_by_id.len()
    }

    /// How many agents are registered.
    pub fn agents(&self) -> usize {
        self.agents_by_id.len()
    }

    /// The client-chosen id index of `role`.
    fn ids(&self, role: Role) -> &HashMap<PeerId, PartyId> {
        match role {
            Role::User => &self.users_by_id,
            Role::Agent => &self.agents_by_id,
        }
    }

    /// Registers `party`, with no connection yet; None (and nothing changed) when its
    /// client-chosen id is taken in its role.
    pub fn insert(&mut self, party: Party) -> Option<PartyId> {
        let ids = match party.role() {
            Role::User => &mut self.users_by_id,
            Role::Agent => &mut self.agents_by_id,
        };
        let Entry::Vacant(entry) = ids.entry(party.id().clone()) else {
            return None;
        };
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        let occupant = Occupant {
            serial,
            conn: None,
            party,
            cont: Continuity::default(),
        };
        let slot = match self.free_slots.pop() {
            Some(slot) if slot < self.slots.len() => slot,
            _ => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(occupant);
        }
        let id = PartyId { serial, slot };
        entry.insert(id);
        Some(id)
    }

    /// Binds `conn` and party `id` to each other; false (and nothing changed) when `id` is
    /// stale or either side is already bound.
    pub fn bind(&mut self, conn: ConnId, id: PartyId) -> bool {
        if self.by_conn.contains_key(&conn) {
            return false;
        }
        let Some(o) = self.occupant_mut(id) else {
            return false;
        };
        if o.conn.is_some() {
            return false;
        }
        o.conn = Some(conn);
        self.by_conn.insert(conn, id);
        true
    }

    /// Unbinds `conn` from its party, which stays registered with no connection; returns
    /// that party, or None when `conn` was not bound.
    pub fn unbind(&mut self, conn: ConnId) -> Option<PartyId> {
        let id = self.by_conn.remove(&conn)?;
        match self.occupant_mut(id) {
            Some(o) => o.conn = None,
            None => log::warn!("connection {conn:?} was bound to stale {id}; unbound"),
        }
        Some(id)
    }

    /// Removes party `id`: its client-chosen id is free again and its connection, if any,
    /// unbound. None (and nothing changed) when `id` is stale.
    pub fn remove(&mut self, id: PartyId) -> Option<Party> {
        let o = self.slots.get_mut(id.slot)?;
        if o.as_ref().is_none_or(|o| o.serial != id.serial) {
            return None;
        }
        let o = o.take()?;
        self.free_slots.push(id.slot);
        if let Some(conn) = o.conn {
            self.by_conn.remove(&conn);
        }
        if let Some(key) = o.cont.key {
            self.by_key.remove(&key);
        }
        let ids = match o.party.role() {
            Role::User => &mut self.users_by_id,
            Role::Agent => &mut self.agents_by_id,
        };
        match ids.remove(o.party.id()) {
            Some(holder) if holder != id => {
                log::warn!("{} of {id} was held by {holder}; left to it", o.party.id());
                ids.insert(o.party.id().clone(), holder);
            }
            Some(_) => {}
            None => log::warn!("{} of {id} was not indexed", o.party.id()),
        }
        Some(o.party)
    }
}

#[cfg(test)]
#[path = "party_tests.rs"]
mod tests;
