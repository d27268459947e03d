//! The router: who is connected as what, which agents are free, which calls exist.
//!
//! Invariants: a connection is at most one party; an id maps to at most one live connection
//! per role; a room belongs to at most one active call; an agent is in `ready` exactly when it
//! wants calls and has room for one more; a rejected request changes nothing.
use super::data::{EventData, MessageData};
use super::event::{ClientEvent, EndReason, ErrorCode, Rejection, Role, ServerEvent};
use super::ids::{CallId, ConnId, IdRef, PeerId};
use rustc_hash::FxHashMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Calls an agent holds at once (a per-agent capacity for multi-chat replaces this const).
const AGENT_CAPACITY: usize = 1;

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

struct User {
    id: PeerId,
    call: Option<CallId>,
}

struct Agent {
    id: PeerId,
    wants_calls: bool,
    calls: Vec<CallId>,
    /// Key in `Router::ready` while the agent is there.
    ready_key: Option<u64>,
}

enum Party {
    User(User),
    Agent(Agent),
}

struct Call {
    room: PeerId,
    user: ConnId,
    agent: ConnId,
    started: Instant,
}

/// The sans-IO routing core.
///
/// Inputs: `handle_event`, `handle_disconnect`, `handle_timeout`. Outputs, drained in this
/// order after each input or turn: `poll_output` until None, then (once per loop turn)
/// `poll_available_agents`, then `poll_timeout` for the next wake-up.
#[derive(Default)]
pub struct Router {
    /// Keyed by server-assigned ids: a fast non-keyed hash is safe. Client-chosen ids
    /// (users, agents, rooms) keep the default keyed hash against collision floods.
    parties: FxHashMap<ConnId, Party>,
    users_by_id: HashMap<PeerId, ConnId>,
    agents_by_id: HashMap<PeerId, ConnId>,
    calls: FxHashMap<CallId, Call>,
    rooms: HashMap<PeerId, CallId>,
    /// Agents free to take a call, oldest first: key = order in which they became free.
    ready: BTreeMap<u64, ConnId>,
    next_ready_key: u64,
    next_call: u64,
    next_room: u64,
    user_count: usize,
    out: VecDeque<Output>,
    announced_available: Option<usize>,
}

