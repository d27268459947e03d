//! Holding a party whose connection dropped, and resuming it on a new connection.
//!
//! Why: a visitor whose network blinks must not lose its call, its place in the queue or a
//! word sent meanwhile. A registered party that can be resumed (it was given a resume token)
//! is held for `[sessions] resume_grace_ms` when its connection drops: its call, queue
//! place and offer stay, the other party of a call hears `peerDisconnected`, and what it is
//! sent is kept (bounded) in its outbox. A registration that presents the token within the
//! grace takes the party over: it hears what it missed, in order and once, then live
//! traffic (first `callState` for each of its calls in which something is muted); the other
//! party hears `peerReconnected`. After the grace, or when the outbox
//! overflows, the hold ends as a disconnect does.
//!
//! Invariants: a held party has no connection and exactly one `Timer::GraceEnd`; a held
//! agent is in state `Held` (never offered a new call); a party is resumed only with the
//! token whose hash it keeps, and only when its outbox has every event after the client's
//! `lastSeq`; a resume binds the party to exactly one connection (the one it replaced is
//! told `session_replaced` and left to the loop to close).
use super::event::{ErrorCode, Rejection, Role, ServerEvent};
use super::ids::{ConnId, PeerId};
use super::outbox::ResumeKey;
use super::party::{Party, PartyId};
use super::report::HoldResult;
use super::router::{Output, Router};
use super::timer::Timer;
use log::debug;
use std::rc::Rc;
use std::time::Instant;

/// Whether a client event numbered by the client is new (apply it) or a resend (ack only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSeq {
    New,
    Repeat,
}

impl Router {
    /// The connection is lost (no close from the client): a resumable party is held for the
    /// grace; any other ends as `handle_disconnect` ends it.
    pub fn handle_connection_lost(&mut self, now: Instant, conn: ConnId) {
        let Some(id) = self.parties.party_of(conn) else {
            return;
        };
        let resumable = self.config.resume.enabled()
            && self.parties.continuity(id).is_some_and(|c| c.key.is_some());
        if !resumable {
            return self.handle_disconnect(now, conn);
        }
        self.hold_window(id);
        self.parties.unbind(conn);
        self.timers
            .schedule(Timer::GraceEnd(id), now + self.config.resume.grace);
        self.held += 1;
        debug!("{conn:?} lost: {id} held");
        if let Some(Party::Agent(a)) = self.parties.get_mut(id) {
            a.held = true;
        }
        self.refresh_agent(id);
        self.tell_peers(id, |room| ServerEvent::PeerDisconnected { room });
        self.dispatch(now);
        self.settle(now);
    }

    /// The resumable party whose resume token is `token`: its role and id (to check a proof
    /// of identity before `handle_resume`).
    pub fn resumable(&self, token: &str) -> Option<(Role, PeerId)> {
        let id = self.parties.by_key(&ResumeKey::of(token))?;
        let party = self.parties.get(id)?;
        Some((party.role(), party.id().clone()))
    }

    /// Resumes the party whose token is `token` on `conn` (Socket.IO's recovery, where the
    /// token comes before any event), replaying what followed `last_seq`; Err (nothing
    /// changed) when no party has that token or it cannot be replayed faithfully.
    pub fn handle_resume(
        &mut self,
        now: Instant,
        conn: ConnId,
        token: &str,
        last_seq: u64,
    ) -> Result<Role, Rejection> {
        let not_found = || Rejection::new(ErrorCode::BadPayload, "nothing to resume");
        if self.parties.party_of(conn).is_some() {
            return Err(Rejection::new(
                ErrorCode::AlreadyRegistered,
                "this connection is already registered",
            ));
        }
        let id = self
            .parties
            .by_key(&ResumeKey::of(token))
            .ok_or_else(not_found)?;
        let role = self.parties.get(id).ok_or_else(not_found)?.role();
        if self.replayable(id, last_seq) != Ok(true) {
            // What it missed is gone (or the offset is not one it was sent): the party ends,
            // and the client registers afresh (a Socket.IO client may keep a stale offset).
            self.emit(Output::Hold {
                result: HoldResult::Gap,
            });
            self.evict(id);
            self.end_party(now, id);
            self.settle(now);
            return Err(Rejection::new(
                ErrorCode::BadPayload,
                "events after that offset are not kept",
            ));
        }
        self.resume(now, conn, id, token, last_seq)?;
        self.settle(now);
        Ok(role)
    }

