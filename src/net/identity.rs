//! Verified identities: where `[auth]` configures keys for a role, a registration
//! (`connectAgent` / `connectUser`) must carry a JWT whose `sub` is the id it registers, and
//! the registration lasts until the token expires (or a `refreshToken` extends it). The
//! token may come in the event's `token`, in Socket.IO's CONNECT `auth.token`, or as
//! `Authorization: Bearer` on the handshake. Crypto is `crate::auth`'s; this file decides
//! when to ask and what a failure costs: an `error` event, then the connection is closed.
//! Invariant: a peer registered under a role that requires proof has `verified` set, and
//! a peer whose token has expired is closed within one loop turn of the expiry.
use super::peers::{Route, Verified};
use super::server::Server;
use super::timers::TimerKey;
use crate::auth::{self, Role};
use crate::routing::{ClientEvent, ConnId, ErrorCode, Identity, Rejection, ServerEvent, Skills};
use crate::session::CloseReason;
use log::{debug, info};
use serde_json::value::RawValue;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};
use tungstenite::protocol::frame::coding::CloseCode;

/// The client event that extends a registration with a newer token.
pub const REFRESH_TOKEN: &str = "refreshToken";

/// The longest a registration may last on one token, however far its `exp`.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// What a verified registration token gives, applied once the router accepts it.
pub(super) struct Proof {
    verified: Verified,
    name: Option<String>,
    /// A user's `priority` claim.
    priority: Option<i32>,
    /// An agent's `skills` claim (checked).
    skills: Option<Skills>,
    /// An agent's `capacity` claim (positive).
    capacity: Option<u32>,
}

/// When a token whose `exp` is `exp` (now `unix` on the wall clock) expires on the loop's
/// clock; a far-off `exp` (even u64::MAX) is capped at `MAX_TOKEN_LIFETIME`.
fn expiry(now: Instant, exp: u64, unix: u64) -> Instant {
    let left = Duration::from_secs(exp.saturating_sub(unix)).min(MAX_TOKEN_LIFETIME);
    now.checked_add(left).unwrap_or(now)
}

