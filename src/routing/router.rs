//! The router: the sans-IO routing core's one type, its inputs and its outputs.
//!
//! Why: the loop talks to one object. `Router` owns the registry of parties (`party`), the
//! calls (`call`), the free-agent queue (`select`) and the timers (`timer`); it dispatches
//! each input to its rule (`requests`, one function per client event) and queues what the
//! loop must do as `Output`s.
//!
//! Invariants: a connection is at most one party; an id maps to at most one live party per
//! role; a room belongs to at most one call; an agent is free exactly when it wants calls and
//! has room for one more; a rejected request changes nothing; no input panics, whatever ids
//! it carries (an unknown or stale one is refused, or logged and ignored).
use super::call::{Call, Calls};
use super::data::EventData;
use super::event::{ClientEvent, EndReason, Role, ServerEvent};
use super::ids::{CallId, ConnId};
use super::party::{Parties, Party, PartyId};
use super::payload::Handled;
use super::select::FreeAgents;
use super::timer::{Timer, Timers};
use log::{debug, warn};
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
}

/// Counts the loop mirrors into gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub users: usize,
    pub agents: usize,
    pub available_agents: usize,
    pub active_calls: usize,
}

/// The sans-IO routing core.
///
/// Inputs: `handle_event`, `handle_disconnect`, `handle_timeout`. Outputs, drained in this
/// order after each input or turn: `poll_output` until None, then (once per loop turn)
/// `poll_available_agents`, then `poll_timeout` for the next wake-up. Outputs of one input
/// come out in the order the rule queued them.
#[derive(Default)]
pub struct Router {
    /// Users and agents, and which connection each is on.
    pub(super) parties: Parties,
    pub(super) calls: Calls,
    /// Agents free to take a call, the one free longest first.
    pub(super) free: FreeAgents,
    pub(super) timers: Timers,
    out: VecDeque<Output>,
    announced_available: Option<usize>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router {
            // Nobody needs to hear "0" before any agent has come and gone.
            announced_available: Some(0),
            ..Router::default()
        }
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
            ClientEvent::UserMessage => self.message(conn, Role::User, data.into_message()),
            ClientEvent::AgentMessage => self.message(conn, Role::Agent, data.into_message()),
            ClientEvent::ConnectUser => self.connect(conn, Role::User, data.raw()),
            ClientEvent::ConnectAgent => self.connect(conn, Role::Agent, data.raw()),
            ClientEvent::CallAgent => self.call_agent(now, conn, data.raw()),
            ClientEvent::RejectCall => self.reject_call(now, conn, data.raw()),
            ClientEvent::CallTransfer => self.call_transfer(conn, data.raw()),
            ClientEvent::ToggleAvailability => self.toggle_availability(conn, data.raw()),
            ClientEvent::LeaveCall => self.leave_call(now, conn, data.raw()),
            ClientEvent::Mute => self.mute(conn, data.raw()),
        }
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
                if let Some(call) = u.call {
                    self.finish_disconnected(now, call, id);
                }
            }
            Party::Agent(mut a) => {
                self.free.remove(&mut a);
                for call in a.calls {
                    self.finish_disconnected(now, call, id);
                }
            }
        }
    }

    /// Fires every timer due at `now`; early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            self.fire(now, timer);
        }
    }

    /// Next queued output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The free-agent count, when it differs from the one last returned.
    #[must_use]
    pub fn poll_available_agents(&mut self) -> Option<usize> {
        let n = self.free.len();
        if self.announced_available == Some(n) {
            return None;
        }
        self.announced_available = Some(n);
        Some(n)
    }

    /// When `handle_timeout` next needs to run: the earliest live timer's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Current counts.
    pub fn stats(&self) -> Stats {
        Stats {
            users: self.parties.users(),
            agents: self.parties.agents(),
            available_agents: self.free.len(),
            // Every call is active until offers and wrap-up add states.
            active_calls: self.calls.len(),
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

    /// Puts agent `id` in or out of the free-agent queue to match its state.
    pub(super) fn refresh_free(&mut self, id: PartyId) {
        if let Some(agent) = self.parties.agent_mut(id) {
            self.free.refresh(id, agent);
        }
    }

    /// Removes a call and frees both parties; the caller tells them. None (and nothing
    /// changed) when the call is already gone.
    pub(super) fn end_call(&mut self, now: Instant, id: CallId, reason: EndReason) -> Option<Call> {
        let Some(call) = self.calls.remove(id) else {
            warn!("end of unknown {id:?} ignored");
            return None;
        };
        if let Some(u) = self.parties.user_mut(call.user) {
            u.call = None;
        }
        if let Some(a) = self.parties.agent_mut(call.agent) {
            a.calls.retain(|c| *c != id);
        }
        self.refresh_free(call.agent);
        self.emit(Output::CallFinished {
            call: id,
            reason,
            duration: now.saturating_duration_since(call.started),
        });
        Some(call)
    }

    /// Ends a call because party `gone` disconnected, and tells the other party.
    fn finish_disconnected(&mut self, now: Instant, id: CallId, gone: PartyId) {
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
                room: call.room,
                reason: EndReason::Disconnected,
                by: None,
            },
        );
    }

    /// Runs the rule for one due timer (none yet: each is logged and ignored).
    fn fire(&mut self, _now: Instant, timer: Timer) {
        match timer {
            Timer::OfferExpiry(_) | Timer::WrapUpEnd(_) => {
                debug!("{timer:?} fired; no rule uses it yet")
            }
        }
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
