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
use super::party::{Parties, Party, PartyId};
use super::payload::Handled;
use super::queue::Queue;
use super::report::{AgentState, OfferResult, QueueOutcome};
use super::select::ReadyAgents;
use super::timer::{Timer, Timers};
use log::{debug, warn};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the router asks of the loop. Drain with `poll_output` after every input.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send this event to one connection.
    Send { to: ConnId, event: ServerEvent },
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
    /// Registered agents by state, indexed like `AgentState::ALL`.
    pub agents_by_state: [usize; AgentState::ALL.len()],
}

/// The sans-IO routing core.
///
/// Inputs: `handle_event`, `handle_disconnect`, `handle_timeout` (once per loop turn: it
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
    /// Users waiting for an agent.
    pub(super) queue: Queue,
    pub(super) timers: Timers,
    out: VecDeque<Output>,
    /// Agents that became ready during the current input, to be given a waiting user.
    pub(super) became_ready: Vec<PartyId>,
    /// Registered agents by state.
    pub(super) agent_counts: [usize; AgentState::ALL.len()],
    /// Sequence for registration and idle order.
    seq: u64,
    /// Loop turns so far (`handle_timeout` calls).
    pub(super) turn: u64,
    pub(super) announced_available: Option<usize>,
    /// When the next count may be broadcast (the last one plus `availability_interval`).
    next_announce: Option<Instant>,
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
        Router {
            config,
            parties: Parties::default(),
            calls: Calls::default(),
            free: ReadyAgents::new(config.strategy, seed),
            queue: Queue::default(),
            timers: Timers::default(),
            out: VecDeque::new(),
            became_ready: Vec::new(),
            agent_counts: [0; AgentState::ALL.len()],
            seq: 0,
            turn: 0,
            // Nobody needs to hear "0" before any agent has come and gone.
            announced_available: Some(0),
            next_announce: None,
        }
    }

    /// Applies a reloaded config to every decision from now on (deadlines already set stay).
    pub fn set_config(&mut self, now: Instant, config: RoutingConfig) {
        self.free.set_strategy(config.strategy, &mut self.parties);
        self.config = config;
        self.dispatch(now);
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
        match event {
            // The hot path, apart from the other rules.
            ClientEvent::UserMessage => self.message(conn, Role::User, data.into_message()),
            ClientEvent::AgentMessage => self.message(conn, Role::Agent, data.into_message()),
            _ => self.handle_request(now, conn, event, data.raw()),
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
    ) -> Handled {
        let r = match event {
            ClientEvent::ConnectUser => self.connect(conn, Role::User, data),
            ClientEvent::ConnectAgent => self.connect(conn, Role::Agent, data),
            ClientEvent::CallAgent => self.call_agent(now, conn, data),
            ClientEvent::RejectCall => self.reject_call(now, conn, data),
            ClientEvent::CallTransfer => self.call_transfer(now, conn, data),
            ClientEvent::ToggleAvailability => self.toggle_availability(now, conn, data),
            ClientEvent::LeaveCall => self.leave_call(now, conn, data),
            ClientEvent::AcceptCall => self.accept_call(now, conn, data),
            ClientEvent::Mute => return self.mute(conn, data),
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
        let Some(id) = self.parties.unbind(conn) else {
            return;
        };
        let Some(party) = self.parties.remove(id) else {
            warn!("disconnect of {conn:?}: its {id} is gone; ignored");
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
                self.free.remove(id, &mut a);
                self.agent_counts[a.state as usize] -= 1;
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
        }
        self.flush_queue(now);
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
            queue_length: self.queue.len(),
            agents_by_state: self.agent_counts,
        }
    }

    /// Queues one event for one connection.
    #[inline]
    pub(super) fn send(&mut self, to: ConnId, event: ServerEvent) {
        self.out.push_back(Output::Send { to, event });
    }

    /// Queues one event for party `to` on its current connection; with none, drops it.
    #[inline]
    pub(super) fn send_to(&mut self, to: PartyId, event: ServerEvent) {
        match self.parties.conn_of(to) {
            Some(conn) => self.send(conn, event),
            None => debug!(
                "{} for {to}, which has no connection: dropped",
                event.name()
            ),
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
        match (state == AgentState::Ready, agent.ready_key.is_some()) {
            (true, false) => {
                self.free.insert(id, agent);
                self.became_ready.push(id);
            }
            (false, true) => self.free.remove(id, agent),
            _ => {}
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
