//! Unit tests for `keys`: loading key files and verifying tokens. The keys are the test-only
//! fixtures in tests/fixtures/auth/ (see its README); tokens are made here with
//! jsonwebtoken's `encode`, at a fixed `NOW`.
use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

const NOW: u64 = 1_800_000_000;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-agents";
const JWKS: &str = include_str!("../../tests/fixtures/auth/jwks.json");
const ED1: &[u8] = include_bytes!("../../tests/fixtures/auth/ed1.pem");
const ED2: &[u8] = include_bytes!("../../tests/fixtures/auth/ed2.pem");
const RSA1: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa1.pem");
const RSA1_PUB: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa1.pub.pem");

/// A fresh directory under the system temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("supportd-auth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fixture set with only the keys whose kid is listed, as JSON text.
fn jwks_with(kids: &[&str]) -> String {
    let mut set: Value = serde_json::from_str(JWKS).unwrap();
    let keys = set["keys"].as_array_mut().unwrap();
    keys.retain(|k| kids.contains(&k["kid"].as_str().unwrap()));
    assert_eq!(keys.len(), kids.len());
    set.to_string()
}

/// The fixture's oct secret (kid "oct-1").
fn oct_secret() -> Vec<u8> {
    let set: Value = serde_json::from_str(JWKS).unwrap();
    let k = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "oct-1")
        .unwrap()["k"]
        .as_str()
        .unwrap()
        .to_owned();
    URL_SAFE_NO_PAD.decode(k).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": NOW + 600, "iat": NOW})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(secret).unwrap(),
        claims,
    )
}

fn ed(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    sign(
        Algorithm::EdDSA,
        kid,
        &EncodingKey::from_ed_pem(pem).unwrap(),
        claims,
    )
}

fn rsa(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    sign(alg, kid, &EncodingKey::from_rsa_pem(RSA1).unwrap(), claims)
}

/// Keys for agents from a secret file holding `SECRET` plus a newline.
fn secret_keys(dir: &Dir) -> (AuthSettings, Keys) {
    let mut secret = SECRET.to_vec();
    secret.push(b'\n');
    let settings = AuthSettings {
        agent_secret_file: Some(dir.file("agent.secret", secret)),
        ..AuthSettings::default()
    };
    let keys = Keys::load(&settings).unwrap();
    (settings, keys)
}

/// Keys for agents from a JWKS file with the listed fixture keys.
fn jwks_keys(dir: &Dir, kids: &[&str]) -> Keys {
    let settings = AuthSettings {
        agent_jwks_file: Some(dir.file("agents.jwks", jwks_with(kids))),
        ..AuthSettings::default()
    };
    Keys::load(&settings).unwrap()
}

fn refused(r: Result<Claims, AuthError>) -> AuthError {
    let e = r.expect_err("the token must be refused");
    assert_eq!(e.code(), "unauthorized", "{e}");
    e
}

#[test]
fn accepts_an_hs256_token_with_the_secret_file() {
    let dir = Dir::new("hs256");
    let (_, keys) = secret_keys(&dir);
    assert!(keys.required(Role::Agent));
    let c = keys
        .verify(Role::Agent, &hs256(SECRET, &claims("a1")), NOW)
        .unwrap();
    assert_eq!(c.sub, "a1");
    assert_eq!(c.exp, NOW + 600);
}

#[test]
fn the_secret_file_loses_one_trailing_newline_only() {
    let dir = Dir::new("newline");
    let (_, keys) = secret_keys(&dir);
    let mut with_newline = SECRET.to_vec();
    with_newline.push(b'\n');
    refused(keys.verify(Role::Agent, &hs256(&with_newline, &claims("a1")), NOW));

    // CRLF too; a second newline is part of the secret.
    let mut crlf = SECRET.to_vec();
    crlf.extend_from_slice(b"\r\n");
    let s = AuthSettings {
        agent_secret_file: Some(dir.file("crlf.secret", &crlf)),
        ..AuthSettings::default()
    };
    let keys = Keys::load(&s).unwrap();
    assert!(keys
        .verify(Role::Agent, &hs256(SECRET, &claims("a1")), NOW)
        .is_ok());
    let s = AuthSettings {
        agent_secret_file: Some(dir.file("two.secret", [&with_newline[..], b"\n"].concat())),
        ..AuthSettings::default()
    };
    let keys = Keys::load(&s).unwrap();
    assert!(keys
        .verify(Role::Agent, &hs256(&with_newline, &claims("a1")), NOW)
        .is_ok());
}

