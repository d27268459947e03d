//! The recent events of every connected party, in one shared ring: what a party whose
//! connection drops may still need replayed (events in flight when the drop happened).
//!
//! Why one ring rather than a window per party: keeping a copy of every event sent is on
//! the relay's hot path, and a per-party buffer touches memory of that party's own (cold
//! when 200 parties take turns). Appending to one ring writes memory that was just written,
//! and dropping the oldest is overwriting it. Each party links its own entries (every entry
//! names the position of the party's previous one), so collecting a party's window on a drop
//! walks only that party's entries.
//!
//! Invariants: positions are absolute and only grow; an entry at position `p` is live while
//! `p + entries_cap >= written`, and the text it names while its bytes were not written over
//! (`at + text_cap >= text_end`); a party's chain runs newest to oldest with numbers falling
//! by one (a walk stops at the first entry that is not live or not consecutive). The ring
//! holds at most `entries_cap` entries and `text_cap` text bytes (messages and signals),
//! allocated as it fills.
use super::event::ServerEvent;
use super::ids::PeerId;
use serde_json::value::RawValue;
use std::rc::Rc;

/// What one entry costs, as the capacity in entries is derived from `[sessions]
/// sent_window_bytes` (half for entries, half for text).
const ENTRY_BYTES: usize = 64;

/// The room of a kept message: an integer, or a string whose bytes precede the text.
#[derive(Debug, Clone, Copy)]
enum Room {
    Int(i64),
    Str(u16),
}

/// Which relayed event a kept text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    UserMessage,
    AgentMessage,
    /// A `signal`'s data (up to `max_signal_bytes`: kept as text, so that the ring's bytes
    /// bound it as they bound messages).
    Signal,
}

#[derive(Debug)]
enum Body {
    /// A relayed message without attachments, or a signal: its text (preceded by a string
    /// room's bytes) is at absolute text position `at`.
    Message {
        kind: TextKind,
        room: Room,
        at: u64,
        len: u32,
    },
    /// Any other event, as sent (boxed: rare, and it keeps each entry small).
    Event(Box<ServerEvent>),
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    /// The position of the same party's previous entry (u64::MAX: none).
    prev: u64,
    body: Body,
}

const NONE: u64 = u64::MAX;

/// One ring for the recent events of all connected parties.
#[derive(Debug)]
pub(super) struct SentRing {
    entries: Vec<Entry>,
    entries_cap: usize,
    /// Entries ever written: the next one's position.
    written: u64,
    text: Vec<u8>,
    text_cap: usize,
    /// Text bytes ever written (with the tails skipped at each wrap): the next one's position.
    text_end: u64,
}

impl SentRing {
    /// A ring of about `bytes` (0: keeps nothing). Nothing is allocated before it is used.
    pub fn new(bytes: usize) -> SentRing {
        let text_cap = bytes / 2;
        let entries_cap = (bytes - text_cap) / ENTRY_BYTES;
        SentRing {
            entries: Vec::new(),
            entries_cap,
            written: 0,
            text: Vec::new(),
            text_cap,
            text_end: 0,
        }
    }

    /// An empty ring of about `bytes` that takes over from this one: every position given
    /// so far is dead in it (their chains end), and new ones never repeat them.
    pub fn resized(&self, bytes: usize) -> SentRing {
        let mut ring = SentRing::new(bytes);
        // Past every old position, at the start of a lap (where each ring fills from 0).
        let (entries, text) = (ring.entries_cap.max(1) as u64, ring.text_cap.max(1) as u64);
        ring.written = (self.written / entries + 2) * entries;
        ring.text_end = (self.text_end / text + 2) * text;
        ring
    }

