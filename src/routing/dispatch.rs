//! Dispatch: how waiting users and ready agents meet. Queueing, offers, putting users back
//! in line, wrap-up and reject delays, skill requirements relaxing while a user waits
//! (`Timer::SkillStep`), and the timers behind them.
//!
//! Why: every rule that frees an agent or puts a user in line (a new call, a reject, an agent
//! lost, a transfer to the queue, an expired offer, the end of a wrap-up) must route the same
//! way and keep the same promise, so the routing itself lives here once, apart from the
//! per-event checks in `requests`.
//!
//! Invariants (after every input): no ready agent sits idle while a waiting user (no offer
//! pending) may go to it, because a user entering the waiting set is routed at once
//! (`route_ticket`) and an agent becoming ready is noted by `Router::refresh_agent` and given
//! the first waiting user it may take by `dispatch` at the end of the input ("may take":
//! not excluded, and the agent's skills cover the ticket's current requirement; a
//! requirement that relaxes re-routes its ticket at once); a user is in at
//! most one of: a call, an offer, the waiting set; an agent holds at most one call or offer.
use super::call::Call;
use super::event::{AvailabilityReason, EndReason, QueueReason, ServerEvent};
use super::ids::{CallId, PeerId};
use super::party::PartyId;
use super::queue::{Request, Ticket};
use super::report::{OfferResult, QueueOutcome};
use super::router::{Output, Router};
use super::skills;
use super::timer::Timer;
use log::warn;
use serde_json::Value;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A duration in whole milliseconds, as events carry it.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Router {
    /// The agent for a call requiring `need` that `allowed` permits, by the strategy
    /// (through the per-skill index, `ReadyBySkill::pick`).
    pub(super) fn pick_for(
        &mut self,
        need: &super::skills::Skills,
        allowed: impl Fn(PartyId) -> bool,
    ) -> Option<PartyId> {
        let strategy = self.config.strategy;
        self.ready_by_skill
            .pick(&mut self.free, &self.parties, strategy, need, allowed)
    }

    /// Gives each agent that became ready during this input the first waiting user it may
    /// take, in the order they became ready.
    pub(super) fn dispatch(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.became_ready.len() && !self.queue.none_waiting() {
            let agent = self.became_ready[i];
            i += 1;
            self.route_agent(now, agent);
        }
        self.became_ready.clear();
    }

    /// Agent `agent` is ready: the first users in queue order (priority, then longest
    /// waiting) that may go to it and whose skill requirement it meets are assigned to it
    /// while it stays ready (one per free slot; an offer makes it wait for the answer).
    fn route_agent(&mut self, now: Instant, agent: PartyId) {
        while !self.queue.none_waiting() && self.free.is_ready(&self.parties, agent) {
            let Some(a) = self.parties.agent(agent) else {
                return;
            };
            let Some(id) = self.queue.first_waiting(&a.skills, |t| t.allows(agent)) else {
                return;
            };
            if !self.assign(now, id, agent) {
                return;
            }
        }
    }

    /// Sets ticket `id`'s current skill requirement from how long its user has waited, and
    /// schedules the next relaxation, if any.
    fn update_need(&mut self, now: Instant, id: CallId) {
        let Some(t) = self.queue.get(id) else {
            return;
        };
        let asked = t.request.asked.unwrap_or(t.entered);
        let waited = now.saturating_duration_since(asked);
        let cfg = &self.config;
        let (need, next) =
            skills::requirement_at(&t.request.needs, &cfg.skill_steps, cfg.skill_wait, waited);
        self.queue.set_need(id, need);
        match next {
            Some(after) => self.timers.schedule(Timer::SkillStep(id), asked + after),
            None => {
                self.timers.cancel(Timer::SkillStep(id));
            }
        }
    }

    /// A skill step of ticket `id` is due: its requirement relaxes, and it is routed again
    /// if it waits (an agent that now qualifies gets it at once).
    fn skill_step(&mut self, now: Instant, id: CallId) {
        self.update_need(now, id);
        if self.queue.get(id).is_some_and(|t| t.offered.is_none()) {
            self.route_ticket(now, id);
        }
    }

    /// Connects `user` and `agent` (live, ready) in a new call `id` in `room`, and tells both
    /// (`callAgent` with the request's data and the agent's id); `entered` is when the user's
    /// wait began.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of a call, from a ticket or an immediate answer"
    )]
    pub(super) fn start_call(
        &mut self,
        now: Instant,
        id: CallId,
        room: PeerId,
        user: PartyId,
        agent: PartyId,
        mut request: Request,
        entered: Instant,
    ) {
        let Some(a) = self.parties.agent_mut(agent) else {
            warn!("{agent} to take {id:?} is gone; call not started");
            return;
        };
        a.calls.push(id);
        a.calls_taken += 1;
        let agent_json = a.id.to_json();
        let agent_name = a.name.clone();
        self.free.chosen(a);
        // The request's own map (unshared: no copy) takes the agent's id (and verified name).
        let data = Rc::make_mut(&mut request.data);
        data.insert("agentId".into(), agent_json);
        // A previous agent's name (the call was re-routed) must not stay.
        data.remove("agentName");
        if let Some(name) = agent_name {
            data.insert("agentName".into(), Value::String(name.to_string()));
        }
        let data = request.data.clone();
        if let Some(u) = self.parties.user_mut(user) {
            u.call = Some(id);
            u.ticket = None;
        }
        self.calls.start_as(id, room, user, agent, now, request);
        self.refresh_agent(agent);
        self.queue.record_assignment(now);
        self.emit(Output::CallStarted { call: id });
        let waited = if entered == now {
            Duration::ZERO
        } else {
            now.saturating_duration_since(entered)
        };
        self.emit(Output::QueueLeft {
            outcome: QueueOutcome::Answered,
            waited,
        });
        self.send_to(agent, ServerEvent::CallAgent(data.clone()));
        self.send_to(user, ServerEvent::CallAgent(data));
        if self.is_held(user) {
            // A held user kept its place and got the call: its agent knows it is away.
            let room = self.calls.get(id).map(|c| c.room.clone());
            if let Some(room) = room {
                self.send_to(agent, ServerEvent::PeerDisconnected { room });
            }
        }
    }

    /// Puts `user`'s request in the queue at its key's place and routes it. A fresh request
    /// (`reason` None) tells the user `queued` unless it was connected at once; a user put
    /// back hears `queued {reason}` only when no agent is eligible.
    pub(super) fn enqueue(
        &mut self,
        now: Instant,
        user: PartyId,
        room: PeerId,
        request: Request,
        reason: Option<QueueReason>,
    ) {
        let id = self.calls.new_id();
        self.calls.reserve(room.clone(), id);
        self.queue
            .insert(now, id, Ticket::new(user, room, request, now));
        if let Some(u) = self.parties.user_mut(user) {
            u.ticket = Some(id);
        }
        if let Some(max) = self.config.max_wait {
            self.timers.schedule(Timer::MaxWait(id), now + max);
        }
        self.update_need(now, id);
        let waiting = !self.route_ticket(now, id);
        if self.queue.get(id).is_some() && (reason.is_none() || waiting) {
            self.send_queued(now, id, reason);
        }
    }

    /// Routes waiting ticket `id` to a ready agent it may go to, preferring agents that have
    /// not let its offer expire this round (once all have, the round starts again); false
    /// when there is none.
    fn route_ticket(&mut self, now: Instant, id: CallId) -> bool {
        let Some(t) = self.queue.get(id) else {
            return false;
        };
        let (hard, soft) = (t.request.excluded.clone(), t.expired.clone());
        let need = t.need.clone();
        let fresh = self.pick_for(&need, |a| !hard.contains(&a) && !soft.contains(&a));
        let (agent, new_round) = match fresh {
            Some(a) => (Some(a), false),
            None if !soft.is_empty() => (self.pick_for(&need, |a| !hard.contains(&a)), true),
            None => (None, false),
        };
        let Some(agent) = agent else {
            return false;
        };
        if new_round {
            if let Some(t) = self.queue.get_mut(id) {
                t.expired.clear();
            }
        }
        self.assign(now, id, agent)
    }

    /// Gives ticket `id` to ready `agent`: an offer when offers are on, else the call; false
    /// (and nothing changed) when the agent is gone.
    fn assign(&mut self, now: Instant, id: CallId, agent: PartyId) -> bool {
        if self.parties.agent(agent).is_none() {
            warn!("ready set names {agent}, not a live agent; not assigned");
            return false;
        }
        match self.config.offer_timeout {
            Some(timeout) => self.offer(now, id, agent, timeout),
            None => self.connect_ticket(now, id, agent),
        }
        true
    }

    /// Offers ticket `id` to `agent` for `timeout`: `callOffered` to the agent.
    fn offer(&mut self, now: Instant, id: CallId, agent: PartyId, timeout: Duration) {
        let Some(t) = self.queue.get(id) else {
            return;
        };
        let mut data = (*t.request.data).clone();
        let user_id = self
            .parties
            .user(t.user)
            .map_or(Value::Null, |u| u.id.to_json());
        data.remove("agentId");
        data.remove("agentName");
        data.insert("roomId".into(), t.room.to_json());
        data.insert("userId".into(), user_id);
        data.insert("expiresInMs".into(), millis(timeout).into());
        self.queue.set_offer(id, Some(agent));
        if let Some(a) = self.parties.agent_mut(agent) {
            a.offer = Some(id);
            self.free.chosen(a);
        }
        self.refresh_agent(agent);
        self.timers.schedule(Timer::OfferExpiry(id), now + timeout);
        self.send_to(agent, ServerEvent::CallOffered(Rc::new(data)));
    }

    /// Connects ticket `id` to `agent` (ready, or the one it is offered to).
    pub(super) fn connect_ticket(&mut self, now: Instant, id: CallId, agent: PartyId) {
        let Some(t) = self.queue.remove(now, id) else {
            return;
        };
        self.timers.cancel(Timer::MaxWait(id));
        self.timers.cancel(Timer::SkillStep(id));
        self.timers.cancel(Timer::OfferExpiry(id));
        if let Some(a) = self.parties.agent_mut(agent) {
            if a.offer == Some(id) {
                a.offer = None;
                a.no_answer = 0;
            }
        }
        self.start_call(now, id, t.room, t.user, agent, t.request, t.entered);
    }

    /// Sends ticket `id`'s user its place: `queued {roomId, position, queueLength, …}`.
    fn send_queued(&mut self, now: Instant, id: CallId, reason: Option<QueueReason>) {
        let position = self.queue.position(id);
        let Some(t) = self.queue.get(id) else {
            return;
        };
        let (user, room) = (t.user, t.room.clone());
        let event = ServerEvent::Queued {
            room,
            position,
            queue_length: self.queue.len(),
            estimated_wait_secs: self.queue.estimate(position),
            reason,
        };
        self.queue.mark_sent(id, position, now, self.turn);
        self.send_to(user, event);
    }

    /// Takes ticket `id` out of the queue because its wait ended with `outcome` (an offer
    /// pending is withdrawn: `offerExpired` to the agent); the caller tells the user.
    pub(super) fn leave_queue(
        &mut self,
        now: Instant,
        id: CallId,
        outcome: QueueOutcome,
    ) -> Option<Ticket> {
        let t = self.queue.remove(now, id)?;
        self.timers.cancel(Timer::MaxWait(id));
        self.timers.cancel(Timer::SkillStep(id));
        self.calls.release(&t.room, id);
        if let Some(u) = self.parties.user_mut(t.user) {
            u.ticket = None;
        }
        if let Some(agent) = t.offered {
            self.timers.cancel(Timer::OfferExpiry(id));
            if let Some(a) = self.parties.agent_mut(agent) {
                a.offer = None;
            }
            self.emit(Output::Offer {
                result: OfferResult::Expired,
            });
            self.send_to(
                agent,
                ServerEvent::OfferExpired {
                    room: t.room.clone(),
                },
            );
            self.refresh_agent(agent);
        }
        self.emit(Output::QueueLeft {
            outcome,
            waited: now.saturating_duration_since(t.entered),
        });
        Some(t)
    }

    /// The agent ticket `id` was offered to disconnected: the user waits again.
    pub(super) fn offer_lost(&mut self, now: Instant, id: CallId) {
        self.timers.cancel(Timer::OfferExpiry(id));
        self.emit(Output::Offer {
            result: OfferResult::Expired,
        });
        self.queue.set_offer(id, None);
        if !self.route_ticket(now, id) {
            self.send_queued(now, id, Some(QueueReason::AgentDisconnected));
        }
    }

    /// The agent of call `id` disconnected (it is already unregistered): the user is put
    /// back in line, or with `requeue_on_agent_loss` off hears `callEnded disconnected`.
    pub(super) fn agent_lost(&mut self, now: Instant, id: CallId, agent: PartyId) {
        if !self.config.requeue_on_agent_loss {
            self.finish_disconnected(now, id, agent);
            return;
        }
        if let Some(call) = self.end_call(now, id, EndReason::Disconnected) {
            self.requeue(
                now,
                call,
                QueueReason::AgentDisconnected,
                None,
                EndReason::Disconnected,
            );
        }
    }

    /// Puts the user of ended `call` back in line with its first ask's place, never refused
    /// by `max_queue_length`, avoiding `exclude`. With `queue` off and no agent eligible, the
    /// user hears `callEnded {fallback}` instead (the original's behaviour).
    pub(super) fn requeue(
        &mut self,
        now: Instant,
        call: Call,
        reason: QueueReason,
        exclude: Option<PartyId>,
        fallback: EndReason,
    ) {
        if self.parties.user(call.user).is_none() {
            return;
        }
        let mut request = call.request;
        if let Some(agent) = exclude.filter(|a| !request.excluded.contains(a)) {
            request.excluded.push(agent);
        }
        if !self.config.queue {
            let excluded = request.excluded.clone();
            let cfg = &self.config;
            let waited = request
                .asked
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
            let (need, _) =
                skills::requirement_at(&request.needs, &cfg.skill_steps, cfg.skill_wait, waited);
            if self.pick_for(&need, |a| !excluded.contains(&a)).is_none() {
                self.send_to(
                    call.user,
                    ServerEvent::CallEnded {
                        room: call.room,
                        reason: fallback,
                        by: None,
                    },
                );
                return;
            }
        }
        self.enqueue(now, call.user, call.room, request, Some(reason));
    }

    /// Agent `agent` gave up call `id` after talking `talked`: its talk time grows, it is
    /// idle from now, and it enters wrap-up if configured.
    pub(super) fn agent_released(
        &mut self,
        now: Instant,
        agent: PartyId,
        id: CallId,
        talked: Duration,
    ) {
        let seq = self.next_seq();
        let wrap = self.config.wrap_up;
        let Some(a) = self.parties.agent_mut(agent) else {
            return;
        };
        a.calls.retain(|c| *c != id);
        a.talk_time += talked;
        a.idle_since = seq;
        if !wrap.is_zero() {
            // This call's slot wraps up; the timer stands for the earliest slot.
            a.wrap_ups.push_back(now + wrap);
            if a.wrap_ups.len() == 1 {
                self.timers.schedule(Timer::WrapUpEnd(agent), now + wrap);
            }
        }
        self.refresh_agent(agent);
    }

    /// Tells `agent`, if it is in wrap-up, `wrapUp {roomId, durationMs}` for `room`.
    pub(super) fn wrap_up_notice(&mut self, agent: PartyId, room: &PeerId) {
        if self.config.wrap_up.is_zero() {
            return;
        }
        if self
            .parties
            .agent(agent)
            .is_some_and(|a| !a.wrap_ups.is_empty())
        {
            let event = ServerEvent::WrapUp {
                room: room.clone(),
                duration_ms: millis(self.config.wrap_up),
            };
            self.send_to(agent, event);
        }
    }

    /// Starts `agent`'s reject delay, if one is configured.
    pub(super) fn start_reject_delay(&mut self, now: Instant, agent: PartyId) {
        let delay = self.config.reject_delay;
        if delay.is_zero() {
            return;
        }
        if let Some(a) = self.parties.agent_mut(agent) {
            a.reject_delay = true;
            self.timers
                .schedule(Timer::RejectDelayEnd(agent), now + delay);
        }
        self.refresh_agent(agent);
    }

    /// `agent` rejects ticket `id` offered to it: `callEnded rejected` to it, and the user
    /// is routed to another agent (never this one).
    pub(super) fn reject_offer(&mut self, now: Instant, agent: PartyId, id: CallId) {
        self.timers.cancel(Timer::OfferExpiry(id));
        self.emit(Output::Offer {
            result: OfferResult::Rejected,
        });
        let Some(t) = self.queue.get_mut(id) else {
            return;
        };
        if !t.request.excluded.contains(&agent) {
            t.request.excluded.push(agent);
        }
        let room = t.room.clone();
        self.queue.set_offer(id, None);
        let seq = self.next_seq();
        if let Some(a) = self.parties.agent_mut(agent) {
            a.offer = None;
            a.no_answer = 0;
            // To the back of the idle order: later picks for this call need not skip it.
            a.idle_since = seq;
        }
        self.start_reject_delay(now, agent);
        self.refresh_agent(agent);
        self.send_to(
            agent,
            ServerEvent::CallEnded {
                room,
                reason: EndReason::Rejected,
                by: None,
            },
        );
        if !self.route_ticket(now, id) {
            self.send_queued(now, id, Some(QueueReason::Rejected));
        }
    }

    /// Runs the rule for one due timer.
    pub(super) fn fire(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::OfferExpiry(id) => self.offer_expired(now, id),
            Timer::WrapUpEnd(agent) => {
                if let Some(a) = self.parties.agent_mut(agent) {
                    while a.wrap_ups.front().is_some_and(|end| *end <= now) {
                        a.wrap_ups.pop_front();
                    }
                    if let Some(next) = a.wrap_ups.front().copied() {
                        self.timers.schedule(Timer::WrapUpEnd(agent), next);
                    }
                }
                self.refresh_agent(agent);
            }
            Timer::RejectDelayEnd(agent) => {
                if let Some(a) = self.parties.agent_mut(agent) {
                    a.reject_delay = false;
                }
                self.refresh_agent(agent);
            }
            Timer::GraceEnd(id) => self.grace_ended(now, id),
            Timer::SkillStep(id) => self.skill_step(now, id),
            Timer::MaxWait(id) => {
                if let Some(t) = self.leave_queue(now, id, QueueOutcome::Timeout) {
                    let event = ServerEvent::CallEnded {
                        room: t.room,
                        reason: EndReason::Timeout,
                        by: None,
                    };
                    self.send_to(t.user, event);
                }
            }
        }
    }

    /// The offer of ticket `id` was not answered in time: `offerExpired` to the agent (made
    /// unavailable after `max_no_answer` in a row), and the call is offered on.
    fn offer_expired(&mut self, now: Instant, id: CallId) {
        let Some(t) = self.queue.get_mut(id) else {
            return;
        };
        let Some(agent) = t.offered else {
            return;
        };
        if !t.expired.contains(&agent) {
            t.expired.push(agent);
        }
        let room = t.room.clone();
        self.queue.set_offer(id, None);
        self.emit(Output::Offer {
            result: OfferResult::Expired,
        });
        let max = self.config.max_no_answer;
        let mut unavailable = false;
        let seq = self.next_seq();
        if let Some(a) = self.parties.agent_mut(agent) {
            a.offer = None;
            // To the back of the idle order: later picks for this call need not skip it.
            a.idle_since = seq;
            a.no_answer += 1;
            if max > 0 && a.no_answer >= max {
                a.wants_calls = false;
                a.no_answer = 0;
                unavailable = true;
            }
        }
        self.refresh_agent(agent);
        self.send_to(agent, ServerEvent::OfferExpired { room });
        if unavailable {
            let event = ServerEvent::AvailabilityChanged {
                available: false,
                reason: AvailabilityReason::NoAnswer,
            };
            self.send_to(agent, event);
        }
        if !self.route_ticket(now, id) {
            self.send_queued(now, id, Some(QueueReason::NoAnswer));
        }
    }

    /// Sends the position updates due in this loop turn (see `queue` for the rate).
    pub(super) fn flush_queue(&mut self, now: Instant) {
        let interval = self.config.queue_update_interval;
        let updates = self.queue.flush(now, interval, self.turn);
        let queue_length = self.queue.len();
        for u in updates {
            let event = ServerEvent::Queued {
                room: u.room,
                position: u.position,
                queue_length,
                estimated_wait_secs: self.queue.estimate(u.position),
                reason: None,
            };
            self.send_to(u.user, event);
        }
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod capacity_tests;