#[test]
fn a_short_secret_file_is_refused_naming_the_file() {
    let dir = Dir::new("short");
    let path = dir.file("agent.secret", b"0123456789abcdef0123456789abcde\n");
    let s = AuthSettings {
        agent_secret_file: Some(path.clone()),
        ..AuthSettings::default()
    };
    let e = Keys::load(&s).unwrap_err();
    assert!(
        matches!(&e, AuthError::KeyFile { path: p, .. } if *p == path),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
    assert!(e.to_string().contains("31 bytes"), "{e}");
    // Exactly 32 is enough.
    let s = AuthSettings {
        user_secret_file: Some(dir.file("user.secret", b"0123456789abcdef0123456789abcdef")),
        ..AuthSettings::default()
    };
    assert!(Keys::load(&s).unwrap().required(Role::User));
}

#[test]
fn an_unreadable_key_file_is_an_error_naming_it() {
    let dir = Dir::new("missing");
    for s in [
        AuthSettings {
            agent_secret_file: Some(dir.0.join("nope.secret")),
            ..AuthSettings::default()
        },
        AuthSettings {
            user_jwks_file: Some(dir.0.join("nope.jwks")),
            ..AuthSettings::default()
        },
    ] {
        let e = Keys::load(&s).unwrap_err();
        assert!(e.to_string().contains("nope."), "{e}");
        assert!(matches!(e, AuthError::KeyFile { .. }));
    }
}

#[test]
fn a_bad_jwks_file_is_an_error_naming_it() {
    let dir = Dir::new("badjwks");
    for (name, text) in [
        ("garbage.jwks", "not json"),
        ("nokeys.jwks", "{\"keys\": []}"),
        (
            "nokid.jwks",
            &jwks_with(&["ed-1", "rsa-1"]).replace("\"kid\":\"rsa-1\",", ""),
        ),
    ] {
        let path = dir.file(name, text);
        let s = AuthSettings {
            agent_jwks_file: Some(path.clone()),
            ..AuthSettings::default()
        };
        let e = Keys::load(&s).unwrap_err();
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
    }
}

#[test]
fn accepts_jwks_ed25519_rsa_and_oct_tokens_by_kid() {
    let dir = Dir::new("jwks");
    let keys = jwks_keys(&dir, &["ed-1", "ed-2", "rsa-1", "oct-1"]);
    assert_eq!(keys.key_count(Role::Agent), 4);
    let oct = sign(
        Algorithm::HS256,
        Some("oct-1"),
        &EncodingKey::from_secret(&oct_secret()).unwrap(),
        &claims("a-oct"),
    );
    for (token, sub) in [
        (ed(ED1, Some("ed-1"), &claims("a-ed1")), "a-ed1"),
        (ed(ED2, Some("ed-2"), &claims("a-ed2")), "a-ed2"),
        (
            rsa(Algorithm::RS256, Some("rsa-1"), &claims("a-rsa")),
            "a-rsa",
        ),
        (oct, "a-oct"),
    ] {
        assert_eq!(keys.verify(Role::Agent, &token, NOW).unwrap().sub, sub);
    }
}

#[test]
fn kid_rotation_each_token_verifies_with_its_own_key_only() {
    let dir = Dir::new("rotation");
    let keys = jwks_keys(&dir, &["ed-1", "ed-2"]);
    assert!(keys
        .verify(Role::Agent, &ed(ED1, Some("ed-1"), &claims("a")), NOW)
        .is_ok());
    assert!(keys
        .verify(Role::Agent, &ed(ED2, Some("ed-2"), &claims("a")), NOW)
        .is_ok());
    // Signed by one key, naming the other.
    let e = refused(keys.verify(Role::Agent, &ed(ED1, Some("ed-2"), &claims("a")), NOW));
    assert_eq!(e, AuthError::Invalid("the signature does not verify"));
    // A retired kid, and no kid with several keys.
    refused(keys.verify(Role::Agent, &ed(ED1, Some("ed-0"), &claims("a")), NOW));
    refused(keys.verify(Role::Agent, &ed(ED1, None, &claims("a")), NOW));
}

#[test]
fn a_single_key_set_needs_no_kid() {
    let dir = Dir::new("single");
    let keys = jwks_keys(&dir, &["ed-1"]);
    assert!(keys
        .verify(Role::Agent, &ed(ED1, None, &claims("a")), NOW)
        .is_ok());
    refused(keys.verify(Role::Agent, &ed(ED2, None, &claims("a")), NOW));
}

#[test]
fn secret_file_and_jwks_together() {
    let dir = Dir::new("both");
    let mut secret = SECRET.to_vec();
    secret.push(b'\n');
    let s = AuthSettings {
        agent_secret_file: Some(dir.file("agent.secret", secret)),
        agent_jwks_file: Some(dir.file("agents.jwks", jwks_with(&["ed-1", "rsa-1"]))),
        ..AuthSettings::default()
    };
    let keys = Keys::load(&s).unwrap();
    assert_eq!(keys.key_count(Role::Agent), 3);
    assert!(keys
        .verify(Role::Agent, &hs256(SECRET, &claims("a")), NOW)
        .is_ok());
    assert!(keys
        .verify(Role::Agent, &ed(ED1, Some("ed-1"), &claims("a")), NOW)
        .is_ok());
    assert!(keys
        .verify(
            Role::Agent,
            &rsa(Algorithm::RS256, Some("rsa-1"), &claims("a")),
            NOW
        )
        .is_ok());
}

#[test]
fn an_rsa_key_accepts_only_its_own_rs_algorithm() {
    let dir = Dir::new("rs384");
    let keys = jwks_keys(&dir, &["rsa-1"]);
    refused(keys.verify(Role::Agent, &rsa(Algorithm::RS384, None, &claims("a")), NOW));
    refused(keys.verify(Role::Agent, &rsa(Algorithm::PS256, None, &claims("a")), NOW));
    let s = AuthSettings {
        agent_jwks_file: Some(dir.file(
            "rs384.jwks",
            jwks_with(&["rsa-1"]).replace("\"RS256\"", "\"RS384\""),
        )),
        ..AuthSettings::default()
    };
    let keys = Keys::load(&s).unwrap();
    assert!(keys
        .verify(Role::Agent, &rsa(Algorithm::RS384, None, &claims("a")), NOW)
        .is_ok());
    refused(keys.verify(Role::Agent, &rsa(Algorithm::RS256, None, &claims("a")), NOW));
}

#[test]
fn expired_is_token_expired_and_the_leeway_applies() {
    let dir = Dir::new("expired");
    let (_, keys) = secret_keys(&dir);
    let at = |exp: u64| hs256(SECRET, &json!({"sub": "a1", "exp": exp}));
    // Default leeway: 30 s.
    assert!(keys.verify(Role::Agent, &at(NOW - 29), NOW).is_ok());
    for exp in [NOW - 30, NOW - 31, NOW - 3600] {
        let e = keys.verify(Role::Agent, &at(exp), NOW).unwrap_err();
        assert_eq!(e, AuthError::Expired { exp });
        assert_eq!(e.code(), "token_expired");
    }
    let s = AuthSettings {
        leeway: Duration::ZERO,
        ..secret_keys(&dir).0
    };
    let strict = Keys::load(&s).unwrap();
    assert!(strict.verify(Role::Agent, &at(NOW + 1), NOW).is_ok());
    assert_eq!(
        strict
            .verify(Role::Agent, &at(NOW), NOW)
            .unwrap_err()
            .code(),
        "token_expired"
    );
}

#[test]
fn an_expired_token_with_a_bad_signature_is_unauthorized_not_expired() {
    let dir = Dir::new("expired-bad");
    let (_, keys) = secret_keys(&dir);
    let token = hs256(
        b"another secret of at least thirty-two bytes",
        &json!({"sub": "a1", "exp": NOW - 3600}),
    );
    refused(keys.verify(Role::Agent, &token, NOW));
}

#[test]
fn exp_is_required() {
    let dir = Dir::new("noexp");
    let (_, keys) = secret_keys(&dir);
    refused(keys.verify(Role::Agent, &hs256(SECRET, &json!({"sub": "a1"})), NOW));
    refused(keys.verify(
        Role::Agent,
        &hs256(SECRET, &json!({"sub": "a1", "exp": "tomorrow"})),
        NOW,
    ));
    refused(keys.verify(Role::Agent, &hs256(SECRET, &json!({"exp": NOW + 60})), NOW));
    refused(keys.verify(
        Role::Agent,
        &hs256(SECRET, &json!({"sub": "", "exp": NOW + 60})),
        NOW,
    ));
}

#[test]
fn not_yet_valid_is_refused_outside_the_leeway() {
    let dir = Dir::new("nbf");
    let (_, keys) = secret_keys(&dir);
    let nbf = |nbf: u64| hs256(SECRET, &json!({"sub": "a1", "exp": NOW + 600, "nbf": nbf}));
    let e = refused(keys.verify(Role::Agent, &nbf(NOW + 31), NOW));
    assert!(e.to_string().contains("not yet valid"), "{e}");
    assert!(keys.verify(Role::Agent, &nbf(NOW + 30), NOW).is_ok());
    assert!(keys.verify(Role::Agent, &nbf(NOW - 100), NOW).is_ok());
}

#[test]
fn a_wrong_signature_is_refused() {
    let dir = Dir::new("wrongsig");
    let (_, keys) = secret_keys(&dir);
    let other = b"0123456789abcdef0123456789abcdef-someone";
    let e = refused(keys.verify(Role::Agent, &hs256(other, &claims("a1")), NOW));
    assert_eq!(e, AuthError::Invalid("the signature does not verify"));
    // The signature of one token on the claims of another.
    let good = hs256(SECRET, &claims("a1"));
    let forged = hs256(other, &claims("a2"));
    let (head, _) = forged.rsplit_once('.').unwrap();
    let (_, sig) = good.rsplit_once('.').unwrap();
    refused(keys.verify(Role::Agent, &format!("{head}.{sig}"), NOW));
}

#[test]
fn audience_and_issuer_are_checked_when_configured() {
    let dir = Dir::new("aud");
    let s = AuthSettings {
        audience: Some("supportd".into()),
        issuer: Some("https://id.example.com".into()),
        ..secret_keys(&dir).0
    };
    let keys = Keys::load(&s).unwrap();
    let tok = |extra: Value| {
        let mut c = claims("a1");
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        hs256(SECRET, &c)
    };
    let iss = "https://id.example.com";
    assert!(keys
        .verify(
            Role::Agent,
            &tok(json!({"aud": "supportd", "iss": iss})),
            NOW
        )
        .is_ok());
    assert!(keys
        .verify(
            Role::Agent,
            &tok(json!({"aud": ["other", "supportd"], "iss": iss})),
            NOW
        )
        .is_ok());
    let e = refused(keys.verify(Role::Agent, &tok(json!({"aud": "other", "iss": iss})), NOW));
    assert_eq!(e, AuthError::Invalid("wrong audience"));
    refused(keys.verify(Role::Agent, &tok(json!({"iss": iss})), NOW));
    let e = refused(keys.verify(
        Role::Agent,
        &tok(json!({"aud": "supportd", "iss": "https://evil.example.com"})),
        NOW,
    ));
    assert_eq!(e, AuthError::Invalid("wrong issuer"));
    refused(keys.verify(Role::Agent, &tok(json!({"aud": "supportd"})), NOW));

    // Not configured: not checked.
    let (_, keys) = secret_keys(&dir);
    assert!(keys
        .verify(Role::Agent, &tok(json!({"aud": "other", "iss": "x"})), NOW)
        .is_ok());
}

#[test]
fn alg_none_is_refused() {
    let dir = Dir::new("none");
    let (_, keys) = secret_keys(&dir);
    let jwks = jwks_keys(&dir, &["ed-1"]);
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let body = b64(claims("a1"));
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "None"}),
        json!({"alg": "none", "kid": "ed-1"}),
        json!({"typ": "JWT"}),
    ] {
        let head = b64(header);
        for token in [format!("{head}.{body}."), format!("{head}.{body}")] {
            refused(keys.verify(Role::Agent, &token, NOW));
            refused(jwks.verify(Role::Agent, &token, NOW));
        }
        // With the real signature of the same body (alg swapped afterwards).
        let real = hs256(SECRET, &claims("a1"));
        let (_, sig) = real.rsplit_once('.').unwrap();
        refused(keys.verify(Role::Agent, &format!("{head}.{body}.{sig}"), NOW));
    }
}

