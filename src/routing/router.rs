//! The router: the sans-IO routing core's one type, its inputs and its outputs.
//!
//! Why: the loop talks to one object. `Router` owns the registry of parties (`party`), the
//! calls (`call`), the waiting users (`queue`), the ready agents (`select`), the timers
//! (`timer`) and the settings (`config`); it dispatches each input to its rule (`requests`,
//! one function per client event), lets `dispatch` route waiting users to agents that became
//! ready during it, and queues what the loop must do as `Output`s.
//!
//! Invariants: a connection is at most one party; an id maps to at most one live party per
//! role; a room belongs to at most one call or queue ticket; an agent is in the ready set
//! exactly when its state is `Ready` (available, no call or offer, not in wrap-up or reject
//! delay), and `agent_counts` counts every agent under its state; after every input no ready
//! agent may take a waiting user (`dispatch`); a rejected request changes nothing; no input
//! panics, whatever ids it carries (an unknown or stale one is refused, or logged and
//! ignored). `check_invariants` verifies these for tests.
use super::call::{Call, Calls};
use super::config::RoutingConfig;
use super::data::EventData;
use super::event::{ClientEvent, EndReason, Role, ServerEvent};
use super::ids::{CallId, ConnId};
use super::outbox::Pushed;
use super::party::{Parties, Party, PartyId};
use super::payload::Handled;
use super::queue::Queue;
use super::report::{AgentState, HoldResult, OfferResult, QueueOutcome};
use super::select::ReadyAgents;
use super::sent_ring::SentRing;
use super::timer::{Timer, Timers};
use log::{debug, warn};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the router asks of the loop. Drain with `poll_output` after every input.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send this event to one connection; `seq` is its number in the sequence of the party
    /// on it (None for what is not addressed to a party: replies before registration,
    /// `registered` itself, `error` before a close).
    Send {
        to: ConnId,
        event: ServerEvent,
        seq: Option<u64>,
    },
    /// A resume took this connection's party over: it was sent `error {session_replaced}`;
    /// close it (the router has forgotten it).
    Replaced { conn: ConnId },
    /// A call started (for metrics and logs).
    CallStarted { call: CallId },
    /// A call ended after `duration` (for metrics and logs).
    CallFinished {
        call: CallId,
        reason: EndReason,
        duration: Duration,
    },
    /// A user's wait for an agent ended after `waited` (for metrics): every accepted
    /// `callAgent` ends its wait once, `answered` with 0 when an agent took it at once.
    QueueLeft {
        outcome: QueueOutcome,
        waited: Duration,
    },
    /// An offer to an agent ended (for metrics).
    Offer { result: OfferResult },
    /// A party's hold for a resume ended (for metrics; the resumed one counts even when
    /// its old connection was still open).
    Hold { result: HoldResult },
}

/// Counts the loop mirrors into gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub users: usize,
    pub agents: usize,
    /// Agents that would accept a call now (the `getAvailableAgents` count).
    pub available_agents: usize,
    /// Connected calls.
    pub active_calls: usize,
    /// Users waiting for an agent, offers pending included.
    pub queue_length: usize,
    /// Parties held for a resume (their connection dropped within the grace).
    pub held: usize,
    /// Free slots of the agents that would accept a call now (as many as
    /// `available_agents` while every capacity is 1).
    pub free_slots: usize,
    /// Registered agents by state, indexed like `AgentState::ALL`.
    pub agents_by_state: [usize; AgentState::ALL.len()],
}