    /// Keeps event `seq` of a party whose previous entry is at `prev`; returns the new
    /// entry's position, to link the party's next one to (None: the ring keeps nothing).
    pub fn push(&mut self, seq: u64, prev: Option<u64>, event: &ServerEvent) -> Option<u64> {
        if self.entries_cap == 0 {
            return None;
        }
        let body = match event {
            ServerEvent::UserMessage {
                room,
                message,
                attachments: None,
            } => self.keep_text(TextKind::UserMessage, room, message),
            ServerEvent::AgentMessage {
                room,
                message,
                attachments: None,
            } => self.keep_text(TextKind::AgentMessage, room, message),
            ServerEvent::Signal { room, data } => self.keep_text(TextKind::Signal, room, data),
            _ => None,
        }
        .unwrap_or_else(|| Body::Event(Box::new(event.clone())));
        let entry = Entry {
            seq,
            prev: prev.unwrap_or(NONE),
            body,
        };
        let pos = self.written;
        let slot = (pos % self.entries_cap as u64) as usize;
        match self.entries.get_mut(slot) {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
        self.written += 1;
        Some(pos)
    }

    /// Writes a message's (or signal's) room and text into the text ring (None: too big to
    /// share it).
    fn keep_text(&mut self, kind: TextKind, room: &PeerId, message: &RawValue) -> Option<Body> {
        let (room, room_bytes): (Room, &[u8]) = match room {
            PeerId::Int(i) => (Room::Int(*i), &[]),
            PeerId::Str(s) => (Room::Str(u16::try_from(s.len()).ok()?), s.as_bytes()),
        };
        let text = message.get().as_bytes();
        let need = room_bytes.len() + text.len();
        if self.text_cap == 0 || need > self.text_cap / 8 {
            return None;
        }
        let cap = self.text_cap as u64;
        let mut off = (self.text_end % cap) as usize;
        if off + need > self.text_cap {
            // Skip the tail: a kept text is never split.
            self.text_end += cap - off as u64;
            self.text.resize(self.text_cap, 0);
            off = 0;
        }
        let at = self.text_end;
        if off == self.text.len() {
            self.text.extend_from_slice(room_bytes);
            self.text.extend_from_slice(text);
        } else {
            let dst = self.text.get_mut(off..off + need)?;
            dst[..room_bytes.len()].copy_from_slice(room_bytes);
            dst[room_bytes.len()..].copy_from_slice(text);
        }
        self.text_end += need as u64;
        Some(Body::Message {
            kind,
            room,
            at,
            len: text.len() as u32,
        })
    }

    /// The live events of the party whose newest entry is at `newest` and numbered
    /// `last_seq`: at most `keep` of them, consecutive, ending at `last_seq`, oldest first.
    pub fn chain(&self, newest: u64, last_seq: u64, keep: usize) -> Vec<(u64, ServerEvent)> {
        let mut out = Vec::new();
        let (mut pos, mut seq) = (newest, last_seq);
        while out.len() < keep && pos != NONE && self.live(pos) {
            let Some(entry) = self.entries.get((pos % self.entries_cap as u64) as usize) else {
                break;
            };
            if entry.seq != seq {
                break;
            }
            let Some(event) = self.event_of(&entry.body) else {
                break;
            };
            out.push((seq, event));
            pos = entry.prev;
            seq -= 1;
        }
        out.reverse();
        out
    }

    fn live(&self, pos: u64) -> bool {
        pos < self.written && pos + self.entries_cap as u64 >= self.written
    }

    /// Rebuilds a kept event (None: its text was written over).
    fn event_of(&self, body: &Body) -> Option<ServerEvent> {
        let (kind, room, at, len) = match body {
            Body::Event(e) => return Some(ServerEvent::clone(e)),
            Body::Message {
                kind,
                room,
                at,
                len,
            } => (*kind, *room, *at, *len as usize),
        };
        if at + (self.text_cap as u64) < self.text_end {
            return None;
        }
        let off = (at % self.text_cap as u64) as usize;
        let (room, text_at) = match room {
            Room::Int(i) => (PeerId::Int(i), off),
            Room::Str(n) => {
                let s = std::str::from_utf8(self.text.get(off..off + n as usize)?).ok()?;
                (PeerId::Str(Rc::from(s)), off + n as usize)
            }
        };
        let text = std::str::from_utf8(self.text.get(text_at..text_at + len)?).ok()?;
        let message = RawValue::from_string(text.to_owned()).ok()?;
        Some(match kind {
            TextKind::AgentMessage => ServerEvent::AgentMessage {
                room,
                message,
                attachments: None,
            },
            TextKind::UserMessage => ServerEvent::UserMessage {
                room,
                message,
                attachments: None,
            },
            TextKind::Signal => ServerEvent::Signal {
                room,
                data: message,
            },
        })
    }
}

#[cfg(test)]
#[path = "sent_ring_tests.rs"]
mod tests;