#[test]
fn an_hs256_token_signed_with_the_rsa_public_key_is_refused() {
    let dir = Dir::new("confusion");
    let keys = jwks_keys(&dir, &["rsa-1"]);
    let mut stripped = RSA1_PUB.to_vec();
    stripped.pop();
    for secret in [RSA1_PUB, &stripped[..]] {
        for kid in [None, Some("rsa-1")] {
            let token = sign(
                Algorithm::HS256,
                kid,
                &EncodingKey::from_secret(secret).unwrap(),
                &claims("a1"),
            );
            let e = refused(keys.verify(Role::Agent, &token, NOW));
            assert_eq!(e, AuthError::Invalid("the algorithm is not the key's"));
        }
    }
    // The same with an HS256 secret configured beside the RSA key.
    let s = AuthSettings {
        agent_jwks_file: Some(dir.file("rsa.jwks", jwks_with(&["rsa-1", "ed-1"]))),
        ..secret_keys(&dir).0
    };
    let keys = Keys::load(&s).unwrap();
    let token = sign(
        Algorithm::HS256,
        Some("rsa-1"),
        &EncodingKey::from_secret(RSA1_PUB).unwrap(),
        &claims("a1"),
    );
    refused(keys.verify(Role::Agent, &token, NOW));
    // An EdDSA token naming the RSA key.
    refused(keys.verify(Role::Agent, &ed(ED1, Some("rsa-1"), &claims("a1")), NOW));
}