/// Seconds since the Unix epoch, for tokens' `exp` and `nbf`.
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A field of a JSON object event payload, as text (ids may be strings or integers).
fn field(data: Option<&RawValue>, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(data?.get()).ok()?;
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Server {
    /// Checks a registration's token where the role requires one: the proof to apply
    /// once the router has accepted the registration (`apply_proof`). On Err the caller
    /// reports the rejection and the connection is closed at the end of the turn.
    pub(super) fn authenticate(
        &mut self,
        now: Instant,
        conn: ConnId,
        event: ClientEvent,
        data: Option<&RawValue>,
    ) -> Result<Option<Proof>, Rejection> {
        let role = match event {
            ClientEvent::ConnectAgent => Role::Agent,
            ClientEvent::ConnectUser => Role::User,
            _ => return Ok(None),
        };
        if !self.keys.required(role) {
            return Ok(None);
        }
        let offered = match self.peers.route(conn) {
            Some(Route::Session(key)) => self
                .sessions
                .get(key)
                .and_then(|s| s.eio.auth_token())
                .map(Box::from),
            _ => None,
        }
        .or_else(|| {
            self.peers
                .get_mut(conn)
                .and_then(|p| p.offered_token.clone())
        });
        let token = field(data, "token").or(offered.map(String::from));
        let unix = now_unix();
        let verified = token
            .as_deref()
            .ok_or(auth::AuthError::Missing)
            .and_then(|t| self.keys.verify(role, t, unix))
            .and_then(|claims| {
                let id = field(data, "id").ok_or(auth::AuthError::Invalid("no id"))?;
                claims.require_subject(&id)?;
                // Within the leeway a token verifies; a registration still needs time left.
                match claims.exp > unix {
                    true => Ok(claims),
                    false => Err(auth::AuthError::Expired { exp: claims.exp }),
                }
            });
        let claims = match verified {
            Ok(claims) => claims,
            Err(e) => {
                debug!("{conn:?}: registration refused: {e}");
                self.refused.push(conn);
                // An expired token at registration is as good as none.
                return Err(Rejection::with(ErrorCode::Unauthorized, e.to_string()));
            }
        };
        let skills = match claims.skills.as_ref().filter(|_| role == Role::Agent) {
            None => None,
            Some(v) => Some(Skills::from_json(v).map_err(|m| {
                Rejection::with(ErrorCode::BadPayload, format!("the token's skills: {m}"))
            })?),
        };
        let priority = claims.priority.filter(|_| role == Role::User).map(|p| {
            p.clamp(
                *crate::routing::PRIORITY_RANGE.start(),
                *crate::routing::PRIORITY_RANGE.end(),
            )
        });
        Ok(Some(Proof {
            priority,
            skills,
            verified: Verified {
                role,
                sub: claims.sub.into(),
                expires: expiry(now, claims.exp, unix),
                exp: claims.exp,
            },
            // The token's display name, for an agent (users have no name to show).
            name: claims.name.filter(|_| role == Role::Agent),
            capacity: claims.capacity.filter(|_| role == Role::Agent),
        }))
    }

    /// What the loop vouches for about `conn`'s registration: its handshake's Origin and,
    /// with `proof`, its token's capacity, priority and skills (the token's skills, even
    /// none, and its capacity, even none, replace any the client sends).
    pub(super) fn identity_of(&self, conn: ConnId, proof: Option<&Proof>) -> Identity {
        let origin = self.peers.get(conn).and_then(|p| p.origin.clone());
        match proof {
            Some(p) => Identity {
                origin,
                verified: true,
                capacity: p.capacity,
                priority: p.priority,
                skills: match p.verified.role {
                    Role::Agent => Some(p.skills.clone().unwrap_or_default()),
                    Role::User => None,
                },
            },
            None => Identity {
                origin,
                ..Identity::default()
            },
        }
    }

    /// The router accepted a registration that came with `proof`: the peer is that
    /// identity until the token expires (one timer entry per peer, re-armed on refresh).
    pub(super) fn apply_proof(&mut self, conn: ConnId, proof: Proof) {
        if let Some(name) = &proof.name {
            self.router.set_agent_name(conn, name);
        }
        if let Some(peer) = self.peers.get_mut(conn) {
            let expires = proof.verified.expires;
            peer.verified = Some(proof.verified);
            self.timers.push(expires, TimerKey::Token(conn.0));
        }
    }

    /// `refreshToken {token}`: a newer token for the same identity extends the
    /// registration; a bad one is refused and changes nothing.
    pub(super) fn refresh_token(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: Option<&RawValue>,
    ) -> Result<(), Rejection> {
        let Some(current) = self.peers.get_mut(conn).and_then(|p| p.verified.clone()) else {
            // Nothing to extend: this registration needs no token (or there is none).
            return Ok(());
        };
        let token = field(data, "token")
            .ok_or_else(|| Rejection::new(ErrorCode::BadPayload, "refreshToken needs a token"))?;
        let unix = now_unix();
        let claims = self
            .keys
            .verify(current.role, &token, unix)
            .and_then(|c| c.require_subject(&current.sub).map(|()| c))
            .map_err(|e| Rejection::with(ErrorCode::Unauthorized, e.to_string()))?;
        if claims.exp <= current.exp {
            return Err(Rejection::new(
                ErrorCode::Unauthorized,
                "the token is not newer than the current one",
            ));
        }
        if let Some(v) = self.peers.get_mut(conn).and_then(|p| p.verified.as_mut()) {
            // The pending timer entry re-arms itself at the new expiry when it fires.
            v.expires = expiry(now, claims.exp, unix);
            v.exp = claims.exp;
        }
        Ok(())
    }

    /// A token timer came due: if the peer's token has expired, it hears `token_expired`
    /// and is closed.
    pub(super) fn token_timer(&mut self, now: Instant, conn: ConnId) {
        let Some(expires) = self
            .peers
            .get_mut(conn)
            .and_then(|p| p.verified.as_ref())
            .map(|v| v.expires)
        else {
            return; // gone, or no longer verified
        };
        if expires > now {
            // Refreshed meanwhile: wait for the new expiry (still one entry for this peer).
            return self.timers.push(expires, TimerKey::Token(conn.0));
        }
        info!("{conn:?}: token expired; closing");
        let rejection = Rejection::new(ErrorCode::TokenExpired, "the token has expired");
        self.metrics.rejected(rejection.code);
        self.send(conn, &ServerEvent::error(rejection, None));
        self.refused.push(conn);
    }

    /// Keeps the `Authorization: Bearer` token and the `Origin` of a peer's handshake for
    /// its registration.
    pub(super) fn offer_bearer(&mut self, id: ConnId, head: &super::http::Head) {
        let token = head.header("authorization").and_then(auth::bearer);
        let origin = head.header("origin");
        if let Some(peer) = self.peers.get_mut(id) {
            peer.offered_token = token.map(Into::into).or(peer.offered_token.take());
            peer.origin = origin.map(Into::into);
        }
    }

    /// Closes the peers refused this turn (after their error event was queued): refused
    /// or expired registrations (1008 "unauthorized"), replaced ones (1000), and those
    /// over their rate limit too long (1008 "rate limited").
    pub(super) fn close_refused(&mut self, now: Instant) {
        for conn in std::mem::take(&mut self.refused) {
            match self.peers.route(conn) {
                Some(Route::Native(token)) => {
                    self.close_ws(now, token, CloseCode::Policy, "unauthorized")
                }
                Some(Route::Session(key)) => {
                    self.close_session(now, key, CloseReason::Unauthorized)
                }
                None => {}
            }
        }
        for conn in std::mem::take(&mut self.replaced) {
            match self.peers.route(conn) {
                Some(Route::Native(token)) => {
                    self.close_ws(now, token, CloseCode::Normal, "session replaced")
                }
                Some(Route::Session(key)) => self.close_session(now, key, CloseReason::Replaced),
                None => {}
            }
        }
        for conn in std::mem::take(&mut self.rate_closed) {
            match self.peers.route(conn) {
                Some(Route::Native(token)) => {
                    self.close_ws(now, token, CloseCode::Policy, "rate limited")
                }
                Some(Route::Session(key)) => self.close_session(now, key, CloseReason::RateLimited),
                None => {}
            }
        }
    }

    /// After a reload changed the keys: a party registered without proof in a role that
    /// now requires it is refused (`unauthorized`, then closed); a proof for a role that no
    /// longer requires one is dropped (its expiry no longer ends anything).
    pub(super) fn recheck_identities(&mut self) {
        for conn in self.peers.ids() {
            let role = match self.router.role_of(conn) {
                Some(crate::routing::Role::Agent) => Role::Agent,
                Some(crate::routing::Role::User) => Role::User,
                None => continue,
            };
            let required = self.keys.required(role);
            let Some(peer) = self.peers.get_mut(conn) else {
                continue;
            };
            match (required, peer.verified.is_some()) {
                (true, false) => {
                    let rejection = Rejection::new(
                        ErrorCode::Unauthorized,
                        "authentication is now required for this role",
                    );
                    self.metrics.rejected(rejection.code);
                    self.send(conn, &ServerEvent::error(rejection, None));
                    self.refused.push(conn);
                }
                (false, true) => peer.verified = None,
                _ => {}
            }
        }
    }

    /// Keys configured at start: logs what is checked, and warns when agents are not.
    pub(super) fn log_auth(&self) {
        info!("authentication: {}", self.keys.describe());
        if let Some(warning) = auth::startup_warning(&self.config.auth) {
            log::warn!("{warning}");
        }
    }
}