/// The sans-IO routing core.
///
/// Inputs: `handle_register` / `handle_register_as` (with the `Identity` the loop vouches
/// for: Origin, token priority and skills), `handle_event`, `handle_disconnect`,
/// `handle_timeout` (once per loop turn: it
/// also sends the queue's position updates), `set_config`. Outputs, drained in this order
/// after each input or turn: `poll_output` until None, then (once per loop turn)
/// `poll_available_agents`, then `poll_timeout` for the next wake-up. Outputs of one input
/// come out in the order the rule queued them.
pub struct Router {
    pub(super) config: RoutingConfig,
    /// Users and agents, and which connection each is on.
    pub(super) parties: Parties,
    pub(super) calls: Calls,
    /// Agents that would accept a call now, ordered by the strategy.
    pub(super) free: ReadyAgents,
    /// The same agents per skill (`skill_ready`).
    pub(super) ready_by_skill: super::skill_ready::ReadyBySkill,
    /// Users waiting for an agent.
    pub(super) queue: Queue,
    pub(super) timers: Timers,
    out: VecDeque<Output>,
    /// Agents that became ready during the current input, to be given a waiting user.
    pub(super) became_ready: Vec<PartyId>,
    /// Held parties whose outbox overflowed during the current input (`resume::settle`).
    pub(super) overflowed: Vec<PartyId>,
    /// Parties held for a resume.
    pub(super) held: usize,
    /// Free slots of the ready agents (`Agent::slots_counted` summed).
    pub(super) free_slots: usize,
    /// The recent events of connected parties that can be resumed.
    pub(super) sent: SentRing,
    /// Registered agents by state.
    pub(super) agent_counts: [usize; AgentState::ALL.len()],
    /// Sequence for registration and idle order.
    seq: u64,
    /// Loop turns so far (`handle_timeout` calls).
    pub(super) turn: u64,
    pub(super) announced_available: Option<usize>,
    /// When the next count may be broadcast (the last one plus `availability_interval`).
    next_announce: Option<Instant>,
    /// Connections sent a count of their own (on registering or resuming) since the last
    /// broadcast, with that count: the broadcast skips those it would tell the same again.
    pub(super) told_count: rustc_hash::FxHashMap<ConnId, usize>,
    /// What the loop vouches for about the registration being handled (`handle_register_as`).
    pub(super) identity: super::skills::Identity,
}

impl Default for Router {
    /// As `Router::new`.
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    /// An empty router with the default settings.
    pub fn new() -> Router {
        Router::with_config(RoutingConfig::default(), 0)
    }

    /// An empty router with `config`; `seed` seeds the random strategy's draws.
    pub fn with_config(config: RoutingConfig, seed: u64) -> Router {
        let (strategy, window_bytes) = (config.strategy, config.resume.window_bytes);
        let aging = config.priority_aging;
        Router {
            config,
            parties: Parties::default(),
            calls: Calls::default(),
            free: ReadyAgents::new(strategy, seed),
            ready_by_skill: Default::default(),
            queue: Queue::with_aging(aging),
            timers: Timers::default(),
            out: VecDeque::new(),
            became_ready: Vec::new(),
            overflowed: Vec::new(),
            held: 0,
            free_slots: 0,
            sent: SentRing::new(window_bytes),
            agent_counts: [0; AgentState::ALL.len()],
            seq: 0,
            turn: 0,
            // Nobody needs to hear "0" before any agent has come and gone.
            announced_available: Some(0),
            next_announce: None,
            told_count: rustc_hash::FxHashMap::default(),
            identity: super::skills::Identity::default(),
        }
    }

    /// Applies a reloaded config to every decision from now on (deadlines already set stay).
    pub fn set_config(&mut self, now: Instant, config: RoutingConfig) {
        self.free.set_strategy(config.strategy, &mut self.parties);
        self.ready_by_skill.rebuild(&self.parties);
        self.queue.set_aging(now, config.priority_aging);
        if config.resume.window_bytes != self.config.resume.window_bytes {
            self.sent = self.sent.resized(config.resume.window_bytes);
        }
        self.config = config;
        self.dispatch(now);
        self.settle(now);
    }

    /// The settings in force.
    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    /// The next number of the registration / idle sequence.
    pub(super) fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Handles one event from `conn`; on Err nothing changed and the caller reports it.
    pub fn handle_event(
        &mut self,
        now: Instant,
        conn: ConnId,
        event: ClientEvent,
        data: EventData<'_>,
    ) -> Handled {
        let r = match event {
            // The hot path, apart from the other rules.
            ClientEvent::UserMessage => self.message(conn, Role::User, data.into_message()),
            ClientEvent::AgentMessage => self.message(conn, Role::Agent, data.into_message()),
            _ => self.handle_request(now, conn, event, data.raw(), None),
        };
        if !self.overflowed.is_empty() {
            self.settle(now);
        }
        r
    }