#[test]
fn missing_and_garbage_tokens_are_refused() {
    let dir = Dir::new("garbage");
    let (_, keys) = secret_keys(&dir);
    assert_eq!(keys.verify(Role::Agent, "", NOW), Err(AuthError::Missing));
    assert_eq!(keys.check(Role::Agent, None, NOW), Err(AuthError::Missing));
    let long = "a".repeat(MAX_TOKEN_BYTES + 1);
    for token in [
        "x",
        "a.b",
        "a.b.c",
        "..",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "eyJhbGciOiJIUzI1NiJ9.!!!.AAAA",
        "{\"alg\":\"HS256\"}.{}.x",
        long.as_str(),
    ] {
        refused(keys.verify(Role::Agent, token, NOW));
    }
    // Claims that are not a JSON object.
    let head = URL_SAFE_NO_PAD.encode(b"{\"alg\":\"HS256\"}");
    let body = URL_SAFE_NO_PAD.encode(b"[1,2]");
    refused(keys.verify(Role::Agent, &format!("{head}.{body}.AAAA"), NOW));
}

#[test]
fn error_messages_never_contain_the_token() {
    let dir = Dir::new("echo");
    let (s, _) = secret_keys(&dir);
    let s = AuthSettings {
        audience: Some("supportd".into()),
        agent_jwks_file: Some(dir.file("agents.jwks", jwks_with(&["ed-1", "rsa-1"]))),
        ..s
    };
    let keys = Keys::load(&s).unwrap();
    let other = b"0123456789abcdef0123456789abcdef-someone";
    let head = URL_SAFE_NO_PAD.encode(b"{\"alg\":\"HS256\",\"kid\":\"evil<script>\"}");
    let bad_claims = URL_SAFE_NO_PAD.encode(b"{\"sub\":\"secret-sub-value\",\"exp\":\"x\"}");
    let tokens = [
        hs256(other, &claims("agent-secret-id")),
        hs256(
            SECRET,
            &json!({"sub": "agent-secret-id", "exp": NOW - 100, "aud": "supportd"}),
        ),
        hs256(
            SECRET,
            &json!({"sub": "agent-secret-id", "exp": NOW + 100, "aud": "nope"}),
        ),
        ed(ED2, Some("ed-1"), &claims("agent-secret-id")),
        format!("{head}.{bad_claims}.c2lnbmF0dXJl"),
        "secret-garbage-token-value".to_owned(),
        format!("{}.garbage-part", hs256(SECRET, &claims("agent-secret-id"))),
    ];
    for token in &tokens {
        let e = keys.verify(Role::Agent, token, NOW).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(!text.contains(token.as_str()), "{text}");
        for part in token.split('.').filter(|p| p.len() > 3) {
            assert!(!text.contains(part), "{text} contains {part}");
        }
        for word in ["agent-secret-id", "secret-sub-value", "evil", "garbage"] {
            assert!(!text.contains(word), "{text} contains {word}");
        }
    }
}

