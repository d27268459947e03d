//! Calls and the rooms they own.
//!
//! Why: a call is its own record between two connected parties named by `PartyId` (never by
//! connection), so that parties can outlive their connection without touching how calls are
//! found. A user still waiting (queued, or under an offer) has no call but a queue ticket
//! (`queue`), whose id comes from here and whose room is reserved here, so rooms stay unique
//! across calls and tickets alike.
//!
//! Invariants: `rooms[r] == c` exactly when call or ticket `c` exists and its room is `r` (a
//! room belongs to at most one call or ticket); call and ticket ids are never reused.
use super::event::{Muted, Rejection};
use super::ids::{CallId, PeerId};
use super::party::PartyId;
use super::payload::{not_in_call, not_your_room, room_required};
use super::queue::Request;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::time::Instant;

/// One call between a user and an agent.
#[derive(Debug, Clone)]
pub(super) struct Call {
    /// The room id the parties address the call by.
    pub room: PeerId,
    pub user: PartyId,
    pub agent: PartyId,
    /// When the call was routed, for its duration.
    pub started: Instant,
    /// When the current agent got it (the call's start, or its transfer), for talk time.
    pub agent_since: Instant,
    /// The user's request, kept to route the user again (rejected, agent lost, transferred).
    pub request: Request,
    /// What the user has muted (its last `mute` per kind), for a party that resumes.
    pub user_muted: Muted,
    /// What the current agent has muted (reset when the call is transferred).
    pub agent_muted: Muted,
}

/// Every call, and the room index.
#[derive(Debug, Default)]
pub(super) struct Calls {
    /// Keyed by server-assigned ids: a fast non-keyed hash is safe.
    calls: FxHashMap<CallId, Call>,
    /// Client-chosen room ids keep the default keyed hash against collision floods.
    rooms: HashMap<PeerId, CallId>,
    next_call: u64,
    next_room: u64,
}

impl Calls {
    /// How many calls exist.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// The call `id` names, if it still exists.
    #[inline]
    pub fn get(&self, id: CallId) -> Option<&Call> {
        self.calls.get(&id)
    }

    /// Mutable form of `get`.
    pub fn get_mut(&mut self, id: CallId) -> Option<&mut Call> {
        self.calls.get_mut(&id)
    }

    /// Whether a call owns `room`.
    pub fn room_in_use(&self, room: &PeerId) -> bool {
        self.rooms.contains_key(room)
    }

    /// A server-made room id no call uses.
    pub fn fresh_room(&mut self) -> PeerId {
        loop {
            self.next_room = self.next_room.wrapping_add(1);
            let room = PeerId::Str(format!("room-{}", self.next_room).into());
            if !self.rooms.contains_key(&room) {
                return room;
            }
        }
    }

    /// A fresh call (or ticket) id.
    pub fn new_id(&mut self) -> CallId {
        let id = CallId(self.next_call);
        self.next_call = self.next_call.wrapping_add(1);
        id
    }

    /// Reserves `room` (which the caller checked is free, or holds already) for ticket `id`.
    pub fn reserve(&mut self, room: PeerId, id: CallId) {
        self.rooms.insert(room, id);
    }

    /// Frees `room` if ticket `id` holds it.
    pub fn release(&mut self, room: &PeerId, id: CallId) {
        if self.rooms.get(room) == Some(&id) {
            self.rooms.remove(room);
        }
    }

    /// Starts a call in `room` (which the caller checked is free) and returns its id.
    #[cfg(test)]
    pub fn start(&mut self, room: PeerId, user: PartyId, agent: PartyId, now: Instant) -> CallId {
        let id = self.new_id();
        self.start_as(id, room, user, agent, now, Request::default());
        id
    }

    /// Starts call `id` in `room` (free, or reserved for ticket `id`) for `request`.
    pub fn start_as(
        &mut self,
        id: CallId,
        room: PeerId,
        user: PartyId,
        agent: PartyId,
        now: Instant,
        request: Request,
    ) {
        if let Some(old) = self.rooms.insert(room.clone(), id) {
            if old != id {
                log::warn!("room {room} of {old:?} given to {id:?}");
            }
        }
        self.calls.insert(
            id,
            Call {
                room,
                user,
                agent,
                started: now,
                agent_since: now,
                request,
                user_muted: Muted::default(),
                agent_muted: Muted::default(),
            },
        );
    }

    /// Removes call `id` and frees its room; None (and nothing changed) when it is gone.
    pub fn remove(&mut self, id: CallId) -> Option<Call> {
        let call = self.calls.remove(&id)?;
        match self.rooms.remove(&call.room) {
            Some(owner) if owner != id => {
                log::warn!(
                    "room {} of {id:?} was held by {owner:?}; left to it",
                    call.room
                );
                self.rooms.insert(call.room.clone(), owner);
            }
            Some(_) => {}
            None => log::warn!("room {} of {id:?} was not indexed", call.room),
        }
        Some(call)
    }

    /// Of a party's calls `own`, the one in `room`, or the only one when no room is named.
    pub fn pick(&self, own: &[CallId], room: Option<&PeerId>) -> Result<CallId, Rejection> {
        self.find(own, room.map(|r| move |p: &PeerId| p == r))
            .map(|(id, _)| id)
    }

    /// Of a party's calls `own`, the one whose room `is_room` accepts, or the only one when
    /// no room is named. A party's calls are few: they are matched directly, one lookup each.
    #[inline]
    pub fn find(
        &self,
        own: &[CallId],
        is_room: Option<impl Fn(&PeerId) -> bool>,
    ) -> Result<(CallId, &Call), Rejection> {
        match (own, is_room) {
            ([], _) => Err(not_in_call()),
            ([only], None) => self
                .calls
                .get(only)
                .map(|call| (*only, call))
                .ok_or_else(not_in_call),
            (_, None) => Err(room_required()),
            (own, Some(is_room)) => own
                .iter()
                .find_map(|id| {
                    let call = self.calls.get(id)?;
                    is_room(&call.room).then_some((*id, call))
                })
                .ok_or_else(not_your_room),
        }
    }
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
