//! The Engine.IO sessions the loop carries: each sans-IO `EioSession` beside the sockets
//! that carry it now (a held GET, a carrier WebSocket, a probing WebSocket), looked up by
//! key or by sid. Invariant: a session's key is also its router `ConnId`, never a socket's
//! token; a socket belongs to at most one session, in at most one of those roles.
use crate::metrics::Transport as MetricTransport;
use crate::session::{EioSession, Transport};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::time::Instant;

/// One session and its sockets.
pub struct Slot {
    pub eio: EioSession,
    /// The carrier WebSocket's token, once the session runs over one.
    pub ws: Option<usize>,
    /// The held GET's token.
    pub held: Option<usize>,
    /// The probing WebSocket's token.
    pub probe: Option<usize>,
    /// The deadline entered in the timer heap for it.
    pub timer_at: Option<Instant>,
    /// Listed in `Sessions::ready` (a held GET to answer at the end of the turn).
    pub listed: bool,
    /// The connection whose POST body is being read for it, if any.
    pub post: Option<usize>,
    /// Counted against `max_sessions_per_ip` under this address until it CONNECTs.
    pub unconnected_from: Option<std::net::IpAddr>,
}

impl Slot {
    /// The transport it is counted under in `support_open_connections`.
    pub fn metric_transport(&self) -> MetricTransport {
        match self.eio.transport() {
            Transport::Polling => MetricTransport::Polling,
            Transport::WebSocket => MetricTransport::WebSocket,
        }
    }
}

/// Every session, by key and by sid.
#[derive(Default)]
pub struct Sessions {
    slots: FxHashMap<usize, Slot>,
    by_sid: HashMap<Box<str>, usize>,
    /// Sessions with a held GET and packets queued this turn.
    pub ready: Vec<usize>,
}

impl Sessions {
    /// Adds a session under `key`.
    pub fn insert(&mut self, key: usize, eio: EioSession) -> &mut Slot {
        self.by_sid.insert(eio.sid().into(), key);
        self.slots.entry(key).or_insert(Slot {
            eio,
            ws: None,
            held: None,
            probe: None,
            timer_at: None,
            listed: false,
            post: None,
            unconnected_from: None,
        })
    }

    /// The key of the session with this sid.
    pub fn key_of(&self, sid: &str) -> Option<usize> {
        self.by_sid.get(sid).copied()
    }

    /// The session under `key`.
    pub fn get(&self, key: usize) -> Option<&Slot> {
        self.slots.get(&key)
    }

    /// The session under `key`, to change.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut Slot> {
        self.slots.get_mut(&key)
    }

    /// Removes a session.
    pub fn remove(&mut self, key: usize) -> Option<Slot> {
        let slot = self.slots.remove(&key)?;
        self.by_sid.remove(slot.eio.sid());
        Some(slot)
    }

    /// Every session's key.
    pub fn keys(&self) -> Vec<usize> {
        self.slots.keys().copied().collect()
    }

    /// Keys of sessions CONNECTed to "/" (they hear broadcasts).
    pub fn connected(&self) -> Vec<usize> {
        self.slots
            .iter()
            .filter(|(_, s)| s.eio.is_connected())
            .map(|(k, _)| *k)
            .collect()
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Session ids: 128 bits each from the OS generator, read 4 KiB at a time (one syscall per
/// 256 ids instead of one per id). Invariant: no byte of the pool is handed out twice.
pub struct SidSource {
    pool: Box<[u8; SID_POOL_BYTES]>,
    used: usize,
}

/// Bytes of OS randomness fetched at once.
const SID_POOL_BYTES: usize = 4096;
/// Bytes per session id (hex-encoded to twice as many characters).
const SID_BYTES: usize = 16;

impl SidSource {
    /// An empty pool, filled on first use.
    pub fn new() -> SidSource {
        SidSource {
            pool: Box::new([0; SID_POOL_BYTES]),
            used: SID_POOL_BYTES,
        }
    }

    /// A fresh unguessable session id, hex.
    pub fn next(&mut self) -> Box<str> {
        if self.used + SID_BYTES > SID_POOL_BYTES {
            if getrandom::fill(&mut self.pool[..]).is_err() {
                // The OS generator does not fail on Linux after boot; never hand out a weak id.
                log::error!("OS random generator failed");
                std::process::abort();
            }
            self.used = 0;
        }
        let bytes = &self.pool[self.used..self.used + SID_BYTES];
        self.used += SID_BYTES;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(2 * SID_BYTES);
        for b in bytes {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        out.into()
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
