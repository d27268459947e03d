//! Verified identity: the keys that agents' and users' tokens (JWTs) must be signed with,
//! and the check of one token. Sans-IO apart from reading the key files in
//! [`Keys::load`]: the clock comes in as a parameter (`now_unix`), so the loop decides when
//! it is, and the tests are deterministic.
//!
//! The loop loads [`Keys`] at start (and again on SIGHUP, keeping the old keys if that
//! fails: [`Keys::reload`]), then calls [`Keys::check`] with the token a registration
//! carried, if any, before handing the registration to the router. Signatures are checked
//! by the `jsonwebtoken` crate; the algorithm is pinned by the key, never taken from the
//! token.
//!
//! Layout: `keys` (the key sets and the verification), `jwks` (reading a JSON Web Key Set
//! file), `claims` (what a verified token says), `error` (why a key file or a token was
//! refused, and the wire code that goes with it).
mod claims;
mod error;
mod jwks;
mod key;
mod keys;

pub use claims::Claims;
pub use error::AuthError;
pub use key::MIN_SECRET_BYTES;
pub use keys::{Keys, MAX_TOKEN_BYTES};

use crate::config::AuthSettings;

/// Who presents a token: each role has its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Agent,
    User,
}

impl Role {
    /// The plural used in messages: "agents", "users".
    pub fn plural(self) -> &'static str {
        match self {
            Role::Agent => "agents",
            Role::User => "users",
        }
    }
}

/// The token in an `Authorization` header value of the form `Bearer <token>` (the scheme
/// in any case, surrounding spaces ignored); `None` for another scheme or an empty token.
pub fn bearer(header_value: &str) -> Option<&str> {
    let value = header_value.trim();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with([' ', '\t']) {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty() && !token.contains([' ', '\t'])).then_some(token)
}

/// The warning to log at start when agents are not authenticated (no agent key file is
/// configured), or `None` when they are.
pub fn startup_warning(settings: &AuthSettings) -> Option<String> {
    if settings.agent_secret_file.is_some() || settings.agent_jwks_file.is_some() {
        return None;
    }
    Some(
        "agents are not authenticated: no [auth] agent_secret_file or agent_jwks_file is \
         configured, so any client can register as any agent id and receive visitors' calls \
         and messages"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests;