#[test]
fn a_reload_with_a_bad_file_keeps_the_old_keys() {
    let dir = Dir::new("reload");
    let (good, mut keys) = secret_keys(&dir);
    let token = hs256(SECRET, &claims("a1"));
    assert!(keys.verify(Role::Agent, &token, NOW).is_ok());

    let short = AuthSettings {
        agent_secret_file: Some(dir.file("short.secret", b"short\n")),
        ..AuthSettings::default()
    };
    let bad_jwks = AuthSettings {
        agent_jwks_file: Some(dir.file("bad.jwks", "{\"keys\": [{\"kty\": \"OKP\"}]}")),
        ..good.clone()
    };
    let missing = AuthSettings {
        user_secret_file: Some(dir.0.join("missing.secret")),
        ..good.clone()
    };
    for bad in [short, bad_jwks, missing] {
        assert!(keys.reload(&bad).is_err());
        assert!(keys.verify(Role::Agent, &token, NOW).is_ok());
        assert!(!keys.required(Role::User));
    }

    // A good reload replaces the keys: the old secret no longer verifies.
    std::fs::write(
        good.agent_secret_file.as_ref().unwrap(),
        b"a whole new secret, 32 bytes long!!",
    )
    .unwrap();
    keys.reload(&good).unwrap();
    refused(keys.verify(Role::Agent, &token, NOW));
    assert!(keys
        .verify(
            Role::Agent,
            &hs256(b"a whole new secret, 32 bytes long!!", &claims("a1")),
            NOW
        )
        .is_ok());
}

