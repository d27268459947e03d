//! The media side of a call: WebRTC signalling (`signal`) relayed between its two parties,
//! and what each has muted (`mute`), kept with the call so that a party that resumes (or an
//! agent a call is transferred to) learns it (`callState`).
//!
//! Why: supportd carries no media; the browsers talk to each other (or through a TURN relay)
//! once they have exchanged an offer, an answer and ICE candidates. Those must reach the
//! other party unchanged and in order, as messages do: a `signal` is a numbered event of the
//! receiver's sequence, so a party that resumes gets the ones it missed.
//!
//! Invariants: a `signal`'s `data` is relayed as the exact JSON text it came as (never
//! parsed into a value), only to the other party of the sender's own call, and only when it
//! is at most `max_signal_bytes` long and nested at most MAX_JSON_DEPTH deep; a call's mute
//! state changes only by a valid `mute` from that party (and the agent's is reset when the
//! call is transferred). A refused event changes nothing and sends nothing.
use super::event::{ErrorCode, MediaKind, Muted, Rejection, Role, ServerEvent};
use super::ids::{CallId, ConnId, PeerId};
use super::party::{Party, PartyId};
use super::payload::{nested_deeper_than, not_in_call, object, too_deep, Handled, MAX_JSON_DEPTH};
use super::router::Router;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::rc::Rc;

/// `signal {roomId?, userId?, agentId?, data}`; other keys are ignored.
#[derive(Deserialize)]
struct SignalFields<'a> {
    #[serde(rename = "roomId", default)]
    room_id: Option<Value>,
    #[serde(rename = "userId", default)]
    user_id: Option<Value>,
    #[serde(rename = "agentId", default)]
    agent_id: Option<Value>,
    /// Present (even `null`: the end of candidates a browser reports) or absent.
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
}

/// A present field, whatever its value (`null` included), as Some.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// A bad payload with a fixed message.
fn bad(message: &'static str) -> Rejection {
    Rejection::new(ErrorCode::BadPayload, message)
}

/// The event's data is not an object of the expected keys.
fn bad_shape() -> Rejection {
    bad("data must be an object with data (and roomId), each key once")
}

impl Router {
    /// signal: relays `data` (opaque: an SDP offer or answer, an ICE candidate) to the other
    /// party of the sender's call, as it came, as `signal {roomId, data}`.
    pub(super) fn signal(&mut self, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let fields = match data {
            None => None,
            Some(raw) => {
                if nested_deeper_than(raw.get(), MAX_JSON_DEPTH) {
                    return Err(too_deep("data"));
                }
                let text = raw.get().trim_start();
                if !text.starts_with('{') {
                    // `null` data is as none; anything else not an object is refused.
                    if text.trim_end() != "null" {
                        return Err(bad_shape());
                    }
                }
                let mut de = serde_json::Deserializer::from_str(raw.get());
                // Bounded by the depth check above.
                de.disable_recursion_limit();
                let parsed = SignalFields::deserialize(&mut de).and_then(|f| de.end().map(|()| f));
                match parsed {
                    Ok(f) => Some(f),
                    Err(_) if text.trim_end() == "null" => None,
                    Err(_) => return Err(bad_shape()),
                }
            }
        };
        // The self-naming ids, checked as every other event checks them.
        let mut names = Map::new();
        let mut signal = None;
        if let Some(f) = fields {
            for (key, v) in [
                ("roomId", f.room_id),
                ("userId", f.user_id),
                ("agentId", f.agent_id),
            ] {
                if let Some(v) = v {
                    names.insert(key.into(), v);
                }
            }
            signal = f.data;
        }
        let (role, call_id) = self.own_call(conn, &names)?;
        self.check_self_names(conn, &names)?;
        let signal = signal.ok_or_else(|| bad("data is missing"))?;
        let max = self.config.max_signal_bytes;
        let size = signal.get().len();
        if size > max {
            return Err(Rejection::with(
                ErrorCode::TooLarge,
                format!("data is {size} bytes; a signal may be at most {max}"),
            ));
        }
        let call = self.calls.get(call_id).ok_or_else(not_in_call)?;
        let to = match role {
            Role::User => call.agent,
            Role::Agent => call.user,
        };
        let event = ServerEvent::Signal {
            room: call.room.clone(),
            data: signal.to_owned(),
        };
        self.send_to(to, event);
        Ok(())
    }

