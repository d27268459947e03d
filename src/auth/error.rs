//! Why a key file or a token was refused. No message ever contains the token or any part
//! of it (nor a key): reasons are fixed texts, and `jsonwebtoken`'s own errors are mapped
//! to them rather than shown.
use super::Role;
use std::fmt;
use std::path::PathBuf;

/// A key file that could not be used, or a token that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// A key file is unreadable or invalid (at load or reload); names the file.
    KeyFile { path: PathBuf, reason: String },
    /// The role has no key configured, so no token of it can be verified.
    NotConfigured(Role),
    /// A token is required and none was given.
    Missing,
    /// The token is refused: malformed, wrong signature, algorithm or key, wrong audience,
    /// issuer or subject, not yet valid.
    Invalid(&'static str),
    /// The token is valid but its `exp` (plus the leeway) has passed.
    Expired { exp: u64 },
}

impl AuthError {
    /// The code sent to the client in `error {code}`: `token_expired` for a valid token
    /// whose `exp` passed, `unauthorized` for every other failure.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Expired { .. } => "token_expired",
            _ => "unauthorized",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::KeyFile { path, reason } => write!(f, "{}: {reason}", path.display()),
            AuthError::NotConfigured(role) => {
                write!(f, "no key is configured for {}", role.plural())
            }
            AuthError::Missing => f.write_str("a token is required and none was given"),
            AuthError::Invalid(reason) => write!(f, "token refused: {reason}"),
            AuthError::Expired { exp } => write!(f, "token expired (exp {exp})"),
        }
    }
}

impl std::error::Error for AuthError {}

/// The fixed reason for a `jsonwebtoken` failure while decoding a token.
pub(super) fn reason_of(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => "the signature does not verify",
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
            "the algorithm is not the key's"
        }
        K::InvalidAudience => "wrong audience",
        K::InvalidIssuer => "wrong issuer",
        K::InvalidSubject => "wrong subject",
        K::MissingRequiredClaim(c) => match c.as_str() {
            "exp" => "no exp claim",
            "sub" => "no sub claim",
            "aud" => "no aud claim",
            "iss" => "no iss claim",
            _ => "a required claim is missing",
        },
        K::InvalidClaimFormat(_) | K::Json(_) => "the claims are not of the expected form",
        K::InvalidEddsaKey | K::InvalidRsaKey(_) | K::InvalidEcdsaKey | K::InvalidKeyFormat => {
            "the key cannot verify this token"
        }
        _ => "not a well-formed token",
    }
}
