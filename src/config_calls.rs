//! The `[calls]` table: the STUN/TURN servers both parties of a call are given in
//! `callAgent` (and `callTransfer`) as `iceServers`, in the RTCIceServer shape, so that a
//! front end can open an RTCPeerConnection with no configuration of its own; and
//! `[limits] max_signal_bytes`, the largest WebRTC signal relayed.
//!
//! Why here and not in the routing core: a TURN server's time-limited credentials (the coturn
//! REST form, `use-auth-secret` / `static-auth-secret` in turnserver.conf) are computed from
//! the wall clock, which the sans-IO core never reads; the loop adds them as it delivers the
//! event (src/net/deliver.rs), with the Unix time passed in here.
//!
//! Invariant: a validated `CallsConfig` only holds servers a browser accepts: every URL is
//! `stun:`, `stuns:`, `turn:` or `turns:`; a server with a `turn(s):` URL has credentials
//! (a fixed username and credential, or a shared secret, inline or read from a file at each
//! load and reload); a shared secret is never written out (not in `Debug`, not in an
//! event), only the HMAC made with it.
use super::ConfigError;
use crate::routing::DEFAULT_MAX_SIGNAL_BYTES;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// The default lifetime of a time-limited TURN credential (coturn's own default: a day).
pub const DEFAULT_TURN_TTL_SECS: u64 = 86_400;

/// `[calls]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCalls {
    #[serde(default)]
    ice_servers: Vec<FileIceServer>,
}

/// One `[[calls.ice_servers]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIceServer {
    urls: Urls,
    username: Option<String>,
    credential: Option<String>,
    shared_secret: Option<String>,
    shared_secret_file: Option<PathBuf>,
    ttl_secs: Option<u64>,
}

/// `urls = "stun:…"` or `urls = ["turn:…", "turns:…"]`, as RTCIceServer allows.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Urls {
    One(String),
    Many(Vec<String>),
}

/// A secret that `Debug` does not print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How a server's clients authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceAuth {
    /// None (a STUN server).
    None,
    /// The same username and credential for everyone.
    Fixed {
        username: String,
        credential: String,
    },
    /// Time-limited credentials made with a secret shared with the TURN server (coturn's
    /// REST form): username "<expiry unix time>:<party id>", credential
    /// base64(HMAC-SHA1(secret, username)), valid for `ttl_secs`.
    SharedSecret { secret: Secret, ttl_secs: u64 },
}

/// One STUN or TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub auth: IceAuth,
}

/// The validated `[calls]` table; the default has no servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallsConfig {
    pub ice_servers: Vec<IceServer>,
}