    /// Whether party `id`'s outbox holds every event after `last_seq` (false: some were
    /// dropped); Err when `last_seq` is ahead of what it was sent.
    pub(super) fn replayable(&self, id: PartyId, last_seq: u64) -> Result<bool, Rejection> {
        let Some(c) = self.parties.continuity(id) else {
            return Ok(false);
        };
        if last_seq > c.outbox.last_seq() {
            return Err(Rejection::with(
                ErrorCode::BadPayload,
                format!(
                    "lastSeq {last_seq} is ahead of the last event sent ({})",
                    c.outbox.last_seq()
                ),
            ));
        }
        Ok(self.kept_after(id, last_seq).is_some())
    }

    /// The events kept for party `id` after `last_seen`, in order, if every one of them is
    /// kept (from the shared ring while it is connected, else from its outbox).
    fn kept_after(&self, id: PartyId, last_seen: u64) -> Option<Vec<(u64, ServerEvent)>> {
        let c = self.parties.continuity(id)?;
        let Some(newest) = c.sent else {
            return c.outbox.after(last_seen);
        };
        let last = c.outbox.last_seq();
        let kept = self.sent.chain(newest, last, self.config.resume.keep_sent);
        let first = last + 1 - kept.len() as u64;
        if last_seen > last || last_seen + 1 < first {
            return None;
        }
        Some(
            kept.into_iter()
                .filter(|(seq, _)| *seq > last_seen)
                .collect(),
        )
    }

    /// Party `id`'s connection dropped: its window moves from the shared ring (which moves
    /// on without it) to its own outbox, where what it misses is kept too.
    fn hold_window(&mut self, id: PartyId) {
        let b = self.config.resume.bounds();
        let Some((_, c)) = self.parties.link_mut(id) else {
            return;
        };
        if let Some(newest) = c.sent.take() {
            let window = self.sent.chain(newest, c.outbox.last_seq(), b.connected);
            c.outbox.restore(window, b);
        }
    }

    /// Party `id` is connected again after a hold: its outbox's last events become its
    /// window in the shared ring.
    fn window_to_ring(&mut self, id: PartyId) {
        let keep = self.config.resume.keep_sent;
        let Some((_, c)) = self.parties.link_mut(id) else {
            return;
        };
        let kept = c.outbox.take();
        let skip = kept.len().saturating_sub(keep);
        c.sent = None;
        for (seq, event) in kept.into_iter().skip(skip) {
            c.sent = self.sent.push(seq, c.sent, &event);
        }
    }

    /// Whether the client event numbered `seq` on `conn` is new; a repeat is acknowledged
    /// again and not applied. Unregistered connections have nothing to repeat.
    pub fn client_seq(&self, conn: ConnId, seq: u64) -> ClientSeq {
        match self.parties.party_of(conn) {
            Some(id)
                if self
                    .parties
                    .continuity(id)
                    .is_some_and(|c| seq <= c.applied_seq) =>
            {
                ClientSeq::Repeat
            }
            _ => ClientSeq::New,
        }
    }

    /// Records that the client event numbered `seq` was handled for the party on `conn`.
    pub fn client_seq_applied(&mut self, conn: ConnId, seq: u64) {
        if let Some(id) = self.parties.party_of(conn) {
            if let Some((_, c)) = self.parties.link_mut(id) {
                c.applied_seq = c.applied_seq.max(seq);
            }
        }
    }