    /// `connectUser` / `connectAgent` from `conn`, with `token` the resume token to give the
    /// party if the registration is new (fresh from the OS CSPRNG, chosen by the loop); the
    /// data's `resumeToken` and `lastSeq` resume a held party instead.
    pub fn handle_register(
        &mut self,
        now: Instant,
        conn: ConnId,
        role: Role,
        data: Option<&RawValue>,
        token: &str,
    ) -> Handled {
        let event = match role {
            Role::User => ClientEvent::ConnectUser,
            Role::Agent => ClientEvent::ConnectAgent,
        };
        let r = self.handle_request(now, conn, event, data, Some(token));
        self.settle(now);
        r
    }

    /// `handle_register` with what the loop knows about the connection beyond the event's
    /// data (`identity`: its Origin header, whether a token proved it, and that token's
    /// capacity, priority and skills), kept on the party a new registration creates.
    pub fn handle_register_as(
        &mut self,
        now: Instant,
        conn: ConnId,
        role: Role,
        data: Option<&RawValue>,
        token: &str,
        identity: super::skills::Identity,
    ) -> Handled {
        self.identity = identity;
        let r = self.handle_register(now, conn, role, data, token);
        self.identity = super::skills::Identity::default();
        r
    }

    /// The capacity of the agent on `conn`, if it is one.
    pub(super) fn capacity_of(&self, conn: ConnId) -> Option<u32> {
        match self.parties.on_conn(conn) {
            Some((_, Party::Agent(a))) => u32::try_from(a.capacity).ok(),
            _ => None,
        }
    }

    /// Every event but the messages: its rule, then dispatch of agents it made ready.
    #[inline(never)]
    fn handle_request(
        &mut self,
        now: Instant,
        conn: ConnId,
        event: ClientEvent,
        data: Option<&RawValue>,
        token: Option<&str>,
    ) -> Handled {
        let r = match event {
            ClientEvent::ConnectUser => self.connect(now, conn, Role::User, data, token),
            ClientEvent::ConnectAgent => self.connect(now, conn, Role::Agent, data, token),
            ClientEvent::CallAgent => self.call_agent(now, conn, data),
            ClientEvent::RejectCall => self.reject_call(now, conn, data),
            ClientEvent::CallTransfer => self.call_transfer(now, conn, data),
            ClientEvent::ToggleAvailability => self.toggle_availability(now, conn, data),
            ClientEvent::LeaveCall => self.leave_call(now, conn, data),
            ClientEvent::AcceptCall => self.accept_call(now, conn, data),
            ClientEvent::Mute => return self.mute(conn, data),
            ClientEvent::Signal => return self.signal(conn, data),
            // Handled by `handle_event`; routed the same way should they come here.
            ClientEvent::UserMessage => {
                return self.message(conn, Role::User, EventData::Raw(data).into_message())
            }
            ClientEvent::AgentMessage => {
                return self.message(conn, Role::Agent, EventData::Raw(data).into_message())
            }
        };
        self.dispatch(now);
        r
    }

    /// The connection is gone: its party's registration ends and so do its calls (the other
    /// party hears `callEnded`); an unknown connection changes nothing.
    pub fn handle_disconnect(&mut self, now: Instant, conn: ConnId) {
        self.told_count.remove(&conn);
        let Some(id) = self.parties.party_of(conn) else {
            return;
        };
        // Still bound here, so `end_party` does not take it for a held party.
        self.end_party(now, id);
        self.settle(now);
    }

    /// Party `id`'s registration ends and so do its calls, queue place and offer, as when
    /// its connection is gone for good (it may be held: then its hold ends).
    pub(super) fn end_party(&mut self, now: Instant, id: PartyId) {
        if self.is_held(id) {
            self.held = self.held.saturating_sub(1);
            self.timers.cancel(Timer::GraceEnd(id));
        }
        let Some(party) = self.parties.remove(id) else {
            warn!("end of {id}, which is gone; ignored");
            return;
        };
        match party {
            Party::User(u) => {
                if let Some(ticket) = u.ticket {
                    self.leave_queue(now, ticket, QueueOutcome::Disconnected);
                }
                if let Some(call) = u.call {
                    self.finish_disconnected(now, call, id);
                }
            }
            Party::Agent(mut a) => {
                self.ready_by_skill.remove(&a);
                self.free.remove(id, &mut a);
                self.agent_counts[a.state as usize] -= 1;
                self.free_slots -= a.slots_counted;
                self.timers.cancel(Timer::WrapUpEnd(id));
                self.timers.cancel(Timer::RejectDelayEnd(id));
                if let Some(ticket) = a.offer {
                    self.offer_lost(now, ticket);
                }
                for call in a.calls {
                    self.agent_lost(now, call, id);
                }
            }
        }
        self.dispatch(now);
    }

