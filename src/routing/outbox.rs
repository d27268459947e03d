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

/// What is kept of one event.
#[derive(Debug)]
enum Body {
    /// A relayed message without attachments (the hot path): its room, and the length of its
    /// `messageInput`, whose bytes are next in line in `Outbox::text` (no allocation per
    /// message, and dropping it touches no cold memory).
    Message {
        from_agent: bool,
        room: PeerId,
        len: usize,
    },
    /// Any other event, as sent (boxed: rare, and it keeps each entry small).
    Event(Box<ServerEvent>),
}

/// One kept event.
#[derive(Debug)]
struct Kept {
    seq: u64,
    body: Body,
    bytes: usize,
    /// Sent while the party had no connection.
    held: bool,
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

/// A party's sequence and replay buffer.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    last_seq: u64,
    kept: VecDeque<Kept>,
    /// The `messageInput` bytes of the kept `Body::Message`s, oldest first.
    text: VecDeque<u8>,
    bytes: usize,
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
        let bytes = event.replay_bytes();
        let events = if held {
            b.events
        } else {
            b.connected.min(b.events)
        };
        while !self.kept.is_empty()
            && (self.kept.len() + 1 > events || self.bytes + bytes > b.bytes)
        {
            if held && self.kept.front().is_some_and(|k| k.held) {
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
            } => {
                let text = message.get().as_bytes();
                self.text.extend(text);
                Body::Message {
                    from_agent: matches!(event, ServerEvent::AgentMessage { .. }),
                    room: room.clone(),
                    len: text.len(),
                }
            }
            other => Body::Event(Box::new(other.clone())),
        };
        self.kept.push_back(Kept {
            seq,
            body,
            bytes,
            held,
        });
        Pushed::Kept
    }

    /// An event was numbered and not kept: nothing before it may be replayed any more.
    pub fn skip(&mut self) {
        self.kept.clear();
        self.text.clear();
        self.bytes = 0;
    }

    /// The events after `last_seen`, in order, if the outbox has every one of them; None
    /// when some were dropped (or `last_seen` is ahead of what was sent).
    pub fn after(&self, last_seen: u64) -> Option<Vec<(u64, ServerEvent)>> {
        if last_seen > self.last_seq {
            return None;
        }
        let first = self.kept.front().map_or(self.last_seq + 1, |k| k.seq);
        if last_seen + 1 < first {
            return None;
        }
        // Kept entries are consecutive and end at the last number (every number not kept
        // empties the outbox); checked, as a replay with a hole would lose an event silently.
        let newest = self.kept.back().map_or(self.last_seq, |k| k.seq);
        let count = self.kept.len() as u64;
        if newest != self.last_seq || (count > 0 && newest + 1 - first != count) {
            return None;
        }
        let mut at = 0;
        let mut out = Vec::new();
        for k in &self.kept {
            let event = match &k.body {
                Body::Event(e) => (k.seq > last_seen).then(|| ServerEvent::clone(e)),
                Body::Message {
                    from_agent,
                    room,
                    len,
                } => {
                    let range = at..at + len;
                    at += len;
                    if k.seq > last_seen {
                        Some(message_event(*from_agent, room, self.text.range(range))?)
                    } else {
                        None
                    }
                }
            };
            if let Some(e) = event {
                out.push((k.seq, e));
            }
        }
        Some(out)
    }

    /// The party is connected again: what was kept counts as sent while connected.
    pub fn reconnected(&mut self) {
        for k in &mut self.kept {
            k.held = false;
        }
    }

    /// Events and bytes kept.
    #[cfg(test)]
    pub fn kept(&self) -> (usize, usize) {
        (self.kept.len(), self.bytes)
    }

    fn pop_oldest(&mut self) {
        if let Some(k) = self.kept.pop_front() {
            self.bytes -= k.bytes;
            if let Body::Message { len, .. } = k.body {
                self.text.drain(..len);
            }
        }
    }
}

/// Rebuilds a kept message event from its `messageInput` bytes (valid JSON when kept).
fn message_event<'a>(
    from_agent: bool,
    room: &PeerId,
    text: impl Iterator<Item = &'a u8>,
) -> Option<ServerEvent> {
    let text = String::from_utf8(text.copied().collect()).ok()?;
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
    pub outbox: Outbox,
    /// The highest client `seq` applied for it (0: none).
    pub applied_seq: u64,
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
