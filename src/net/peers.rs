//! The peer table: every party-carrying connection the router knows, native WebSocket or
//! Socket.IO session, under the `ConnId` the router addresses it by. It is the one place
//! the loop looks up where a router output goes, and the home for per-peer state that
//! outlives a framing detail (verified identity, rate limiter, resume state to come).
//! Invariant: a `ConnId` is in the table exactly while its carrier is open and the router
//! has not been told it is gone.
use super::ratelimit::Limiter;
use crate::routing::ConnId;
use rustc_hash::FxHashMap;

/// How a peer's events reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A native WebSocket, by connection token.
    Native(usize),
    /// An Engine.IO session, by session key.
    Session(usize),
}

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub route: Route,
    /// A token the client offered before registering (`Authorization: Bearer` on its
    /// handshake, or Socket.IO's CONNECT `auth.token`).
    pub offered_token: Option<Box<str>>,
    /// The identity it proved at registration, where proof is required.
    pub verified: Option<Verified>,
    /// Its event and toggle rates (`[limits] events_per_sec`, `toggles_per_sec`).
    pub limiter: Limiter,
    /// The `Origin` header of its handshake (entry points check it).
    pub origin: Option<std::sync::Arc<str>>,
}

/// A registration proven by a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub role: crate::auth::Role,
    /// The token's `sub`: the id registered.
    pub sub: Box<str>,
    /// When the token expires (the registration ends then unless refreshed).
    pub expires: std::time::Instant,
    /// The token's `exp` (a refresh must carry a later one).
    pub exp: u64,
}

/// Peers by router id (server-assigned keys: a fast non-keyed hash is safe).
#[derive(Debug, Default)]
pub struct Peers {
    map: FxHashMap<ConnId, Peer>,
}

impl Peers {
    /// Adds a peer reached through `route`.
    pub fn insert(&mut self, id: ConnId, route: Route) {
        self.map.insert(
            id,
            Peer {
                route,
                offered_token: None,
                verified: None,
                limiter: Limiter::default(),
                origin: None,
            },
        );
    }

    /// The peer's route, if it is still here.
    pub fn route(&self, id: ConnId) -> Option<Route> {
        self.map.get(&id).map(|p| p.route)
    }

    /// The peer, to read.
    pub fn get(&self, id: ConnId) -> Option<&Peer> {
        self.map.get(&id)
    }

    /// The peer, to read or change its identity.
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut Peer> {
        self.map.get_mut(&id)
    }

    /// Removes a peer; true if it was there (so the router is told once).
    pub fn remove(&mut self, id: ConnId) -> bool {
        self.map.remove(&id).is_some()
    }

    /// Every peer's router id.
    pub fn ids(&self) -> Vec<ConnId> {
        self.map.keys().copied().collect()
    }

    /// Native peers' tokens (for broadcasts).
    pub fn native_tokens(&self) -> impl Iterator<Item = usize> + '_ {
        self.map.values().filter_map(|p| match p.route {
            Route::Native(t) => Some(t),
            Route::Session(_) => None,
        })
    }
}