    /// Fires every timer due at `now`, then (once per call: one loop turn) sends the queue's
    /// due position updates; early or repeated calls do nothing new.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            self.fire(now, timer);
            self.dispatch(now);
            self.settle(now);
        }
        self.flush_queue(now);
        self.settle(now);
        self.turn = self.turn.wrapping_add(1);
    }

    /// Next queued output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The ready-agent count to broadcast, when it differs from the one last returned and
    /// `availability_interval` has passed since then (`poll_timeout` then includes the time
    /// it is due, so the last value always goes out).
    #[must_use]
    pub fn poll_available_agents(&mut self, now: Instant) -> Option<usize> {
        let n = self.free.len();
        if self.announced_available == Some(n) {
            return None;
        }
        if self.next_announce.is_some_and(|at| now < at) {
            return None;
        }
        self.announced_available = Some(n);
        self.next_announce = Some(now + self.config.availability_interval);
        Some(n)
    }

    /// The connections a broadcast of `count` (just returned by `poll_available_agents`)
    /// must skip: each was last sent that very count on its own. Forgets them all.
    #[must_use]
    pub fn poll_told_count(&mut self, count: usize) -> Vec<ConnId> {
        let told = std::mem::take(&mut self.told_count);
        told.into_iter()
            .filter(|&(_, n)| n == count)
            .map(|(conn, _)| conn)
            .collect()
    }

    /// Sends `conn` the current count after a registration or resume. When it is not the
    /// count last broadcast, the next broadcast goes out whatever it says (so everyone ends
    /// on the same value) but skips `conn` if it is this same count.
    pub(super) fn send_own_count(&mut self, conn: ConnId) {
        let count = self.free.len();
        if self.announced_available != Some(count) {
            self.announced_available = None;
            self.told_count.insert(conn, count);
        }
        self.send(conn, ServerEvent::AvailableAgents { count });
    }

    /// When the loop must next call `handle_timeout` (or `poll_available_agents`): the
    /// earliest of the timers, the next queue position flush and a held-back count.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let count = (self.announced_available != Some(self.free.len()))
            .then_some(self.next_announce)
            .flatten();
        [
            self.timers.next_deadline(),
            self.queue.next_flush(self.config.queue_update_interval),
            count,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The role `conn` is registered in, if it is.
    pub fn role_of(&self, conn: ConnId) -> Option<Role> {
        match self.parties.on_conn(conn)? {
            (_, Party::User(_)) => Some(Role::User),
            (_, Party::Agent(_)) => Some(Role::Agent),
        }
    }

    /// Sets the display name of the agent registered on `conn`, from its verified token's
    /// `name` claim (never from the client's own data); users see it as `agentName` in
    /// `callAgent` and `callTransfer`. Unknown connections are ignored.
    pub fn set_agent_name(&mut self, conn: ConnId, name: &str) {
        let party = self.parties.party_of(conn);
        match party.and_then(|id| self.parties.get_mut(id)) {
            Some(Party::Agent(a)) => a.name = Some(name.into()),
            _ => debug!("{conn:?}: no agent to name"),
        }
    }

    /// Current counts.
    pub fn stats(&self) -> Stats {
        Stats {
            users: self.parties.users(),
            agents: self.parties.agents(),
            available_agents: self.free.len(),
            active_calls: self.calls.len(),
            held: self.held,
            free_slots: self.free_slots,
            queue_length: self.queue.len(),
            agents_by_state: self.agent_counts,
        }
    }

    /// Queues one event for one connection: numbered in its party's sequence when it has
    /// one (`send_to`), else as it is.
    #[inline]
    pub(super) fn send(&mut self, to: ConnId, event: ServerEvent) {
        match self.parties.party_of(to) {
            Some(party) => self.send_to(party, event),
            None => self.send_unsequenced(to, event),
        }
    }

    /// Queues one event for one connection, outside any party's sequence.
    pub(super) fn send_unsequenced(&mut self, to: ConnId, event: ServerEvent) {
        self.out.push_back(Output::Send {
            to,
            event,
            seq: None,
        });
    }

    /// Numbers one event in party `to`'s sequence, keeps it for a replay when `to` can be
    /// resumed, and queues it for its connection (a held party has none: it waits in the
    /// outbox). A stale party id drops it.
    #[inline]
    pub(super) fn send_to(&mut self, to: PartyId, event: ServerEvent) {
        let r = self.config.resume;
        let Some((conn, c)) = self.parties.link_mut(to) else {
            return debug!("{} for {to}, which is gone: dropped", event.name());
        };
        let seq = c.outbox.next_seq();
        if !r.enabled() || c.key.is_none() {
            // Numbered and not kept: no replay may skip it (resumes off, or not resumable).
            c.outbox.skip();
            c.sent = None;
        } else if conn.is_some() {
            // Connected: kept in the shared ring (None there breaks the chain, as a skip).
            c.sent = match r.keep_sent {
                0 => None,
                _ => self.sent.push(seq, c.sent, &event),
            };
        } else if c.outbox.push(seq, &event, true, r.bounds()) == Pushed::Overflow {
            debug!("{to}: held, and what it missed is over the bounds; its hold ends");
            self.overflowed.push(to);
        }
        if let Some(conn) = conn {
            self.out.push_back(Output::Send {
                to: conn,
                event,
                seq: Some(seq),
            });
        }
    }

    /// Queues an output other than a send (metrics and logs).
    pub(super) fn emit(&mut self, output: Output) {
        self.out.push_back(output);
    }

    /// Brings agent `id`'s counted state and ready-set membership in line with its fields;
    /// an agent that became ready is noted for `dispatch`.
    pub(super) fn refresh_agent(&mut self, id: PartyId) {
        let Some(agent) = self.parties.agent_mut(id) else {
            return;
        };
        let state = agent.current_state();
        if state != agent.state {
            self.agent_counts[agent.state as usize] -= 1;
            self.agent_counts[state as usize] += 1;
            agent.state = state;
        }
        let free = if state == AgentState::Ready {
            agent.free_slots()
        } else {
            0
        };
        self.free_slots = self.free_slots + free - agent.slots_counted;
        agent.slots_counted = free;
        match (state == AgentState::Ready, agent.ready_key.is_some()) {
            (true, false) => {
                self.free.insert(id, agent);
                self.ready_by_skill.insert(id, agent);
                self.became_ready.push(id);
            }
            (false, true) => {
                self.ready_by_skill.remove(agent);
                self.free.remove(id, agent);
            }
            (true, true) => {
                // Still ready with its load changed: both orders follow its new key.
                self.ready_by_skill.remove(agent);
                self.free.rekey(id, agent);
                self.ready_by_skill.insert(id, agent);
            }
            (false, false) => {}
        }
    }

    /// Removes a call and frees both parties (the agent enters wrap-up if configured); the
    /// caller tells them. None (and nothing changed) when the call is already gone.
    pub(super) fn end_call(&mut self, now: Instant, id: CallId, reason: EndReason) -> Option<Call> {
        let Some(call) = self.calls.remove(id) else {
            warn!("end of unknown {id:?} ignored");
            return None;
        };
        if let Some(u) = self.parties.user_mut(call.user) {
            u.call = None;
        }
        let duration = now.saturating_duration_since(call.started);
        let talked = if call.agent_since == call.started {
            duration
        } else {
            now.saturating_duration_since(call.agent_since)
        };
        self.agent_released(now, call.agent, id, talked);
        self.emit(Output::CallFinished {
            call: id,
            reason,
            duration,
        });
        Some(call)
    }

    /// Ends a call because party `gone` disconnected, and tells the other party.
    pub(super) fn finish_disconnected(&mut self, now: Instant, id: CallId, gone: PartyId) {
        if self.calls.get(id).is_none() {
            return;
        }
        let Some(call) = self.end_call(now, id, EndReason::Disconnected) else {
            return;
        };
        let other = if call.user == gone {
            call.agent
        } else {
            call.user
        };
        self.send_to(
            other,
            ServerEvent::CallEnded {
                room: call.room.clone(),
                reason: EndReason::Disconnected,
                by: None,
            },
        );
        if other == call.agent {
            self.wrap_up_notice(call.agent, &call.room);
        }
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