#[test]
fn a_role_without_keys_is_not_authenticated() {
    let keys = Keys::load(&AuthSettings::default()).unwrap();
    for role in [Role::Agent, Role::User] {
        assert!(!keys.required(role));
        assert_eq!(keys.check(role, None, NOW), Ok(None));
        assert_eq!(keys.check(role, Some("garbage"), NOW), Ok(None));
        assert_eq!(
            keys.verify(role, "garbage", NOW),
            Err(AuthError::NotConfigured(role))
        );
    }
    assert!(!Keys::default().required(Role::Agent));
}

#[test]
fn roles_have_their_own_keys() {
    let dir = Dir::new("roles");
    let user_secret = b"users' secret, also at least 32 bytes";
    let s = AuthSettings {
        user_secret_file: Some(dir.file("user.secret", user_secret)),
        ..secret_keys(&dir).0
    };
    let keys = Keys::load(&s).unwrap();
    let agent = hs256(SECRET, &claims("a1"));
    let user = hs256(user_secret, &claims("u1"));
    assert_eq!(
        keys.check(Role::Agent, Some(&agent), NOW)
            .unwrap()
            .unwrap()
            .sub,
        "a1"
    );
    assert_eq!(
        keys.check(Role::User, Some(&user), NOW)
            .unwrap()
            .unwrap()
            .sub,
        "u1"
    );
    refused(keys.verify(Role::Agent, &user, NOW));
    refused(keys.verify(Role::User, &agent, NOW));
}

