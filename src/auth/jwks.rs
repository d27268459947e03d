//! Reading a JSON Web Key Set (RFC 7517) into verification keys. Each key pins its
//! algorithm: an Ed25519 `OKP` key EdDSA, an `RSA` key RS256 (or RS384 / RS512 by its
//! `alg`), an `oct` secret HS256. Keys marked `"use": "enc"` are skipped; any other kind of
//! key, or a key that cannot be used, refuses the whole set.
use super::key::{Key, MIN_SECRET_BYTES};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashSet;

/// Smallest RSA modulus accepted (RFC 7518 section 3.3).
pub(super) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus and public exponent the verifier (the `rsa` crate) accepts.
const MAX_RSA_BITS: usize = 8192;
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// base64url, with or without padding (RFC 7515 says without; some tools add it).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    n: Option<String>,
    e: Option<String>,
    k: Option<String>,
}

/// The signature keys of a JWKS document, or the reason it is refused (naming the key by
/// its `kid` or position; never quoting key material).
pub(super) fn parse(text: &str) -> Result<Vec<Key>, String> {
    let set: RawSet = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a JSON Web Key Set ({} at line {} column {})",
            match e.classify() {
                serde_json::error::Category::Data => "wrong structure",
                serde_json::error::Category::Eof => "unexpected end",
                _ => "bad JSON",
            },
            e.line(),
            e.column()
        )
    })?;
    let mut keys = Vec::new();
    for (i, raw) in set.keys.iter().enumerate() {
        if raw.use_.as_deref() == Some("enc") {
            continue;
        }
        let name = match &raw.kid {
            Some(kid) => format!("key {kid:?}"),
            None => format!("key #{}", i + 1),
        };
        let key = parse_key(raw).map_err(|reason| format!("{name}: {reason}"))?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err("the key set has no signature key".into());
    }
    if keys.len() > 1 {
        let mut seen = HashSet::new();
        for (i, key) in keys.iter().enumerate() {
            match &key.kid {
                None => {
                    return Err(format!(
                        "key #{}: has no \"kid\" (required when the set has several keys)",
                        i + 1
                    ))
                }
                Some(kid) if !seen.insert(kid.as_str()) => {
                    return Err(format!("key {kid:?}: the \"kid\" is used twice"));
                }
                Some(_) => {}
            }
        }
    }
    Ok(keys)
}

fn parse_key(raw: &RawKey) -> Result<Key, String> {
    let field = |name: &str, v: &Option<String>| -> Result<Vec<u8>, String> {
        let s = v.as_deref().ok_or_else(|| format!("has no \"{name}\""))?;
        B64URL
            .decode(s)
            .map_err(|_| format!("\"{name}\" is not base64url"))
    };
    let alg = raw.alg.as_deref();
    let (alg, key) = match raw.kty.as_deref() {
        Some("OKP") => {
            if raw.crv.as_deref() != Some("Ed25519") {
                return Err("an OKP key must have \"crv\": \"Ed25519\"".into());
            }
            if !matches!(alg, None | Some("EdDSA")) {
                return Err("an Ed25519 key's \"alg\" must be EdDSA".into());
            }
            let x = field("x", &raw.x)?;
            if x.len() != 32 {
                return Err("\"x\" is not a 32-byte Ed25519 public key".into());
            }
            let key = DecodingKey::from_ed_der(&x);
            // Building the verifier checks that x is a point on the curve; the signature is
            // a dummy, so the verification itself only fails.
            let dummy = URL_SAFE_NO_PAD.encode([0u8; 64]);
            if jsonwebtoken::crypto::verify(&dummy, b"", &key, Algorithm::EdDSA).is_err() {
                return Err("\"x\" is not a valid Ed25519 public key".into());
            }
            (Algorithm::EdDSA, key)
        }
        Some("RSA") => {
            let alg = match alg {
                None | Some("RS256") => Algorithm::RS256,
                Some("RS384") => Algorithm::RS384,
                Some("RS512") => Algorithm::RS512,
                Some(_) => return Err("an RSA key's \"alg\" must be RS256, RS384 or RS512".into()),
            };
            let n = field("n", &raw.n)?;
            let e = field("e", &raw.e)?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            let bits = match n.first() {
                Some(top) => n.len() * 8 - top.leading_zeros() as usize,
                None => 0,
            };
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(format!(
                    "the RSA modulus has {bits} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted"
                ));
            }
            let exponent = if e.len() <= 8 {
                e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
            } else {
                u64::MAX
            };
            if !(3..=MAX_RSA_EXPONENT).contains(&exponent) || exponent % 2 == 0 {
                return Err("\"e\" is not a valid RSA public exponent".into());
            }
            (alg, DecodingKey::from_rsa_raw_components(n, e))
        }
        Some("oct") => {
            if !matches!(alg, None | Some("HS256")) {
                return Err("an oct key's \"alg\" must be HS256".into());
            }
            let k = field("k", &raw.k)?;
            if k.len() < MIN_SECRET_BYTES {
                return Err(format!(
                    "the secret has {} bytes; at least {MIN_SECRET_BYTES} are required",
                    k.len()
                ));
            }
            let key = DecodingKey::from_secret(&k).map_err(|_| "the secret is empty")?;
            (Algorithm::HS256, key)
        }
        Some(other) => {
            return Err(format!(
                "key type {other:?} is not supported (OKP Ed25519, RSA or oct)"
            ))
        }
        None => return Err("has no \"kty\"".into()),
    };
    Ok(Key::new(raw.kid.clone(), alg, key))
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
