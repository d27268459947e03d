//! What a party needs to survive a reconnect: its resume key, the sequence numbers of what
//! it was sent, a bounded buffer of recent events to replay, and the highest client `seq`
//! applied for it.
//!
//! Why: a connection can drop with events still in flight (in socket buffers, or sent
//! before the server noticed the drop), and the party must get them on its next connection
//! in order and exactly once. Each event sent to a party gets the next number of the
//! party's sequence; the outbox keeps the latest ones, so a client that says the last
//! number it saw is replayed exactly what follows.
//!
//! Invariants: numbers start at 1 and rise by one per event (`last_seq` is the latest); the
//! kept entries are consecutive and end at `last_seq`; their count and `bytes` stay within
//! the bounds given to `push` (while the party is connected, older entries are dropped
//! first, down to the smaller connected window; while it is held, a push that does not fit
//! reports `Overflow` instead of dropping anything sent since the drop).
use super::event::ServerEvent;
use super::ids::PeerId;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt;

/// The SHA-256 of a resume token: what the router keeps (never the token itself).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResumeKey([u8; 32]);

impl ResumeKey {
    /// The key of a token as the client presents it.
    pub fn of(token: &str) -> ResumeKey {
        ResumeKey(Sha256::digest(token.as_bytes()).into())
    }
}

impl fmt::Debug for ResumeKey {
    /// Never prints the hash (a log is no place for it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeKey(..)")
    }
}

/// What is kept of one event (its number follows from its place: entries are consecutive).
#[derive(Debug)]
enum Body {
    /// A relayed message without attachments (the hot path): its room, and the length of its
    /// `messageInput`, whose bytes are next in line in `Outbox::text` (no allocation per
    /// message, and dropping it touches no cold memory).
    Message {
        from_agent: bool,
        len: u32,
        room: PeerId,
    },
    /// Any other event, as sent (boxed: rare, and it keeps each entry small).
    Event(Box<ServerEvent>),
}

/// What keeping a message costs, as `ServerEvent::replay_bytes` counts it.
fn message_bytes(room: &PeerId, len: usize) -> usize {
    ServerEvent::REPLAY_BASE
        + match room {
            PeerId::Int(_) => 20,
            PeerId::Str(s) => s.len() + 2,
        }
        + len
}

impl Body {
    /// What keeping it costs (the same figure as when it was pushed).
    fn bytes(&self) -> usize {
        match self {
            Body::Message { len, room, .. } => message_bytes(room, *len as usize),
            Body::Event(e) => e.replay_bytes(),
        }
    }
}

/// Whether a push fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(super) enum Pushed {
    Kept,
    /// The party is held and what it missed no longer fits: its hold must end.
    Overflow,
}

/// The bounds of one outbox.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Events kept in all.
    pub events: usize,
    pub bytes: usize,
    /// Events kept while the party is connected (at most `events`).
    pub connected: usize,
}

/// Bytes of dropped text past which `Outbox::text` is compacted.
const TEXT_SLACK: usize = 4096;

/// A party's sequence and replay buffer.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    last_seq: u64,
    /// The kept events, oldest first; the newest is number `last_seq`.
    kept: VecDeque<Body>,
    /// The `messageInput` bytes of the kept `Body::Message`s, oldest first from `head`.
    text: Vec<u8>,
    head: usize,
    bytes: usize,
    /// How many of the newest kept events were sent while the party had no connection.
    held: usize,
}

impl Outbox {
    /// The number of the latest event sent to the party (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Numbers the next event; the caller keeps it with `push` if replays are on.
    pub fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Keeps event number `seq` (the one `next_seq` just gave) for a replay. `held` says the
    /// party has no connection: then nothing sent since the drop is dropped to make room.
    /// An event that is not kept (too big, or an overflow) empties the outbox, so that no
    /// replay can skip it: a replay from before it is then refused as a gap.
    pub fn push(&mut self, seq: u64, event: &ServerEvent, held: bool, b: Bounds) -> Pushed {
        debug_assert_eq!(seq, self.last_seq);
        self.keep(event, held, b)
    }

    /// Takes over a connected party's window (consecutive events ending at `last_seq`,
    /// oldest first) into an empty outbox, as sent while connected.
    pub fn restore(&mut self, window: Vec<(u64, ServerEvent)>, b: Bounds) {
        self.skip();
        let ends_at_last = window.last().is_none_or(|(seq, _)| *seq == self.last_seq);
        if !ends_at_last {
            return;
        }
        for (_, event) in window {
            let _ = self.keep(&event, false, b);
        }
    }

    /// Empties the outbox, returning what it kept (oldest first, with their numbers).
    pub fn take(&mut self) -> Vec<(u64, ServerEvent)> {
        let first = self.last_seq + 1 - self.kept.len() as u64;
        let kept = self.after(first - 1).unwrap_or_default();
        self.skip();
        kept
    }