/// Validates `[calls]`; `err(reason)` builds the error (naming `calls.ice_servers`).
pub(super) fn calls(
    file: &FileCalls,
    err: impl Fn(String) -> ConfigError,
) -> Result<CallsConfig, ConfigError> {
    let mut out = CallsConfig::default();
    for (i, s) in file.ice_servers.iter().enumerate() {
        let what = format!("calls.ice_servers[{i}]");
        let urls = match &s.urls {
            Urls::One(u) => vec![u.clone()],
            Urls::Many(v) => v.clone(),
        };
        if urls.is_empty() {
            return Err(err(format!("{what}.urls: at least one URL")));
        }
        let mut turn = false;
        for u in &urls {
            let scheme = u.split(':').next().unwrap_or("");
            match scheme {
                "stun" | "stuns" => {}
                "turn" | "turns" => turn = true,
                _ => {
                    return Err(err(format!(
                        "{what}.urls: {u:?} is not a stun:, stuns:, turn: or turns: URL"
                    )))
                }
            }
            if u.len() <= scheme.len() + 1 {
                return Err(err(format!("{what}.urls: {u:?} names no host")));
            }
        }
        let shared_secret = match (&s.shared_secret, &s.shared_secret_file) {
            (Some(_), Some(_)) => {
                return Err(err(format!(
                    "{what}: shared_secret and shared_secret_file: set one or the other"
                )))
            }
            (None, Some(path)) => Some(
                read_secret(path)
                    .map_err(|reason| err(format!("{what}.shared_secret_file: {reason}")))?,
            ),
            (secret, None) => secret.clone(),
        };
        let auth = match (&s.username, &s.credential, &shared_secret) {
            (None, None, None) => IceAuth::None,
            (Some(u), Some(c), None) => IceAuth::Fixed {
                username: u.clone(),
                credential: c.clone(),
            },
            (None, None, Some(secret)) if !secret.is_empty() => IceAuth::SharedSecret {
                secret: Secret(secret.clone()),
                ttl_secs: match s.ttl_secs {
                    Some(0) => return Err(err(format!("{what}.ttl_secs: must be greater than 0"))),
                    Some(t) => t,
                    None => DEFAULT_TURN_TTL_SECS,
                },
            },
            (None, None, Some(_)) => return Err(err(format!("{what}.shared_secret: empty"))),
            (_, _, Some(_)) => {
                return Err(err(format!(
                    "{what}: shared_secret makes the username and credential; set one or the other"
                )))
            }
            _ => return Err(err(format!("{what}: username and credential go together"))),
        };
        if s.ttl_secs.is_some() && !matches!(auth, IceAuth::SharedSecret { .. }) {
            return Err(err(format!("{what}.ttl_secs: only with shared_secret")));
        }
        if turn && auth == IceAuth::None {
            return Err(err(format!(
                "{what}: a turn: URL needs username and credential, or shared_secret"
            )));
        }
        out.ice_servers.push(IceServer { urls, auth });
    }
    Ok(out)
}

/// The TURN secret in `path`: its text less one trailing newline (`\n` or `\r\n`), as
/// coturn's `static-auth-secret` takes it; Err(why) if unreadable or not UTF-8.
fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let secret = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(secret.to_owned())
}

/// `[limits] max_signal_bytes`: as set (more than 0, and 1 KiB under `max_message_bytes`),
/// or unset the default, lowered to fit a smaller `max_message_bytes` (so that a file that
/// loaded before this key existed still loads).
pub(super) fn max_signal_bytes(
    set: Option<usize>,
    max_message_bytes: usize,
    err: impl Fn(String) -> ConfigError,
) -> Result<usize, ConfigError> {
    let fits = max_message_bytes.saturating_sub(1024);
    match set {
        None => Ok(DEFAULT_MAX_SIGNAL_BYTES.min(fits)),
        Some(0) => Err(err("limits.max_signal_bytes must be greater than 0".into())),
        Some(v) if v > fits => Err(err(
            "limits.max_message_bytes must exceed limits.max_signal_bytes by at least 1024".into(),
        )),
        Some(v) => Ok(v),
    }
}

impl CallsConfig {
    /// The `iceServers` value for party `party_id` at Unix time `unix_now`, in the
    /// RTCIceServer shape: `[{"urls": [...], "username"?, "credential"?}]`.
    pub fn ice_servers_json(&self, unix_now: u64, party_id: &str) -> Value {
        let servers = self.ice_servers.iter().map(|s| {
            let mut m = Map::new();
            m.insert(
                "urls".into(),
                Value::Array(s.urls.iter().cloned().map(Value::String).collect()),
            );
            let creds = match &s.auth {
                IceAuth::None => None,
                IceAuth::Fixed {
                    username,
                    credential,
                } => Some((username.clone(), credential.clone())),
                IceAuth::SharedSecret { secret, ttl_secs } => {
                    let username = format!("{}:{party_id}", unix_now.saturating_add(*ttl_secs));
                    Some((username.clone(), turn_rest_credential(&secret.0, &username)))
                }
            };
            if let Some((u, c)) = creds {
                m.insert("username".into(), Value::String(u));
                m.insert("credential".into(), Value::String(c));
            }
            Value::Object(m)
        });
        Value::Array(servers.collect())
    }
}

/// The coturn REST API credential for `username`: base64(HMAC-SHA1(secret, username)).
pub fn turn_rest_credential(secret: &str, username: &str) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
