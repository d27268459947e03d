//! Per-source-address counts for `[limits] max_connections_per_ip` and
//! `max_sessions_per_ip`: open connections, and Engine.IO sessions not yet CONNECTed, by
//! client address. The client is the peer, or for a peer in `trusted_proxies` the last
//! address of its `X-Forwarded-For`; addresses in `per_ip_exempt` are never counted.
//! Invariants: an address has an entry only while its count is above zero, so the maps
//! hold at most one entry per open connection or session; a connection is counted under at
//! most one address, and released exactly once (when it is reaped), whatever the limits
//! are by then.
use super::http::Head;
use crate::config::AddressPolicy;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// What one connection is counted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Counted under this client address.
    Counted(IpAddr),
    /// From this trusted proxy: counted once a WebSocket upgrade on it names the client.
    Proxied(IpAddr),
}

/// The counts, keyed by client address (SipHash with a random key: addresses, and above
/// all forwarded ones, are chosen by clients).
#[derive(Debug, Default)]
pub struct PerIp {
    conns: HashMap<IpAddr, u32>,
    sessions: HashMap<IpAddr, u32>,
    /// Connections counted (or waiting to be), by token (server-assigned: a fast hash).
    by_token: FxHashMap<usize, Source>,
}

/// What the per-address connection limit says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Let in (and counted if it has to be).
    Yes,
    /// Its address already has `limit` connections: refuse it.
    Over(IpAddr),
}

/// An address as compared and counted: IPv4-mapped IPv6 addresses as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The client address a request names for a peer: the last address of its last
/// `X-Forwarded-For` field if the peer is a trusted proxy and that address parses, else
/// the peer's own.
pub fn client_of(policy: &AddressPolicy, peer: IpAddr, head: &Head) -> IpAddr {
    let peer = canonical(peer);
    if !is_listed(&policy.trusted_proxies, peer) {
        return peer;
    }
    forwarded_for(head).unwrap_or(peer)
}

/// The last address of the last `X-Forwarded-For` field (bare, `[v6]`, or with a port).
pub fn forwarded_for(head: &Head) -> Option<IpAddr> {
    let (_, value) = head
        .headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))?;
    let value = std::str::from_utf8(value).ok()?;
    let last = value.rsplit(',').next()?.trim();
    let ip = last
        .parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            last.strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
        })?;
    Some(canonical(ip))
}

/// Whether `ip` is in `list` (both compared canonically).
fn is_listed(list: &[IpAddr], ip: IpAddr) -> bool {
    list.iter().any(|a| canonical(*a) == ip)
}

/// Adds one to `ip`'s count in `map`.
fn add(map: &mut HashMap<IpAddr, u32>, ip: IpAddr) {
    let n = map.entry(ip).or_insert(0);
    *n = n.saturating_add(1);
}

/// Takes one from `ip`'s count in `map`, dropping the entry at zero.
fn sub(map: &mut HashMap<IpAddr, u32>, ip: IpAddr) {
    if let Some(n) = map.get_mut(&ip) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&ip);
        }
    }
}

impl PerIp {
    /// A new connection `token` from `peer`, with `limit` connections per address (0 =
    /// off, and then nothing is counted). A trusted proxy's connection waits for a
    /// WebSocket upgrade (`head_read`).
    pub fn accepted(
        &mut self,
        policy: &AddressPolicy,
        limit: usize,
        token: usize,
        peer: IpAddr,
    ) -> Admit {
        if limit == 0 {
            return Admit::Yes;
        }
        let peer = canonical(peer);
        if is_listed(&policy.trusted_proxies, peer) {
            self.by_token.insert(token, Source::Proxied(peer));
            return Admit::Yes;
        }
        self.count_conn(policy, limit, token, peer)
    }

    /// A request head on connection `token`: a trusted proxy's connection is counted under
    /// the client it names when it is a WebSocket upgrade, which gives the connection to
    /// that client for good. Plain requests (polling) leave it uncounted: a proxy pools
    /// its connections and sends any client's requests down any of them, so a pooled
    /// connection belongs to no client (polling clients are bounded by
    /// `max_sessions_per_ip`).
    pub fn head_read(
        &mut self,
        policy: &AddressPolicy,
        limit: usize,
        token: usize,
        head: &Head,
    ) -> Admit {
        let Some(Source::Proxied(proxy)) = self.by_token.get(&token).copied() else {
            return Admit::Yes;
        };
        if head.websocket_key().is_none() {
            return Admit::Yes;
        }
        self.by_token.remove(&token);
        if limit == 0 {
            return Admit::Yes;
        }
        let client = forwarded_for(head).unwrap_or(proxy);
        self.count_conn(policy, limit, token, client)
    }

    /// Counts `token` under `client` unless exempt or over `limit`.
    fn count_conn(
        &mut self,
        policy: &AddressPolicy,
        limit: usize,
        token: usize,
        client: IpAddr,
    ) -> Admit {
        if is_listed(&policy.exempt, client) {
            return Admit::Yes;
        }
        if self
            .conns
            .get(&client)
            .is_some_and(|&n| n as usize >= limit)
        {
            return Admit::Over(client);
        }
        add(&mut self.conns, client);
        self.by_token.insert(token, Source::Counted(client));
        Admit::Yes
    }

    /// Connection `token` is gone (reaped, or refused after it was counted).
    pub fn closed(&mut self, token: usize) {
        if self.by_token.is_empty() {
            return;
        }
        if let Some(Source::Counted(ip)) = self.by_token.remove(&token) {
            sub(&mut self.conns, ip);
        }
    }

    /// Whether an Engine.IO handshake from `client` may open a session under
    /// `max_sessions_per_ip` = `limit`: Ok(None) if it is not counted (limit off, exempt),
    /// Ok(Some(ip)) to count it under `ip` once opened (`session_opened`), Err(ip) if that
    /// address already has `limit` sessions not yet CONNECTed.
    pub fn session_admits(
        &self,
        policy: &AddressPolicy,
        limit: usize,
        client: IpAddr,
    ) -> Result<Option<IpAddr>, IpAddr> {
        let client = canonical(client);
        if limit == 0 || is_listed(&policy.exempt, client) {
            return Ok(None);
        }
        if self
            .sessions
            .get(&client)
            .is_some_and(|&n| n as usize >= limit)
        {
            return Err(client);
        }
        Ok(Some(client))
    }

    /// A session admitted under `ip` is open (and not CONNECTed yet).
    pub fn session_opened(&mut self, ip: IpAddr) {
        add(&mut self.sessions, ip);
    }

    /// A session counted under `ip` has CONNECTed or closed.
    pub fn session_done(&mut self, ip: IpAddr) {
        sub(&mut self.sessions, ip);
    }

    /// Open connections counted under `ip`.
    #[cfg(test)]
    pub fn connections(&self, ip: IpAddr) -> u32 {
        self.conns.get(&canonical(ip)).copied().unwrap_or(0)
    }

    /// Sessions not yet CONNECTed counted under `ip`.
    #[cfg(test)]
    pub fn sessions(&self, ip: IpAddr) -> u32 {
        self.sessions.get(&canonical(ip)).copied().unwrap_or(0)
    }

    /// Entries held (at most one per connection and one per session).
    #[cfg(test)]
    pub fn entries(&self) -> usize {
        self.conns.len() + self.sessions.len() + self.by_token.len()
    }
}

#[cfg(test)]
#[path = "per_ip_tests.rs"]
mod tests;
