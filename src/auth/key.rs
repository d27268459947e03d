//! One verification key and the only algorithm it accepts: the leaf that the key-file
//! readers (`keys` for secret files, `jwks` for key sets) both build.
use jsonwebtoken::{Algorithm, DecodingKey};

/// Shortest HS256 secret accepted, in bytes (RFC 7518 section 3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// One verification key and the only algorithm it accepts.
#[derive(Debug, Clone)]
pub(super) struct Key {
    pub(super) kid: Option<String>,
    pub(super) alg: Algorithm,
    pub(super) key: DecodingKey,
}

impl Key {
    pub(super) fn new(kid: Option<String>, alg: Algorithm, key: DecodingKey) -> Key {
        Key { kid, alg, key }
    }

    /// The only algorithm this key accepts.
    #[cfg(test)]
    pub(super) fn alg(&self) -> Algorithm {
        self.alg
    }
}
