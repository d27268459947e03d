//! The routing rules: one function per client event, called by `Router::handle_event`.
//!
//! Why: what each request does, and in which order it checks its payload, is the behaviour
//! clients see; keeping the rules together (apart from the state they act on) makes that
//! order easy to read and to extend with the call queue's events.
//!
//! Invariant: a rule checks everything before it changes anything, so a rejection (the Err it
//! returns) leaves the router as it was and queues no output (the one exception, kept from
//! before: a callAgent refused for want of an agent, or for a full queue, has used up a
//! server-made room number). What a rule sets in motion beyond its own sends (routing a
//! user, offers, wrap-up) is in `dispatch`.
//! Only the sender is looked up by connection; everything else refers to parties by
//! `PartyId`, and a send to a party looks up its connection at that moment.
use super::data::MessageData;
use super::event::{EndReason, ErrorCode, QueueReason, Rejection, Role, ServerEvent};
use super::ids::{CallId, ConnId, IdRef, PeerId};
use super::outbox::ResumeKey;
use super::party::{Agent, Party, PartyId, User};
use super::payload::{
    bad_id, bad_room, check_own_id, nested_deeper_than, not_in_call, not_own_id, not_registered,
    not_your_room, object, optional_id, required_id, too_deep, wrong_role, Handled, MAX_JSON_DEPTH,
};
use super::queue::Request;
use super::report::{OfferResult, QueueOutcome};
use super::router::{Output, Router};
use super::skills::{requirement_at, Skills};
use super::timer::Timer;
use log::warn;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// No agent (other than the sender) is free.
fn no_agent(message: &'static str) -> Rejection {
    Rejection::new(ErrorCode::NoAgentAvailable, message)
}

