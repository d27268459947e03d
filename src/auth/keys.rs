//! The verification keys of both roles, and the check of one token.
use super::claims::RawClaims;
use super::error::reason_of;
use super::key::{Key, MIN_SECRET_BYTES};
use super::{jwks, AuthError, Claims, Role};
use crate::config::AuthSettings;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::path::Path;

/// Longest token looked at, in bytes; a longer one is refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The keys tokens are verified with, per role, and what a token must say. Load it with
/// [`Keys::load`]; replace it on reload with [`Keys::reload`], which keeps the current keys
/// when the new files cannot be used. `Keys::default()` has no keys: nobody is
/// authenticated.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    agent: Vec<Key>,
    user: Vec<Key>,
    audience: Option<String>,
    issuer: Option<String>,
    leeway_secs: u64,
}

impl Keys {
    /// Reads the key files `settings` names. Any file that cannot be read or used (a secret
    /// shorter than [`MIN_SECRET_BYTES`], a JWKS that does not parse, a key of an
    /// unsupported kind, several keys without `kid`) is an error naming the file.
    pub fn load(settings: &AuthSettings) -> Result<Keys, AuthError> {
        let role = |secret: &Option<std::path::PathBuf>,
                    jwks_file: &Option<std::path::PathBuf>|
         -> Result<Vec<Key>, AuthError> {
            let mut keys = Vec::new();
            if let Some(path) = secret {
                keys.push(load_secret(path)?);
            }
            if let Some(path) = jwks_file {
                keys.extend(load_jwks(path)?);
            }
            Ok(keys)
        };
        Ok(Keys {
            agent: role(&settings.agent_secret_file, &settings.agent_jwks_file)?,
            user: role(&settings.user_secret_file, &settings.user_jwks_file)?,
            audience: settings.audience.clone(),
            issuer: settings.issuer.clone(),
            leeway_secs: settings.leeway.as_secs(),
        })
    }

    /// Loads the keys `settings` names and, only if that succeeds, replaces these with them;
    /// on an error the current keys stay in force.
    pub fn reload(&mut self, settings: &AuthSettings) -> Result<(), AuthError> {
        *self = Keys::load(settings)?;
        Ok(())
    }

    /// Whether tokens of `role` are checked (a key is configured for it).
    pub fn required(&self, role: Role) -> bool {
        !self.keys(role).is_empty()
    }

    /// How many keys `role` has.
    pub fn key_count(&self, role: Role) -> usize {
        self.keys(role).len()
    }

    /// What a registration of `role` carrying `token` (if any) proves: `Ok(None)` when the
    /// role is not authenticated (the token, if any, is not looked at), `Ok(Some(claims))`
    /// for a verified token, otherwise why not ([`AuthError::Missing`] for no token).
    pub fn check(
        &self,
        role: Role,
        token: Option<&str>,
        now_unix: u64,
    ) -> Result<Option<Claims>, AuthError> {
        if !self.required(role) {
            return Ok(None);
        }
        self.verify(role, token.ok_or(AuthError::Missing)?, now_unix)
            .map(Some)
    }

    /// Verifies `token` for `role` at `now_unix` (seconds): the key is chosen by the token's
    /// `kid` (or is the only one), its algorithm must be the key's, the signature must
    /// verify, `exp` must be present and not passed, `nbf` (if present) reached, both with
    /// the leeway, and `aud` / `iss` must match when configured.
    pub fn verify(&self, role: Role, token: &str, now_unix: u64) -> Result<Claims, AuthError> {
        let keys = self.keys(role);
        if keys.is_empty() {
            return Err(AuthError::NotConfigured(role));
        }
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid("the token is too long"));
        }
        // Unverified: only to pick the key; the algorithm must still be the key's.
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            AuthError::Invalid("not a well-formed token (or an algorithm that is not accepted)")
        })?;
        let by_kid: Vec<&Key> = match header.kid.as_deref() {
            Some(kid) => {
                let named: Vec<&Key> = keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if named.is_empty() {
                    keys.iter().filter(|k| k.kid.is_none()).collect()
                } else {
                    named
                }
            }
            None if keys.len() == 1 => keys.iter().collect(),
            None => keys.iter().filter(|k| k.kid.is_none()).collect(),
        };
        if by_kid.is_empty() {
            return Err(AuthError::Invalid(match header.kid {
                Some(_) => "no key has the token's kid",
                None => "the token has no kid and there are several keys",
            }));
        }
        let mut result = Err(AuthError::Invalid("the algorithm is not the key's"));
        for key in by_kid.into_iter().filter(|k| k.alg == header.alg) {
            match jsonwebtoken::decode::<RawClaims>(token, &key.key, &self.validation(key.alg)) {
                Ok(data) => {
                    result = Ok(data.claims);
                    break;
                }
                // Another key without kid (the secret file and a single-key set) may fit.
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                    result = Err(AuthError::Invalid(reason_of(&e)));
                }
                Err(e) => return Err(AuthError::Invalid(reason_of(&e))),
            }
        }
        let raw = result?;
        let leeway = self.leeway_secs;
        if raw
            .nbf
            .is_some_and(|nbf| now_unix.saturating_add(leeway) < nbf)
        {
            return Err(AuthError::Invalid("the token is not yet valid (nbf)"));
        }
        if now_unix >= raw.exp().saturating_add(leeway) {
            return Err(AuthError::Expired { exp: raw.exp() });
        }
        raw.into_claims()
    }

    /// One line for the log saying what each role is checked with, e.g. "agents: 3 keys
    /// (secret file, kid ed-1, kid ed-2); users: not authenticated". Names no key material.
    pub fn describe(&self) -> String {
        let role = |role: Role| {
            let keys = self.keys(role);
            if keys.is_empty() {
                return format!("{}: not authenticated", role.plural());
            }
            let names: Vec<String> = keys
                .iter()
                .map(|k| match &k.kid {
                    Some(kid) => format!("kid {kid}"),
                    None if k.alg == Algorithm::HS256 => "secret".to_owned(),
                    None => format!("{:?} key", k.alg),
                })
                .collect();
            let n = keys.len();
            let plural = if n == 1 { "" } else { "s" };
            format!("{}: {n} key{plural} ({})", role.plural(), names.join(", "))
        };
        format!("{}; {}", role(Role::Agent), role(Role::User))
    }

    fn keys(&self, role: Role) -> &[Key] {
        match role {
            Role::Agent => &self.agent,
            Role::User => &self.user,
        }
    }

    /// The library's checks for a key of `alg`: the signature, the claims' presence and
    /// form, `aud` and `iss`. Time is checked by [`Keys::verify`] against its `now_unix`,
    /// so the library's own clock is not used.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.leeway = 0;
        let mut required = vec!["exp", "sub"];
        match &self.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        v
    }
}

/// The HS256 secret in `path`: its bytes less one trailing newline (`\n` or `\r\n`).
fn load_secret(path: &Path) -> Result<Key, AuthError> {
    let bad = |reason: String| AuthError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let secret = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(&bytes);
    if secret.len() < MIN_SECRET_BYTES {
        return Err(bad(format!(
            "the secret has {} bytes; at least {MIN_SECRET_BYTES} are required",
            secret.len()
        )));
    }
    let key = DecodingKey::from_secret(secret).map_err(|_| bad("the secret is empty".into()))?;
    Ok(Key::new(None, Algorithm::HS256, key))
}

/// The keys of the JSON Web Key Set in `path`.
fn load_jwks(path: &Path) -> Result<Vec<Key>, AuthError> {
    let bad = |reason: String| AuthError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    jwks::parse(&text).map_err(bad)
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
