//! What a verified token says about who presents it.
use super::AuthError;
use serde::Deserialize;

/// The claims of a verified token. Unknown claims are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The agent or user id the token is for (must equal the id registered).
    pub sub: String,
    /// When the token, and so the registration, ends (Unix seconds).
    pub exp: u64,
    /// Display name (shown to the user as `agentName`).
    pub name: Option<String>,
    /// Chats the agent may hold at once (positive; lowered to `[routing] max_capacity`).
    pub capacity: Option<u32>,
    /// An agent's skills, as the token spells them (`{"billing": 4}` or `["billing"]`);
    /// checked where they are used (`routing::Skills::from_json`).
    pub skills: Option<serde_json::Value>,
    /// A user's queue priority (higher goes first).
    pub priority: Option<i32>,
}

impl Claims {
    /// Refuses a token issued for another id than the one being registered.
    pub fn require_subject(&self, id: &str) -> Result<(), AuthError> {
        if self.sub == id {
            Ok(())
        } else {
            Err(AuthError::Invalid("the token is for another id"))
        }
    }
}

/// The payload as decoded, with the claims checked here rather than kept.
#[derive(Debug, Deserialize)]
pub(super) struct RawClaims {
    sub: String,
    exp: u64,
    #[serde(default)]
    pub(super) nbf: Option<u64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    capacity: Option<u32>,
    #[serde(default)]
    skills: Option<serde_json::Value>,
    #[serde(default)]
    priority: Option<i32>,
}

impl RawClaims {
    pub(super) fn exp(&self) -> u64 {
        self.exp
    }

    pub(super) fn into_claims(self) -> Result<Claims, AuthError> {
        if self.sub.is_empty() {
            return Err(AuthError::Invalid("the sub claim is empty"));
        }
        if self.capacity == Some(0) {
            return Err(AuthError::Invalid(
                "the capacity claim must be a positive integer",
            ));
        }
        Ok(Claims {
            sub: self.sub,
            exp: self.exp,
            name: self.name,
            capacity: self.capacity,
            skills: self.skills,
            priority: self.priority,
        })
    }
}