impl Router {
    /// The capacity an agent registering is granted: its verified token's claim (else the
    /// default) when the loop vouches for a token (`Identity::verified`), otherwise
    /// `connectAgent {capacity}` (a positive integer, else bad_payload), lowered to
    /// `max_capacity`.
    fn granted_capacity(&self, obj: &Map<String, Value>) -> Result<usize, Rejection> {
        let asked = match self.identity.verified {
            true => self.identity.capacity.map(u64::from),
            false => match obj.get("capacity") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    Rejection::new(ErrorCode::BadPayload, "capacity must be a positive integer")
                })?),
            },
        };
        let max = self.config.max_capacity;
        Ok(asked.map_or(self.config.default_capacity, |n| {
            usize::try_from(n).unwrap_or(max).min(max)
        }))
    }

    /// connectUser / connectAgent: registers `conn` as a new party of `role`, resumable
    /// with `token` when one is given and resumes are on; with `resumeToken` (and `lastSeq`)
    /// naming a party of that id, resumes it instead (`resume`).
    pub(super) fn connect(
        &mut self,
        now: Instant,
        conn: ConnId,
        role: Role,
        data: Option<&RawValue>,
        token: Option<&str>,
    ) -> Handled {
        let already = || {
            Rejection::new(
                ErrorCode::AlreadyRegistered,
                "this connection is already registered",
            )
        };
        let obj = object(data)?;
        let id = required_id(&obj, "id")?;
        if let Some((_, p)) = self.parties.on_conn(conn) {
            if p.role() == role && *p.id() == id {
                // Said again (a recovered Socket.IO client's `connect` handler): answered, no change.
                let capacity = self.capacity_of(conn);
                self.send_unsequenced(
                    conn,
                    ServerEvent::Registered {
                        role,
                        id,
                        resume_token: None,
                        resumed: false,
                        capacity,
                    },
                );
                return Ok(());
            }
            return Err(already());
        }
        let resume_token = match obj.get("resumeToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if !t.is_empty() && t.len() <= 256 => Some(t.as_str()),
            Some(_) => {
                return Err(Rejection::new(
                    ErrorCode::BadPayload,
                    "resumeToken must be a non-empty string of at most 256 bytes",
                ))
            }
        };
        let capacity = match role {
            Role::Agent => Some(self.granted_capacity(&obj)?),
            Role::User => None,
        };
        let last_seq = match obj.get("lastSeq") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_u64().ok_or_else(|| {
                Rejection::new(
                    ErrorCode::BadPayload,
                    "lastSeq must be a non-negative integer",
                )
            })?,
        };
        if let Some(existing) = self.parties.by_peer_id(role, &id) {
            let owns = resume_token.is_some_and(|t| {
                self.parties
                    .continuity(existing)
                    .is_some_and(|c| c.key == Some(ResumeKey::of(t)))
            });
            match (owns, resume_token) {
                (true, Some(t)) if self.config.resume.enabled() => {
                    if self.replayable(existing, last_seq)? {
                        return self.resume(now, conn, existing, t, last_seq);
                    }
                    // Events it missed are gone: it starts over (`resumed: false`).
                    self.emit(Output::Hold {
                        result: crate::routing::HoldResult::Gap,
                    });
                    self.evict(existing);
                    self.end_party(now, existing);
                }
                _ => {
                    return Err(Rejection::with(
                        ErrorCode::IdInUse,
                        format!("{id} is held by another connection"),
                    ))
                }
            }
        }
        // The token's skills replace the client's; the client's are checked all the same.
        let sent_skills = match (role, obj.get("skills")) {
            (Role::Agent, Some(v)) => {
                Some(Skills::from_json(v).map_err(|m| Rejection::with(ErrorCode::BadPayload, m))?)
            }
            _ => None,
        };
        let identity = std::mem::take(&mut self.identity);
        let party = match role {
            Role::User => Party::User(User {
                id: id.clone(),
                call: None,
                ticket: None,
                origin: identity.origin,
                priority: identity.priority,
            }),
            Role::Agent => {
                let mut a = Agent::new(id.clone(), 0);
                a.capacity = capacity.unwrap_or(1);
                a.skills = identity.skills.or(sent_skills).unwrap_or_default();
                Party::Agent(a)
            }
        };
        let Some(party) = self.parties.insert(party) else {
            return Err(Rejection::with(
                ErrorCode::IdInUse,
                format!("{id} is held by another connection"),
            ));
        };
        if !self.parties.bind(conn, party) {
            warn!("{conn:?} could not be bound to its new {party}; registration undone");
            self.parties.remove(party);
            return Err(already());
        }
        let token = token.filter(|t| {
            self.config.resume.enabled() && self.parties.set_key(party, ResumeKey::of(t))
        });
        if role == Role::Agent {
            let seq = self.next_seq();
            if let Some(a) = self.parties.agent_mut(party) {
                (a.registered, a.idle_since) = (seq, seq);
                self.agent_counts[a.state as usize] += 1;
            }
            self.refresh_agent(party);
        }
        self.send_unsequenced(
            conn,
            ServerEvent::Registered {
                role,
                id,
                resume_token: token.map(Rc::from),
                resumed: false,
                capacity: capacity.and_then(|c| u32::try_from(c).ok()),
            },
        );
        self.send_own_count(conn);
        Ok(())
    }

    /// callAgent: connects the user to the strategy's ready agent, or queues it (an offer,
    /// when offers are on, also goes through the queue).
    pub(super) fn call_agent(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Handled {
        let (user_party, user) = self.user(conn)?;
        let mut obj = object(data)?;
        check_own_id(&obj, "userId", &user.id)?;
        if user.call.is_some() || user.ticket.is_some() {
            return Err(Rejection::new(
                ErrorCode::AlreadyInCall,
                "this user is already in a call or waiting for one",
            ));
        }
        let user_id = user.id.clone();
        let (priority, needs) = self.call_terms(user, &obj)?;
        let room = match optional_id(&obj, "roomId")? {
            Some(room) if self.calls.room_in_use(&room) => {
                return Err(Rejection::with(
                    ErrorCode::RoomInUse,
                    format!("room {room} belongs to another call"),
                ))
            }
            Some(room) => room,
            // Numbered before the agent check, as always: a refused call uses up a number,
            // which is harmless (numbers need only be unique).
            None => self.calls.fresh_room(),
        };
        let agent_party = self.pick_for(&needs, |_| true);
        let max = self.config.max_queue_length;
        match agent_party {
            None if !self.config.queue => return Err(no_agent("no agent is available")),
            None if max > 0 && self.queue.len() >= max => {
                return Err(Rejection::new(ErrorCode::QueueFull, "the queue is full"))
            }
            None if !self.admits_skill_set(&needs) => {
                return Err(Rejection::new(
                    ErrorCode::QueueFull,
                    "too many different skill requirements are waiting: ask for skills \
                     others ask for, or none",
                ))
            }
            Some(a) if self.parties.agent(a).is_none() => {
                warn!("ready set names {a}, not a live agent; call refused");
                return Err(no_agent("no agent is available"));
            }
            _ => {}
        }
        obj.insert("userId".into(), user_id.to_json());
        obj.insert("roomId".into(), room.to_json());
        // The agent's name is the verified one, never the client's own; the call settings
        // (`iceServers`, `polite`) are the server's, added on delivery.
        for key in ["agentName", "iceServers", "polite"] {
            obj.remove(key);
        }
        let key = self.queue.new_key();
        let at_ms = self.queue.ms_since_origin(now);
        let request = Request {
            key,
            rank: 0,
            priority,
            asked_ms: at_ms,
            needs,
            asked: Some(now),
            data: Rc::new(obj),
            excluded: Vec::new(),
        };
        match agent_party {
            Some(agent) if self.config.offer_timeout.is_none() => {
                let id = self.calls.new_id();
                self.start_call(now, id, room, user_party, agent, request, now);
            }
            _ => self.enqueue(now, user_party, room, request, None),
        }
        Ok(())
    }

    /// Whether a request needing `needs` may wait under `max_skill_sets`: its requirement
    /// as it starts waiting (after any step at 0 ms) is "any agent", one waiting already,
    /// or a new one with room for it.
    fn admits_skill_set(&self, needs: &Skills) -> bool {
        if needs.is_empty() || self.config.max_skill_sets == 0 {
            return true;
        }
        let c = &self.config;
        let (first, _) = requirement_at(needs, &c.skill_steps, c.skill_wait, Duration::ZERO);
        self.queue.admits_skill_set(&first, c.max_skill_sets)
    }

    /// The priority and skill requirement of `user`'s callAgent `obj`: the entry point it
    /// names (unknown: `bad_payload`; not open to the user's origin: `forbidden`), its
    /// token's priority (the higher of the two counts), and the `skills` it asks for (with
    /// the entry's). A `priority` the client sends is ignored.
    fn call_terms(
        &self,
        user: &User,
        obj: &Map<String, Value>,
    ) -> Result<(i32, Skills), Rejection> {
        let entry = match obj.get("entry") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => {
                let e = self.config.entry(name).ok_or_else(|| {
                    Rejection::with(ErrorCode::BadPayload, format!("no entry point {name:?}"))
                })?;
                if !e.admits(user.origin.as_deref()) {
                    return Err(Rejection::with(
                        ErrorCode::Forbidden,
                        format!("entry point {name:?} is not open to this origin"),
                    ));
                }
                Some(e)
            }
            Some(_) => {
                return Err(Rejection::new(
                    ErrorCode::BadPayload,
                    "entry must be the name of an entry point",
                ))
            }
        };
        let asked = match obj.get("skills") {
            None => Skills::default(),
            Some(v) => {
                Skills::from_json(v).map_err(|m| Rejection::with(ErrorCode::BadPayload, m))?
            }
        };
        let priority = match (user.priority, entry.map(|e| e.priority)) {
            (Some(t), Some(e)) => t.max(e),
            (t, e) => t.or(e).unwrap_or(0),
        };
        let needs = match entry {
            Some(e) => e.skills.union(&asked),
            None => asked,
        };
        Ok((priority, needs))
    }

    /// acceptCall: the agent takes the call offered to it; both parties get `callAgent`.
    pub(super) fn accept_call(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Handled {
        let obj = object(data)?;
        let (me, agent) = self.agent(conn)?;
        check_own_id(&obj, "agentId", &agent.id)?;
        let id = self.own_offer(agent.offer, optional_id(&obj, "roomId")?.as_ref())?;
        self.emit(Output::Offer {
            result: OfferResult::Accepted,
        });
        self.connect_ticket(now, id, me);
        Ok(())
    }

    /// The offer `offer` of an agent, if `room` (when given) is its room.
    fn own_offer(&self, offer: Option<CallId>, room: Option<&PeerId>) -> Result<CallId, Rejection> {
        let id = offer.ok_or_else(|| Rejection::new(ErrorCode::NotInCall, "no call is offered"))?;
        let t = self.queue.get(id).ok_or_else(not_in_call)?;
        match room {
            Some(r) if *r != t.room => Err(not_your_room()),
            _ => Ok(id),
        }
    }

    /// rejectCall: the agent turns down the call offered to it, or ends the call it was
    /// given; it hears `callEnded rejected` and the user is routed to another agent.
    pub(super) fn reject_call(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Handled {
        let obj = object(data)?;
        let (me, agent) = self.agent(conn)?;
        check_own_id(&obj, "agentId", &agent.id)?;
        let room = optional_id(&obj, "roomId")?;
        if let Ok(id) = self.own_offer(agent.offer, room.as_ref()) {
            self.reject_offer(now, me, id);
            return Ok(());
        }
        let call_id = self.calls.pick(&agent.calls, room.as_ref())?;
        self.start_reject_delay(now, me);
        let Some(call) = self.end_call(now, call_id, EndReason::Rejected) else {
            return Err(not_in_call());
        };
        self.send(
            conn,
            ServerEvent::CallEnded {
                room: call.room.clone(),
                reason: EndReason::Rejected,
                by: None,
            },
        );
        self.wrap_up_notice(me, &call.room);
        self.requeue(
            now,
            call,
            QueueReason::Rejected,
            Some(me),
            EndReason::Rejected,
        );
        Ok(())
    }

    /// callTransfer: moves the agent's call to the named ready agent or the strategy's, or
    /// with `toQueue: true` puts the user back in line for any agent but this one.
    pub(super) fn call_transfer(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Handled {
        let mut obj = object(data)?;
        let (me, agent) = self.agent(conn)?;
        let prev_id = agent.id.clone();
        check_own_id(&obj, "agentId", &prev_id)?;
        let call_id = self
            .calls
            .pick(&agent.calls, optional_id(&obj, "roomId")?.as_ref())?;
        let no_other = || no_agent("no other agent is available");
        if obj.get("toQueue") == Some(&Value::Bool(true)) {
            if !self.config.queue && self.free.pick(&self.parties, None, |a| a != me).is_none() {
                return Err(no_other());
            }
            let Some(call) = self.end_call(now, call_id, EndReason::Transferred) else {
                return Err(not_in_call());
            };
            self.send(
                conn,
                ServerEvent::CallEnded {
                    room: call.room.clone(),
                    reason: EndReason::Transferred,
                    by: None,
                },
            );
            self.wrap_up_notice(me, &call.room);
            let reason = QueueReason::Transferred;
            self.requeue(now, call, reason, Some(me), EndReason::Transferred);
            return Ok(());
        }
        let wanted = optional_id(&obj, "toAgentId")?
            .and_then(|id| self.parties.by_peer_id(Role::Agent, &id));
        // A named ready agent is taken as named; otherwise the strategy's agent among those
        // with the call's full skill requirement, or failing that any.
        let named = wanted.filter(|w| *w != me && self.free.is_ready(&self.parties, *w));
        let needs = self
            .calls
            .get(call_id)
            .map_or_else(Skills::default, |c| c.request.needs.clone());
        let next = match named {
            Some(w) => Some(w),
            None => self
                .pick_for(&needs, |a| a != me)
                .or_else(|| self.pick_for(&Skills::default(), |a| a != me)),
        }
        .ok_or_else(no_other)?;
        let Some(next_agent) = self.parties.agent(next) else {
            warn!("ready set names {next}, not a live agent; transfer refused");
            return Err(no_other());
        };
        let next_id = next_agent.id.clone();
        let next_name = next_agent.name.clone();
        let Some(call) = self.calls.get_mut(call_id) else {
            return Err(not_in_call());
        };
        call.agent = next;
        // The new agent starts unmuted; the user's mute state stays with the call.
        let agent_was_muted = std::mem::take(&mut call.agent_muted);
        let user_muted = call.user_muted;
        let since = std::mem::replace(&mut call.agent_since, now);
        let (room, user) = (call.room.clone(), call.user);
        if let Some(a) = self.parties.agent_mut(next) {
            a.calls.push(call_id);
            a.calls_taken += 1;
            self.free.chosen(a);
        }
        self.agent_released(now, me, call_id, now.saturating_duration_since(since));
        self.refresh_agent(next);
        let user_id = self
            .parties
            .user(user)
            .map_or(Value::Null, |u| u.id.to_json());
        obj.insert("agentId".into(), prev_id.to_json());
        obj.insert("roomId".into(), room.to_json());
        obj.insert("userId".into(), user_id);
        for key in ["iceServers", "polite"] {
            obj.remove(key);
        }
        self.send_to(next, ServerEvent::CallTransfer(Rc::new(obj)));
        let mut to_user = Map::new();
        to_user.insert("agentId".into(), next_id.to_json());
        if let Some(name) = next_name {
            to_user.insert("agentName".into(), Value::String(name.to_string()));
        }
        to_user.insert("roomId".into(), room.to_json());
        self.send_to(user, ServerEvent::CallTransfer(Rc::new(to_user)));
        self.transfer_call_state(&room, next, user, user_muted, agent_was_muted);
        if self.is_held(user) {
            // The new agent must know its user is away, as the first one was told.
            self.send_to(next, ServerEvent::PeerDisconnected { room: room.clone() });
        }
        self.send(
            conn,
            ServerEvent::CallEnded {
                room: room.clone(),
                reason: EndReason::Transferred,
                by: None,
            },
        );
        self.wrap_up_notice(me, &room);
        Ok(())
    }

    /// toggleAvailability: sets whether the agent takes calls; `true` also ends wrap-up.
    pub(super) fn toggle_availability(
        &mut self,
        _now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Handled {
        let obj = object(data)?;
        let (me, agent) = self.agent(conn)?;
        check_own_id(&obj, "id", &agent.id)?;
        check_own_id(&obj, "agentId", &agent.id)?;
        let available = match obj.get("available") {
            Some(Value::Bool(b)) => *b,
            _ => {
                return Err(Rejection::new(
                    ErrorCode::BadPayload,
                    "available must be true or false",
                ))
            }
        };
        let seq = self.next_seq();
        let mut wrap_ended = false;
        if let Some(a) = self.parties.agent_mut(me) {
            if available && !a.wants_calls {
                a.idle_since = seq;
            }
            if available {
                a.no_answer = 0;
                wrap_ended = !a.wrap_ups.is_empty();
                a.wrap_ups.clear();
            }
            a.wants_calls = available;
        }
        if wrap_ended {
            self.timers.cancel(Timer::WrapUpEnd(me));
        }
        self.refresh_agent(me);
        Ok(())
    }

    /// userMessage / agentMessage: relays messageInput to the other party (the hot path: one
    /// lookup of the sender, one of the call, one of the receiver's connection).
    pub(super) fn message(
        &mut self,
        conn: ConnId,
        role: Role,
        data: Option<MessageData>,
    ) -> Handled {
        let bad = || {
            Rejection::new(
                ErrorCode::BadPayload,
                "data must be an object with messageInput",
            )
        };
        let msg = data.filter(|m| m.well_formed).ok_or_else(bad)?;
        if msg.room_id == Some(IdRef::Invalid) {
            return Err(bad_room());
        }
        let (calls, own, named): (&[CallId], _, _) = match (role, self.parties.on_conn(conn)) {
            (_, None) => return Err(not_registered()),
            (Role::User, Some((_, Party::User(u)))) => (u.call.as_slice(), &u.id, &msg.user_id),
            (Role::Agent, Some((_, Party::Agent(a)))) => (&a.calls, &a.id, &msg.agent_id),
            _ => return Err(wrong_role(role)),
        };
        if let Some(named) = named {
            let key = if role == Role::User {
                "userId"
            } else {
                "agentId"
            };
            if *named == IdRef::Invalid {
                return Err(bad_id(key));
            }
            if !named.is(own) {
                return Err(not_own_id(key));
            }
        }
        let is_room = msg.room_id.as_ref().map(|r| |p: &PeerId| r.is(p));
        let (_, call) = self.calls.find(calls, is_room)?;
        let message_input = msg
            .message_input
            .ok_or_else(|| Rejection::new(ErrorCode::BadPayload, "messageInput is missing"))?;
        if nested_deeper_than(message_input.get(), MAX_JSON_DEPTH) {
            return Err(too_deep("messageInput"));
        }
        let message = message_input.to_owned();
        let room = call.room.clone();
        let attachments = msg.attachments;
        let (to, event) = match role {
            Role::User => (
                call.agent,
                ServerEvent::UserMessage {
                    room,
                    message,
                    attachments,
                },
            ),
            Role::Agent => (
                call.user,
                ServerEvent::AgentMessage {
                    room,
                    message,
                    attachments,
                },
            ),
        };
        self.send_to(to, event);
        Ok(())
    }

    /// leaveCall: either party ends its call; both hear `callEnded`.
    pub(super) fn leave_call(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Handled {
        let obj = object(data)?;
        let (role, call_id) = match self.own_call(conn, &obj) {
            Ok(found) => found,
            Err(e) => {
                if let Some((_, Party::User(u))) = self.parties.on_conn(conn) {
                    if let Some(ticket) = u.ticket {
                        return self.cancel_wait(now, conn, ticket, &obj);
                    }
                }
                return Err(e);
            }
        };
        self.check_self_names(conn, &obj)?;
        if let Some(agent_id) = optional_id(&obj, "agentId")? {
            let call_agent = self.calls.get(call_id).map(|c| c.agent);
            if self.parties.by_peer_id(Role::Agent, &agent_id) != call_agent {
                return Err(Rejection::new(
                    ErrorCode::Forbidden,
                    "agentId is not the agent of this call",
                ));
            }
        }
        let Some(call) = self.end_call(now, call_id, EndReason::Left) else {
            return Err(not_in_call());
        };
        for to in [call.user, call.agent] {
            self.send_to(
                to,
                ServerEvent::CallEnded {
                    room: call.room.clone(),
                    reason: EndReason::Left,
                    by: Some(role),
                },
            );
        }
        self.wrap_up_notice(call.agent, &call.room);
        Ok(())
    }

    /// leaveCall from a waiting user: it leaves the queue and hears `callEnded cancelled`.
    fn cancel_wait(
        &mut self,
        now: Instant,
        conn: ConnId,
        ticket: CallId,
        obj: &Map<String, Value>,
    ) -> Handled {
        self.check_self_names(conn, obj)?;
        let room = optional_id(obj, "roomId")?;
        let t = self.queue.get(ticket).ok_or_else(not_in_call)?;
        if room.is_some_and(|r| r != t.room) {
            return Err(not_your_room());
        }
        if let Some(t) = self.leave_queue(now, ticket, QueueOutcome::Cancelled) {
            self.send(
                conn,
                ServerEvent::CallEnded {
                    room: t.room,
                    reason: EndReason::Cancelled,
                    by: None,
                },
            );
        }
        Ok(())
    }

    /// A user's `userId`, or an agent's `agentId`, if given, must be the sender's own.
    pub(super) fn check_self_names(&self, conn: ConnId, obj: &Map<String, Value>) -> Handled {
        match self.parties.on_conn(conn) {
            Some((_, Party::User(u))) => check_own_id(obj, "userId", &u.id),
            Some((_, Party::Agent(a))) => check_own_id(obj, "agentId", &a.id),
            None => Err(not_registered()),
        }
    }

    /// The call the party on `conn` (either role) means by the optional roomId in `obj`.
    pub(super) fn own_call(
        &self,
        conn: ConnId,
        obj: &Map<String, Value>,
    ) -> Result<(Role, CallId), Rejection> {
        let room = optional_id(obj, "roomId")?;
        match self.parties.on_conn(conn) {
            None => Err(not_registered()),
            Some((_, Party::User(u))) => {
                let c = u.call.ok_or_else(not_in_call)?;
                Ok((Role::User, self.calls.pick(&[c], room.as_ref())?))
            }
            Some((_, Party::Agent(a))) => {
                Ok((Role::Agent, self.calls.pick(&a.calls, room.as_ref())?))
            }
        }
    }

    /// The registered user on `conn`, with its party id.
    fn user(&self, conn: ConnId) -> Result<(PartyId, &User), Rejection> {
        match self.parties.on_conn(conn) {
            Some((id, Party::User(u))) => Ok((id, u)),
            Some((_, Party::Agent(_))) => Err(wrong_role(Role::User)),
            None => Err(not_registered()),
        }
    }

    /// The registered agent on `conn`, with its party id.
    fn agent(&self, conn: ConnId) -> Result<(PartyId, &Agent), Rejection> {
        match self.parties.on_conn(conn) {
            Some((id, Party::Agent(a))) => Ok((id, a)),
            Some((_, Party::User(_))) => Err(wrong_role(Role::Agent)),
            None => Err(not_registered()),
        }
    }
}