    /// Keeps the event just numbered (as `push`).
    fn keep(&mut self, event: &ServerEvent, held: bool, b: Bounds) -> Pushed {
        let bytes = event.replay_bytes();
        let events = if held {
            b.events
        } else {
            b.connected.min(b.events)
        };
        while !self.kept.is_empty()
            && (self.kept.len() + 1 > events || self.bytes + bytes > b.bytes)
        {
            if held && self.held == self.kept.len() {
                self.skip();
                return Pushed::Overflow;
            }
            self.pop_oldest();
        }
        if events == 0 || bytes > b.bytes {
            // Too big to keep even alone: later replays start after it.
            self.skip();
            return if held { Pushed::Overflow } else { Pushed::Kept };
        }
        self.bytes += bytes;
        let body = match event {
            ServerEvent::UserMessage {
                room,
                message,
                attachments: None,
            }
            | ServerEvent::AgentMessage {
                room,
                message,
                attachments: None,
            } if message.get().len() <= u32::MAX as usize => {
                let text = message.get().as_bytes();
                self.text.extend_from_slice(text);
                Body::Message {
                    from_agent: matches!(event, ServerEvent::AgentMessage { .. }),
                    len: text.len() as u32,
                    room: room.clone(),
                }
            }
            other => Body::Event(Box::new(other.clone())),
        };
        self.kept.push_back(body);
        self.held += usize::from(held);
        Pushed::Kept
    }

    /// An event was numbered and not kept: nothing before it may be replayed any more.
    pub fn skip(&mut self) {
        self.kept.clear();
        self.text.clear();
        self.head = 0;
        self.bytes = 0;
        self.held = 0;
    }

    /// The events after `last_seen`, in order, if the outbox has every one of them; None
    /// when some were dropped (or `last_seen` is ahead of what was sent).
    pub fn after(&self, last_seen: u64) -> Option<Vec<(u64, ServerEvent)>> {
        if last_seen > self.last_seq {
            return None;
        }
        // Kept entries are consecutive and end at the last number (every number not kept
        // empties the outbox), so the oldest kept is this one.
        let first = self.last_seq + 1 - self.kept.len() as u64;
        if last_seen + 1 < first {
            return None;
        }
        let mut at = self.head;
        let mut out = Vec::new();
        for (i, k) in self.kept.iter().enumerate() {
            let seq = first + i as u64;
            let event = match k {
                Body::Event(e) => (seq > last_seen).then(|| ServerEvent::clone(e)),
                Body::Message {
                    from_agent,
                    len,
                    room,
                } => {
                    let text = self.text.get(at..at + *len as usize)?;
                    at += *len as usize;
                    if seq > last_seen {
                        Some(message_event(*from_agent, room, text)?)
                    } else {
                        None
                    }
                }
            };
            if let Some(e) = event {
                out.push((seq, e));
            }
        }
        Some(out)
    }

    /// Events and bytes kept.
    #[cfg(test)]
    pub fn kept(&self) -> (usize, usize) {
        (self.kept.len(), self.bytes)
    }

    fn pop_oldest(&mut self) {
        let Some(k) = self.kept.pop_front() else {
            return;
        };
        self.bytes -= k.bytes();
        self.held = self.held.min(self.kept.len());
        if let Body::Message { len, .. } = k {
            self.head += len as usize;
            if self.head > TEXT_SLACK && self.head * 2 > self.text.len() {
                self.text.drain(..self.head);
                self.head = 0;
            }
        }
    }
}

/// Rebuilds a kept message event from its `messageInput` bytes (valid JSON when kept).
fn message_event(from_agent: bool, room: &PeerId, text: &[u8]) -> Option<ServerEvent> {
    let text = String::from_utf8(text.to_vec()).ok()?;
    let message = RawValue::from_string(text).ok()?;
    let room = room.clone();
    Some(match from_agent {
        true => ServerEvent::AgentMessage {
            room,
            message,
            attachments: None,
        },
        false => ServerEvent::UserMessage {
            room,
            message,
            attachments: None,
        },
    })
}

/// A party's resume state, beside its routing state.
#[derive(Debug, Default)]
pub(super) struct Continuity {
    /// The hash of its resume token; None: it cannot be resumed.
    pub key: Option<ResumeKey>,
    /// What it was sent while held (and the window from before the drop); empty while it
    /// is connected, when its recent events are in the router's `SentRing` instead.
    pub outbox: Outbox,
    /// The ring position of its newest kept event while connected (None: none kept since
    /// the last one that was not).
    pub sent: Option<u64>,
    /// The highest client `seq` applied for it (0: none).
    pub applied_seq: u64,
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