type Handled = Result<(), Rejection>;

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

    /// The connection is gone: its registration ends and so do its calls.
    pub fn handle_disconnect(&mut self, now: Instant, conn: ConnId) {
        let Some(party) = self.parties.remove(&conn) else {
            return;
        };
        match party {
            Party::User(u) => {
                self.users_by_id.remove(&u.id);
                self.user_count -= 1;
                if let Some(call) = u.call {
                    self.finish_disconnected(now, call, conn);
                }
            }
            Party::Agent(a) => {
                self.agents_by_id.remove(&a.id);
                if let Some(key) = a.ready_key {
                    self.ready.remove(&key);
                }
                for call in a.calls {
                    self.finish_disconnected(now, call, conn);
                }
            }
        }
    }

    /// Timers fire; a call that comes early or twice does nothing. (No routing timers yet:
    /// offer timeouts and wrap-up will hang off this and `poll_timeout`.)
    pub fn handle_timeout(&mut self, _now: Instant) {}

    /// Next queued output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The free-agent count, when it differs from the one last returned.
    #[must_use]
    pub fn poll_available_agents(&mut self) -> Option<usize> {
        let n = self.ready.len();
        if self.announced_available == Some(n) {
            return None;
        }
        self.announced_available = Some(n);
        Some(n)
    }

    /// When `handle_timeout` next needs to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Current counts.
    pub fn stats(&self) -> Stats {
        Stats {
            users: self.user_count,
            agents: self.agents_by_id.len(),
            available_agents: self.ready.len(),
            active_calls: self.calls.len(),
        }
    }

    /// Queues one event for one connection.
    fn send(&mut self, to: ConnId, event: ServerEvent) {
        self.out.push_back(Output::Send { to, event });
    }

    /// connectUser / connectAgent.
    fn connect(&mut self, conn: ConnId, role: Role, data: Option<&RawValue>) -> Handled {
        if self.parties.contains_key(&conn) {
            return Err(Rejection::new(
                ErrorCode::AlreadyRegistered,
                "this connection is already registered",
            ));
        }
        let obj = object(data)?;
        let id = required_id(&obj, "id")?;
        let by_id = match role {
            Role::User => &mut self.users_by_id,
            Role::Agent => &mut self.agents_by_id,
        };
        if by_id.contains_key(&id) {
            return Err(Rejection::with(
                ErrorCode::IdInUse,
                format!("{id} is held by another connection"),
            ));
        }
        by_id.insert(id.clone(), conn);
        let party = match role {
            Role::User => {
                self.user_count += 1;
                Party::User(User {
                    id: id.clone(),
                    call: None,
                })
            }
            Role::Agent => Party::Agent(Agent {
                id: id.clone(),
                wants_calls: true,
                calls: Vec::new(),
                ready_key: None,
            }),
        };
        self.parties.insert(conn, party);
        self.refresh_ready(conn);
        self.send(conn, ServerEvent::Registered { role, id });
        let count = self.ready.len();
        self.send(conn, ServerEvent::AvailableAgents { count });
        Ok(())
    }

    /// callAgent: routes the user to the agent free longest.
    fn call_agent(&mut self, now: Instant, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let user = self.user(conn)?;
        let mut obj = object(data)?;
        check_own_id(&obj, "userId", &user.id)?;
        if user.call.is_some() {
            return Err(Rejection::new(
                ErrorCode::AlreadyInCall,
                "this user is already in a call",
            ));
        }
        let user_id = user.id.clone();
        let room = match optional_id(&obj, "roomId")? {
            Some(room) if self.rooms.contains_key(&room) => {
                return Err(Rejection::with(
                    ErrorCode::RoomInUse,
                    format!("room {room} belongs to another call"),
                ))
            }
            Some(room) => room,
            None => self.fresh_room(),
        };
        let agent_conn =
            self.ready.values().next().copied().ok_or_else(|| {
                Rejection::new(ErrorCode::NoAgentAvailable, "no agent is available")
            })?;
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.calls.insert(
            call,
            Call {
                room: room.clone(),
                user: conn,
                agent: agent_conn,
                started: now,
            },
        );
        self.rooms.insert(room.clone(), call);
        if let Some(Party::User(u)) = self.parties.get_mut(&conn) {
            u.call = Some(call);
        }
        let agent_id = match self.parties.get_mut(&agent_conn) {
            Some(Party::Agent(a)) => {
                a.calls.push(call);
                a.id.clone()
            }
            _ => unreachable_party(),
        };
        self.refresh_ready(agent_conn);
        obj.insert("userId".into(), user_id.to_json());
        obj.insert("roomId".into(), room.to_json());
        obj.insert("agentId".into(), agent_id.to_json());
        let obj = Rc::new(obj);
        self.out.push_back(Output::CallStarted { call });
        self.send(agent_conn, ServerEvent::CallAgent(obj.clone()));
        self.send(conn, ServerEvent::CallAgent(obj));
        Ok(())
    }

    /// rejectCall: the agent ends the call it was given.
    fn reject_call(&mut self, now: Instant, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let obj = object(data)?;
        let agent = self.agent(conn)?;
        check_own_id(&obj, "agentId", &agent.id)?;
        let call_id = self.call_of(&agent.calls, &obj)?;
        let call = self.end_call(now, call_id, EndReason::Rejected);
        let room = call.room;
        self.send(
            call.user,
            ServerEvent::CallEnded {
                room,
                reason: EndReason::Rejected,
                by: None,
            },
        );
        Ok(())
    }

    /// callTransfer: moves the call to another free agent.
    fn call_transfer(&mut self, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let mut obj = object(data)?;
        let agent = self.agent(conn)?;
        let prev_id = agent.id.clone();
        check_own_id(&obj, "agentId", &prev_id)?;
        let call_id = self.call_of(&agent.calls, &obj)?;
        let wanted = optional_id(&obj, "toAgentId")?
            .and_then(|id| self.agents_by_id.get(&id).copied())
            .filter(|c| *c != conn && self.is_ready(*c));
        let next = wanted
            .or_else(|| self.ready.values().copied().find(|c| *c != conn))
            .ok_or_else(|| {
                Rejection::new(ErrorCode::NoAgentAvailable, "no other agent is available")
            })?;
        let Some(call) = self.calls.get_mut(&call_id) else {
            return Err(not_in_call());
        };
        call.agent = next;
        let (room, user) = (call.room.clone(), call.user);
        if let Some(Party::Agent(a)) = self.parties.get_mut(&conn) {
            a.calls.retain(|c| *c != call_id);
        }
        let next_id = match self.parties.get_mut(&next) {
            Some(Party::Agent(a)) => {
                a.calls.push(call_id);
                a.id.clone()
            }
            _ => unreachable_party(),
        };
        self.refresh_ready(conn);
        self.refresh_ready(next);
        let user_id = match self.parties.get(&user) {
            Some(Party::User(u)) => u.id.to_json(),
            _ => Value::Null,
        };
        obj.insert("agentId".into(), prev_id.to_json());
        obj.insert("roomId".into(), room.to_json());
        obj.insert("userId".into(), user_id);
        self.send(next, ServerEvent::CallTransfer(Rc::new(obj)));
        let mut to_user = Map::new();
        to_user.insert("agentId".into(), next_id.to_json());
        to_user.insert("roomId".into(), room.to_json());
        self.send(user, ServerEvent::CallTransfer(Rc::new(to_user)));
        self.send(
            conn,
            ServerEvent::CallEnded {
                room,
                reason: EndReason::Transferred,
                by: None,
            },
        );
        Ok(())
    }

    /// toggleAvailability: whether the agent takes calls.
    fn toggle_availability(&mut self, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let obj = object(data)?;
        let agent = self.agent(conn)?;
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
        if let Some(Party::Agent(a)) = self.parties.get_mut(&conn) {
            a.wants_calls = available;
        }
        self.refresh_ready(conn);
        Ok(())
    }

    /// userMessage / agentMessage: relays messageInput to the other party (the hot path).
    fn message(&mut self, conn: ConnId, role: Role, data: Option<MessageData>) -> Handled {
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
        let (calls, own, named): (&[CallId], _, _) = match (role, self.parties.get(&conn)) {
            (_, None) => return Err(not_registered()),
            (Role::User, Some(Party::User(u))) => (u.call.as_slice(), &u.id, &msg.user_id),
            (Role::Agent, Some(Party::Agent(a))) => (&a.calls, &a.id, &msg.agent_id),
            _ => return Err(wrong_role(role)),
        };
        if named.as_ref().is_some_and(|n| !n.is(own)) {
            let key = if role == Role::User {
                "userId"
            } else {
                "agentId"
            };
            return Err(not_own_id(key));
        }
        let is_room = msg.room_id.as_ref().map(|r| |p: &PeerId| r.is(p));
        let (_, call) = self.find_call(calls, is_room)?;
        let message_input = msg
            .message_input
            .ok_or_else(|| Rejection::new(ErrorCode::BadPayload, "messageInput is missing"))?;
        let message = message_input.to_owned();
        let room = call.room.clone();
        let (to, event) = match role {
            Role::User => (call.agent, ServerEvent::UserMessage { room, message }),
            Role::Agent => (call.user, ServerEvent::AgentMessage { room, message }),
        };
        self.send(to, event);
        Ok(())
    }

    /// leaveCall: either party ends the call.
    fn leave_call(&mut self, now: Instant, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let obj = object(data)?;
        let (role, call_id) = self.own_call(conn, &obj)?;
        self.check_self_names(conn, &obj)?;
        let agent_id = optional_id(&obj, "agentId")?;
        if let Some(agent_id) = agent_id {
            let call_agent = self.calls.get(&call_id).map(|c| c.agent);
            if self.agents_by_id.get(&agent_id).copied() != call_agent {
                return Err(Rejection::new(
                    ErrorCode::Forbidden,
                    "agentId is not the agent of this call",
                ));
            }
        }
        let call = self.end_call(now, call_id, EndReason::Left);
        for to in [call.user, call.agent] {
            self.send(
                to,
                ServerEvent::CallEnded {
                    room: call.room.clone(),
                    reason: EndReason::Left,
                    by: Some(role),
                },
            );
        }
        Ok(())
    }

    /// mute: forwarded to the other party.
    fn mute(&mut self, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let mut obj = object(data)?;
        let (role, call_id) = self.own_call(conn, &obj)?;
        self.check_self_names(conn, &obj)?;
        let Some(call) = self.calls.get(&call_id) else {
            return Err(not_in_call());
        };
        let to = match role {
            Role::User => call.agent,
            Role::Agent => call.user,
        };
        obj.insert("roomId".into(), call.room.to_json());
        self.send(to, ServerEvent::Mute(Rc::new(obj)));
        Ok(())
    }

    /// A user's `userId`, or an agent's `agentId`, if given, must be the sender's own.
    fn check_self_names(&self, conn: ConnId, obj: &Map<String, Value>) -> Handled {
        match self.parties.get(&conn) {
            Some(Party::User(u)) => check_own_id(obj, "userId", &u.id),
            Some(Party::Agent(a)) => check_own_id(obj, "agentId", &a.id),
            None => Err(not_registered()),
        }
    }

    /// The call `conn` (either role) means by the optional roomId in `obj`.
    fn own_call(
        &self,
        conn: ConnId,
        obj: &Map<String, Value>,
    ) -> Result<(Role, CallId), Rejection> {
        let room = optional_id(obj, "roomId")?;
        match self.parties.get(&conn) {
            None => Err(not_registered()),
            Some(Party::User(u)) => {
                let c = u.call.ok_or_else(not_in_call)?;
                Ok((Role::User, self.check_room(c, room.as_ref())?))
            }
            Some(Party::Agent(a)) => Ok((Role::Agent, self.pick_call(&a.calls, room.as_ref())?)),
        }
    }

    /// The agent's call named by the optional roomId in `obj`.
    fn call_of(&self, calls: &[CallId], obj: &Map<String, Value>) -> Result<CallId, Rejection> {
        let room = optional_id(obj, "roomId")?;
        self.pick_call(calls, room.as_ref())
    }

    /// One of `calls`: the one in `room`, or the only one when no room is named.
    fn pick_call(&self, calls: &[CallId], room: Option<&PeerId>) -> Result<CallId, Rejection> {
        self.find_call(calls, room.map(|r| move |p: &PeerId| p == r))
            .map(|(id, _)| id)
    }

    /// Of the sender's calls, the one whose room `is_room` accepts, or the only one when no
    /// room is named. The sender's calls are few: they are matched directly.
    fn find_call(
        &self,
        calls: &[CallId],
        is_room: Option<impl Fn(&PeerId) -> bool>,
    ) -> Result<(CallId, &Call), Rejection> {
        let id = match (calls, is_room) {
            ([], _) => return Err(not_in_call()),
            ([only], None) => *only,
            (_, None) => {
                return Err(Rejection::new(
                    ErrorCode::BadPayload,
                    "roomId is required with more than one call",
                ))
            }
            (calls, Some(is_room)) => *calls
                .iter()
                .find(|c| self.calls.get(c).is_some_and(|call| is_room(&call.room)))
                .ok_or_else(not_your_room)?,
        };
        let call = self.calls.get(&id).ok_or_else(not_in_call)?;
        Ok((id, call))
    }

    /// A user's call, if `room` (when given) is its room.
    fn check_room(&self, call: CallId, room: Option<&PeerId>) -> Result<CallId, Rejection> {
        self.pick_call(&[call], room)
    }

    /// The registered user on `conn`.
    fn user(&self, conn: ConnId) -> Result<&User, Rejection> {
        match self.parties.get(&conn) {
            Some(Party::User(u)) => Ok(u),
            Some(Party::Agent(_)) => Err(wrong_role(Role::User)),
            None => Err(not_registered()),
        }
    }

    /// The registered agent on `conn`.
    fn agent(&self, conn: ConnId) -> Result<&Agent, Rejection> {
        match self.parties.get(&conn) {
            Some(Party::Agent(a)) => Ok(a),
            Some(Party::User(_)) => Err(wrong_role(Role::Agent)),
            None => Err(not_registered()),
        }
    }

    /// Whether the agent on `conn` is free to take a call.
    fn is_ready(&self, conn: ConnId) -> bool {
        matches!(self.parties.get(&conn), Some(Party::Agent(a)) if a.ready_key.is_some())
    }

    /// Puts the agent in or out of `ready` to match its state; entering goes to the back.
    fn refresh_ready(&mut self, conn: ConnId) {
        let Some(Party::Agent(a)) = self.parties.get_mut(&conn) else {
            return;
        };
        let should = a.wants_calls && a.calls.len() < AGENT_CAPACITY;
        match (should, a.ready_key) {
            (true, None) => {
                let key = self.next_ready_key;
                self.next_ready_key += 1;
                a.ready_key = Some(key);
                self.ready.insert(key, conn);
            }
            (false, Some(key)) => {
                a.ready_key = None;
                self.ready.remove(&key);
            }
            _ => {}
        }
    }

    /// A server-made room id no active call uses.
    fn fresh_room(&mut self) -> PeerId {
        loop {
            self.next_room += 1;
            let room = PeerId::Str(format!("room-{}", self.next_room).into());
            if !self.rooms.contains_key(&room) {
                return room;
            }
        }
    }

    /// Removes a call and frees both parties; the caller tells them.
    fn end_call(&mut self, now: Instant, call_id: CallId, reason: EndReason) -> Call {
        let Some(call) = self.calls.remove(&call_id) else {
            unreachable_party()
        };
        self.rooms.remove(&call.room);
        if let Some(Party::User(u)) = self.parties.get_mut(&call.user) {
            u.call = None;
        }
        if let Some(Party::Agent(a)) = self.parties.get_mut(&call.agent) {
            a.calls.retain(|c| *c != call_id);
        }
        self.refresh_ready(call.agent);
        self.out.push_back(Output::CallFinished {
            call: call_id,
            reason,
            duration: now.saturating_duration_since(call.started),
        });
        call
    }

    /// Ends a call because `gone` disconnected, and tells the other party.
    fn finish_disconnected(&mut self, now: Instant, call_id: CallId, gone: ConnId) {
        if !self.calls.contains_key(&call_id) {
            return;
        }
        let call = self.end_call(now, call_id, EndReason::Disconnected);
        let other = if call.user == gone {
            call.agent
        } else {
            call.user
        };
        self.send(
            other,
            ServerEvent::CallEnded {
                room: call.room,
                reason: EndReason::Disconnected,
                by: None,
            },
        );
    }
}