    /// mute: recorded in the call's state (per party and kind) and forwarded, as sent plus
    /// roomId, to the other party. `muted` must be a boolean; `kind` is "audio" (also when
    /// absent or null) or "video".
    pub(super) fn mute(&mut self, conn: ConnId, data: Option<&RawValue>) -> Handled {
        let mut obj = object(data)?;
        let (role, call_id) = self.own_call(conn, &obj)?;
        self.check_self_names(conn, &obj)?;
        let muted = match obj.get("muted") {
            Some(Value::Bool(b)) => *b,
            _ => return Err(bad("muted must be true or false")),
        };
        let kind = match obj.get("kind") {
            None | Some(Value::Null) => MediaKind::Audio,
            Some(Value::String(s)) => {
                MediaKind::from_name(s).ok_or_else(|| bad("kind must be \"audio\" or \"video\""))?
            }
            Some(_) => return Err(bad("kind must be \"audio\" or \"video\"")),
        };
        let Some(call) = self.calls.get_mut(call_id) else {
            return Err(not_in_call());
        };
        let to = match role {
            Role::User => {
                call.user_muted.set(kind, muted);
                call.agent
            }
            Role::Agent => {
                call.agent_muted.set(kind, muted);
                call.user
            }
        };
        obj.insert("roomId".into(), call.room.to_json());
        self.send_to(to, ServerEvent::Mute(Rc::new(obj)));
        Ok(())
    }

    /// After a resume: party `id` hears `callState` for each of its calls in which anything
    /// is muted (none sent: nothing is muted, as at a call's start).
    pub(super) fn send_call_states(&mut self, id: PartyId) {
        let calls: Vec<CallId> = match self.parties.get(id) {
            Some(Party::User(u)) => u.call.into_iter().collect(),
            Some(Party::Agent(a)) => a.calls.clone(),
            None => return,
        };
        for call_id in calls {
            let Some(c) = self.calls.get(call_id) else {
                continue;
            };
            let (muted, peer_muted) = if c.user == id {
                (c.user_muted, c.agent_muted)
            } else {
                (c.agent_muted, c.user_muted)
            };
            if muted.any() || peer_muted.any() {
                let room = c.room.clone();
                self.send_to(
                    id,
                    ServerEvent::CallState {
                        room,
                        muted,
                        peer_muted,
                    },
                );
            }
        }
    }

    /// After a transfer of the call in `room`: its new agent hears what the user has muted,
    /// and the user, when its old agent had muted something, that the new one has not.
    pub(super) fn transfer_call_state(
        &mut self,
        room: &PeerId,
        agent: PartyId,
        user: PartyId,
        user_muted: Muted,
        old_agent_muted: Muted,
    ) {
        if user_muted.any() {
            self.send_to(
                agent,
                ServerEvent::CallState {
                    room: room.clone(),
                    muted: Muted::default(),
                    peer_muted: user_muted,
                },
            );
        }
        if old_agent_muted.any() {
            self.send_to(
                user,
                ServerEvent::CallState {
                    room: room.clone(),
                    muted: user_muted,
                    peer_muted: Muted::default(),
                },
            );
        }
    }

    /// The role and id of the party registered on `conn`, if one is (for what the loop adds
    /// to events on delivery: the call settings of `callAgent`).
    pub fn registered_as(&self, conn: ConnId) -> Option<(Role, PeerId)> {
        let (_, party) = self.parties.on_conn(conn)?;
        Some((party.role(), party.id().clone()))
    }
}

#[cfg(test)]
#[path = "signal_tests.rs"]
mod tests;