#[test]
fn claims_are_read_and_unknown_claims_ignored() {
    let dir = Dir::new("claims");
    let (_, keys) = secret_keys(&dir);
    let token = hs256(
        SECRET,
        &json!({
            "sub": "a1", "exp": NOW + 60, "name": "Alice", "capacity": 3,
            "skills": ["billing", "fr"], "priority": -2, "role": "admin", "extra": {"x": 1}
        }),
    );
    let c = keys.verify(Role::Agent, &token, NOW).unwrap();
    assert_eq!(
        c,
        Claims {
            sub: "a1".into(),
            exp: NOW + 60,
            name: Some("Alice".into()),
            capacity: Some(3),
            skills: Some(json!(["billing", "fr"])),
            priority: Some(-2),
        }
    );
    let c = keys
        .verify(Role::Agent, &hs256(SECRET, &claims("a2")), NOW)
        .unwrap();
    assert_eq!(
        (c.name, c.capacity, c.skills, c.priority),
        (None, None, None, None)
    );
    assert!(keys
        .verify(Role::Agent, &hs256(SECRET, &claims("a2")), NOW)
        .unwrap()
        .require_subject("a2")
        .is_ok());
    let e = keys
        .verify(Role::Agent, &hs256(SECRET, &claims("a2")), NOW)
        .unwrap()
        .require_subject("a1")
        .unwrap_err();
    assert_eq!(e.code(), "unauthorized");
}

/// The token that docs/operations.md's openssl + base64 recipe, and its pyjwt example, made
/// from this secret file (both give the same bytes).
#[test]
fn a_token_made_by_the_documented_openssl_recipe_is_accepted() {
    let dir = Dir::new("openssl");
    let s = AuthSettings {
        agent_secret_file: Some(dir.file(
            "agent.secret",
            "k0Yx0n3mJ9Qe7hC2a8ZrT5vW1uPbL4sD6fG9jH2kM5nQ8rS1tV4wX7yZ0aB3cE6F\n",
        )),
        ..AuthSettings::default()
    };
    let keys = Keys::load(&s).unwrap();
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
        eyJzdWIiOiJhMSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MTgwMDAwMDYwMH0.\
        CWeJBe3XHPlUq074C6MAcj1BNc-xBTTK6JFlY6iVAa4";
    let c = keys.verify(Role::Agent, token, NOW).unwrap();
    assert_eq!(
        (c.sub.as_str(), c.name.as_deref(), c.exp),
        ("a1", Some("Alice"), NOW + 600)
    );
}

/// A token pyjwt 2.15 made as docs/operations.md shows, with the fixture ed1.pem.
#[test]
fn a_token_made_by_pyjwt_with_an_ed25519_key_is_accepted() {
    let dir = Dir::new("pyjwt");
    let keys = jwks_keys(&dir, &["ed-1", "ed-2"]);
    let token = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEiLCJ0eXAiOiJKV1QifQ.\
        eyJzdWIiOiJhMSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MTgwMDAwMDYwMH0.\
        c3LkmW0BuJ1munhPWvFewOsWuibs6w4mk_b4OrWlseGllRCW5N7Nst-ZNR2yx-0iLR-H9RIT0BHXbd6n9qKcBQ";
    let c = keys.verify(Role::Agent, token, NOW).unwrap();
    assert_eq!((c.sub.as_str(), c.name.as_deref()), ("a1", Some("Alice")));
}

#[test]
fn describe_names_the_keys_not_their_material() {
    assert_eq!(
        Keys::default().describe(),
        "agents: not authenticated; users: not authenticated"
    );
    let dir = Dir::new("describe");
    let s = AuthSettings {
        agent_jwks_file: Some(dir.file("agents.jwks", jwks_with(&["ed-1", "oct-1"]))),
        user_jwks_file: Some(dir.file(
            "users.jwks",
            jwks_with(&["rsa-1"]).replace("\"kid\":\"rsa-1\",", ""),
        )),
        ..secret_keys(&dir).0
    };
    let keys = Keys::load(&s).unwrap();
    assert_eq!(
        keys.describe(),
        "agents: 3 keys (secret, kid ed-1, kid oct-1); users: 1 key (RS256 key)"
    );
}