/// An internal invariant broke; this is a bug, never a client's doing.
#[cold]
fn unreachable_party() -> ! {
    unreachable!("router invariant violated")
}

/// The sender has not registered.
fn not_registered() -> Rejection {
    Rejection::new(
        ErrorCode::NotRegistered,
        "register first with connectUser or connectAgent",
    )
}

/// The sender has no (such) call.
fn not_in_call() -> Rejection {
    Rejection::new(ErrorCode::NotInCall, "not in a call")
}

/// The named room is not the sender's.
fn not_your_room() -> Rejection {
    Rejection::new(ErrorCode::Forbidden, "roomId is not a call of yours")
}

/// The roomId is not an id.
fn bad_room() -> Rejection {
    Rejection::new(
        ErrorCode::BadPayload,
        "roomId must be a non-empty string or an integer",
    )
}

/// The event belongs to the other role.
fn wrong_role(needed: Role) -> Rejection {
    match needed {
        Role::User => Rejection::new(ErrorCode::Forbidden, "only a user may send this event"),
        Role::Agent => Rejection::new(ErrorCode::Forbidden, "only an agent may send this event"),
    }
}

/// The event's data as an object; omitted or null data is an empty object.
fn object(data: Option<&RawValue>) -> Result<Map<String, Value>, Rejection> {
    let Some(raw) = data else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        _ => Err(Rejection::new(
            ErrorCode::BadPayload,
            "data must be an object",
        )),
    }
}

/// An optional id field.
fn optional_id(obj: &Map<String, Value>, key: &str) -> Result<Option<PeerId>, Rejection> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => PeerId::from_json(v).map(Some).ok_or_else(|| {
            Rejection::with(
                ErrorCode::BadPayload,
                format!("{key} must be a non-empty string or an integer"),
            )
        }),
    }
}

/// A required id field.
fn required_id(obj: &Map<String, Value>, key: &str) -> Result<PeerId, Rejection> {
    optional_id(obj, key)?.ok_or_else(|| {
        Rejection::with(
            ErrorCode::BadPayload,
            format!("{key} is required (a non-empty string or an integer)"),
        )
    })
}

/// A self-naming field that names someone else.
fn not_own_id(key: &str) -> Rejection {
    Rejection::with(
        ErrorCode::Forbidden,
        format!("{key} is not this connection's id"),
    )
}

/// A self-naming id field, if present, must be the sender's own.
fn check_own_id(obj: &Map<String, Value>, key: &str, own: &PeerId) -> Handled {
    match optional_id(obj, key)? {
        Some(id) if &id != own => Err(not_own_id(key)),
        _ => Ok(()),
    }
}