    /// How many parties are held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Binds held (or still connected) party `id` to `conn` with the token the client
    /// presented: `registered {resumed:true}`, the events after `last_seq`, then the count.
    /// Err (nothing changed) when the outbox cannot replay from `last_seq`.
    pub(super) fn resume(
        &mut self,
        now: Instant,
        conn: ConnId,
        id: PartyId,
        token: &str,
        last_seq: u64,
    ) -> Result<(), Rejection> {
        let (role, peer_id) = match self.parties.get(id) {
            Some(p) => (p.role(), p.id().clone()),
            None => return Err(Rejection::new(ErrorCode::BadPayload, "nothing to resume")),
        };
        let Some(cont) = self.parties.continuity(id) else {
            return Err(Rejection::new(ErrorCode::BadPayload, "nothing to resume"));
        };
        let Some(replay) = self.kept_after(id, last_seq) else {
            return Err(Rejection::with(
                ErrorCode::BadPayload,
                format!(
                    "lastSeq {last_seq} cannot be replayed (events up to {} were sent; the oldest kept may be later)",
                    cont.outbox.last_seq()
                ),
            ));
        };
        let was_held = match self.parties.conn_of(id) {
            Some(_) => {
                self.evict(id);
                false
            }
            None => {
                self.timers.cancel(Timer::GraceEnd(id));
                self.held = self.held.saturating_sub(1);
                true
            }
        };
        if !self.parties.bind(conn, id) {
            // Unreachable: `conn` is unbound (checked by callers) and `id` was just freed.
            debug!("{conn:?} could not be bound to {id} on resume");
            return Err(Rejection::new(ErrorCode::AlreadyRegistered, "not resumed"));
        }
        if was_held {
            self.window_to_ring(id);
        }
        self.emit(Output::Hold {
            result: HoldResult::Resumed,
        });
        debug!(
            "{conn:?} resumed {id} after seq {last_seq} ({} replayed)",
            replay.len()
        );
        let capacity = self.capacity_of(conn);
        self.send_unsequenced(
            conn,
            ServerEvent::Registered {
                role,
                id: peer_id,
                resume_token: Some(Rc::from(token)),
                resumed: true,
                capacity,
            },
        );
        for (seq, event) in replay {
            self.emit(Output::Send {
                to: conn,
                event,
                seq: Some(seq),
            });
        }
        // Then what its calls' media state is now (it may have lost what it was told).
        self.send_call_states(id);
        if was_held {
            if let Some(Party::Agent(a)) = self.parties.get_mut(id) {
                a.held = false;
            }
            self.refresh_agent(id);
            self.tell_peers(id, |room| ServerEvent::PeerReconnected { room });
        }
        self.send_own_count(conn);
        self.dispatch(now);
        Ok(())
    }

    /// Takes party `id` off its connection, if it has one, for a new one that presented its
    /// token: the old connection hears `session_replaced` and is left to the loop to close.
    pub(super) fn evict(&mut self, id: PartyId) {
        let Some(old) = self.parties.conn_of(id) else {
            return;
        };
        self.parties.unbind(old);
        self.send_unsequenced(
            old,
            ServerEvent::error(
                Rejection::new(
                    ErrorCode::SessionReplaced,
                    "another connection resumed this registration",
                ),
                None,
            ),
        );
        self.emit(Output::Replaced { conn: old });
    }

    /// Ends the holds that overflowed during the current input (as a disconnect).
    pub(super) fn settle(&mut self, now: Instant) {
        while let Some(id) = self.overflowed.pop() {
            if self.is_held(id) {
                self.emit(Output::Hold {
                    result: HoldResult::Overflowed,
                });
                self.end_party(now, id);
            }
        }
    }

    /// The grace of held party `id` is over: it ends as a disconnect.
    pub(super) fn grace_ended(&mut self, now: Instant, id: PartyId) {
        if self.parties.get(id).is_some() && self.parties.conn_of(id).is_none() {
            debug!("{id}: grace over; it ends as a disconnect");
            self.emit(Output::Hold {
                result: HoldResult::Expired,
            });
            self.end_party(now, id);
        }
    }

    /// Sends `event(room)` to the other party of each of `id`'s calls.
    fn tell_peers(&mut self, id: PartyId, event: impl Fn(PeerId) -> ServerEvent) {
        let calls = match self.parties.get(id) {
            Some(Party::User(u)) => u.call.into_iter().collect::<Vec<_>>(),
            Some(Party::Agent(a)) => a.calls.clone(),
            None => return,
        };
        for call in calls {
            let Some(c) = self.calls.get(call) else {
                continue;
            };
            let other = if c.user == id { c.agent } else { c.user };
            let room = c.room.clone();
            self.send_to(other, event(room));
        }
    }

    /// Whether party `id` is held (registered, with no connection).
    pub(super) fn is_held(&self, id: PartyId) -> bool {
        self.parties.get(id).is_some() && self.parties.conn_of(id).is_none()
    }
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
