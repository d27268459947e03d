//! Configuration: the TOML file's structs (unknown keys rejected) and the validated `Config`
//! the daemon runs on. Every default is a named const here, and etc/config.toml repeats them.
use crate::routing::{ResumeConfig, RoutingConfig};
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/support/config.toml";
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
pub const DEFAULT_PORT: u16 = 8080;
pub const DEFAULT_MAX_CONNECTIONS: usize = 200_000;
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
pub const DEFAULT_MAX_OUTBOUND_BYTES: usize = 1024 * 1024;
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MESSAGE_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_INBOUND_BUFFER_BYTES: usize = 256 * 1024 * 1024;
pub const DEFAULT_NATIVE_PING_INTERVAL_MS: u64 = 25_000;
pub const DEFAULT_NATIVE_PING_TIMEOUT_MS: u64 = 20_000;
pub const DEFAULT_REGISTER_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 0;
pub const DEFAULT_MAX_SESSIONS_PER_IP: usize = 0;
pub const DEFAULT_EVENTS_PER_SEC: u32 = 100;
pub const DEFAULT_EVENTS_BURST: u32 = 200;
pub const DEFAULT_RATE_LIMIT_CLOSE_AFTER: u32 = 100;
pub const DEFAULT_TOGGLES_PER_SEC: u32 = 2;
pub const DEFAULT_TOGGLES_BURST: u32 = 5;
pub const DEFAULT_SOFT_OUTBOUND_BYTES: usize = 256 * 1024;
pub const DEFAULT_SLOW_CONSUMER_MS: u64 = 10_000;
pub const DEFAULT_LINGER_MS: u64 = 2_000;
pub const DEFAULT_PING_INTERVAL_MS: u64 = 25_000;
pub const DEFAULT_PING_TIMEOUT_MS: u64 = 20_000;
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1_000_000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 45_000;
pub const DEFAULT_METRICS_ENABLED: bool = true;
pub const DEFAULT_METRICS_BIND: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const DEFAULT_METRICS_PORT: u16 = 9102;
pub const DEFAULT_LOG_LEVEL: log::LevelFilter = log::LevelFilter::Info;
pub const DEFAULT_AUTH_LEEWAY_SECS: u64 = 30;
// `[routing]` defaults are those of `RoutingConfig::default()` (src/routing/config.rs).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    socketio: FileSocketIo,
    #[serde(default)]
    routing: FileRouting,
    #[serde(default)]
    metrics: FileMetrics,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    auth: FileAuth,
    #[serde(default)]
    sessions: FileSessions,
    #[serde(default)]
    calls: FileCalls,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSessions {
    resume_grace_ms: Option<u64>,
    max_buffered_events: Option<usize>,
    max_buffered_bytes: Option<usize>,
    keep_sent_events: Option<usize>,
    sent_window_bytes: Option<usize>,
    drain_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    bind: Option<String>,
    port: Option<u16>,
    cors_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_connections: Option<usize>,
    max_message_bytes: Option<usize>,
    max_signal_bytes: Option<usize>,
    max_outbound_bytes: Option<usize>,
    handshake_timeout_ms: Option<u64>,
    message_timeout_ms: Option<u64>,
    max_inbound_buffer_bytes: Option<usize>,
    ping_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    register_timeout_ms: Option<u64>,
    max_connections_per_ip: Option<usize>,
    max_sessions_per_ip: Option<usize>,
    per_ip_exempt: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    events_per_sec: Option<u32>,
    events_burst: Option<u32>,
    rate_limit_close_after: Option<u32>,
    toggles_per_sec: Option<u32>,
    toggles_burst: Option<u32>,
    soft_outbound_bytes: Option<usize>,
    slow_consumer_ms: Option<u64>,
    linger_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSocketIo {
    ping_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    max_payload_bytes: Option<usize>,
    connect_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetrics {
    enabled: Option<bool>,
    bind: Option<String>,
    port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    agent_secret_file: Option<PathBuf>,
    agent_jwks_file: Option<PathBuf>,
    user_secret_file: Option<PathBuf>,
    user_jwks_file: Option<PathBuf>,
    audience: Option<String>,
    issuer: Option<String>,
    leeway_secs: Option<u64>,
}

/// Which browser origins may open a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsPolicy {
    /// `"*"`: any origin.
    Any,
    /// Only these exact origins (an empty list allows none).
    List(Vec<String>),
}

impl CorsPolicy {
    /// Whether a request carrying this Origin header may connect.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            CorsPolicy::Any => true,
            CorsPolicy::List(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// Validated settings the daemon runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub cors: CorsPolicy,
    pub limits: Limits,
    pub socketio: SocketIoSettings,
    pub routing: RoutingConfig,
    pub metrics: Option<SocketAddr>,
    pub log_level: log::LevelFilter,
    pub auth: AuthSettings,
    /// `[sessions] drain_ms`: on SIGTERM, how long clients get to leave after being told to
    /// reconnect elsewhere (close 1012); None = the short shutdown of before.
    pub drain: Option<Duration>,
    /// `[limits] per_ip_exempt` and `trusted_proxies`: addresses the per-address limits
    /// skip, and those whose `X-Forwarded-For` is believed.
    pub addresses: AddressPolicy,
    /// `[calls]`: the STUN/TURN servers given to both parties of a call.
    pub calls: CallsConfig,
}

/// Hard limits that protect the daemon from clients (every key of `[limits]` but the
/// address lists, which are in `AddressPolicy`). A zero that means "off" is a None or a 0
/// as each field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_message_bytes: usize,
    pub max_outbound_bytes: usize,
    pub handshake_timeout: Duration,
    /// A message (WebSocket, or request body) begun must be complete within this.
    pub message_timeout: Duration,
    /// Bytes held at once in partial inbound messages and request bodies, over every
    /// connection; past it the largest holders are closed first.
    pub max_inbound_buffer_bytes: usize,
    /// Native WebSocket keepalive: a ping this often; None = no pings.
    pub ping_interval: Option<Duration>,
    /// Native WebSocket keepalive: closed when nothing is heard for this long after a ping.
    pub ping_timeout: Duration,
    /// A connection that has not registered (native) or connected (Socket.IO) within this
    /// is closed; None = never.
    pub register_timeout: Option<Duration>,
    /// Connections from one source address; 0 = unlimited.
    pub max_connections_per_ip: usize,
    /// Engine.IO sessions not yet CONNECTed from one source address; 0 = unlimited.
    pub max_sessions_per_ip: usize,
    /// Events one connection may send per second, sustained; 0 = unlimited.
    pub events_per_sec: u32,
    /// Events one connection may send at once above the sustained rate.
    pub events_burst: u32,
    /// Events refused for the rate in a row past which the connection is closed (1008).
    pub rate_limit_close_after: u32,
    /// `toggleAvailability` per second, sustained, per connection; 0 = unlimited.
    pub toggles_per_sec: u32,
    /// `toggleAvailability` at once above the sustained rate.
    pub toggles_burst: u32,
    /// Bytes queued for a client past which it must catch up within `slow_consumer`
    /// (a soft limit; `max_outbound_bytes` is the hard one); 0 = no soft limit.
    pub soft_outbound_bytes: usize,
    /// How long a client may stay over `soft_outbound_bytes`.
    pub slow_consumer: Duration,
    /// How long a closing connection's input is still read (lingering close) so that the
    /// close frame or error response reaches the client.
    pub linger: Duration,
}

/// Source addresses with special treatment (`[limits] per_ip_exempt`, `trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Never counted against the per-address limits (a reverse proxy, a health checker).
    pub exempt: Vec<IpAddr>,
    /// Their `X-Forwarded-For` names the client (its last address) for per-address limits.
    pub trusted_proxies: Vec<IpAddr>,
}

/// Engine.IO session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketIoSettings {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_payload_bytes: usize,
    pub connect_timeout: Duration,
}

/// Where the token verification keys are, and what a token must say (`[auth]`). Only the
/// paths: `Config::parse` does not read the key files (`auth::Keys::load` does). A role with
/// neither file set is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// HS256 secret for agents' tokens (the file's bytes less one trailing newline).
    pub agent_secret_file: Option<PathBuf>,
    /// JSON Web Key Set for agents' tokens.
    pub agent_jwks_file: Option<PathBuf>,
    pub user_secret_file: Option<PathBuf>,
    pub user_jwks_file: Option<PathBuf>,
    /// Required `aud` (one of the token's audiences) when set.
    pub audience: Option<String>,
    /// Required `iss` when set.
    pub issuer: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            agent_secret_file: None,
            agent_jwks_file: None,
            user_secret_file: None,
            user_jwks_file: None,
            audience: None,
            issuer: None,
            leeway: Duration::from_secs(DEFAULT_AUTH_LEEWAY_SECS),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut routing = RoutingConfig::default();
        routing.resume.max_bytes =
            replay_bytes(routing.resume.max_bytes, DEFAULT_MAX_OUTBOUND_BYTES);
        Config {
            listen: SocketAddr::new(DEFAULT_BIND, DEFAULT_PORT),
            cors: CorsPolicy::List(Vec::new()),
            limits: Limits {
                max_connections: DEFAULT_MAX_CONNECTIONS,
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                max_outbound_bytes: DEFAULT_MAX_OUTBOUND_BYTES,
                handshake_timeout: Duration::from_millis(DEFAULT_HANDSHAKE_TIMEOUT_MS),
                message_timeout: Duration::from_millis(DEFAULT_MESSAGE_TIMEOUT_MS),
                max_inbound_buffer_bytes: DEFAULT_MAX_INBOUND_BUFFER_BYTES,
                ping_interval: Some(Duration::from_millis(DEFAULT_NATIVE_PING_INTERVAL_MS)),
                ping_timeout: Duration::from_millis(DEFAULT_NATIVE_PING_TIMEOUT_MS),
                register_timeout: Some(Duration::from_millis(DEFAULT_REGISTER_TIMEOUT_MS)),
                max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
                max_sessions_per_ip: DEFAULT_MAX_SESSIONS_PER_IP,
                events_per_sec: DEFAULT_EVENTS_PER_SEC,
                events_burst: DEFAULT_EVENTS_BURST,
                rate_limit_close_after: DEFAULT_RATE_LIMIT_CLOSE_AFTER,
                toggles_per_sec: DEFAULT_TOGGLES_PER_SEC,
                toggles_burst: DEFAULT_TOGGLES_BURST,
                soft_outbound_bytes: DEFAULT_SOFT_OUTBOUND_BYTES,
                slow_consumer: Duration::from_millis(DEFAULT_SLOW_CONSUMER_MS),
                linger: Duration::from_millis(DEFAULT_LINGER_MS),
            },
            socketio: SocketIoSettings {
                ping_interval: Duration::from_millis(DEFAULT_PING_INTERVAL_MS),
                ping_timeout: Duration::from_millis(DEFAULT_PING_TIMEOUT_MS),
                max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
                connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            },
            routing,
            metrics: Some(SocketAddr::new(DEFAULT_METRICS_BIND, DEFAULT_METRICS_PORT)),
            log_level: DEFAULT_LOG_LEVEL,
            auth: AuthSettings::default(),
            drain: None,
            addresses: AddressPolicy::default(),
            calls: CallsConfig::default(),
        }
    }
}

/// Why a config file was refused: the file, the line (when known) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.reason),
            None => write!(f, "{}: {}", self.path.display(), self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            line: None,
            reason: e.to_string(),
        })?;
        Config::parse(path, &text)
    }

    /// Parses and validates TOML text; `path` only names the source in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let err = |line: Option<usize>, reason: String| ConfigError {
            path: path.to_owned(),
            line,
            reason,
        };
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            err(line, errors::translate(text, e.span(), e.message()))
        })?;
        // For semantic errors, point at the line that sets the key in its table.
        let at = |section: &str, key: &str| find_key_line(text, Some(section), key);
        // Keys whose names are unique across tables.
        let at_any = |key: &str| find_key_line(text, None, key);
        let mut cfg = Config::default();

        let bind = match &file.server.bind {
            Some(b) => b.parse::<IpAddr>().map_err(|_| {
                err(
                    at("server", "bind"),
                    format!("server.bind: {b:?} is not an IP address"),
                )
            })?,
            None => DEFAULT_BIND,
        };
        let port = file.server.port.unwrap_or(DEFAULT_PORT);
        cfg.listen = SocketAddr::new(bind, port);

        if let Some(origins) = file.server.cors_origins {
            if origins.iter().any(|o| o == "*") {
                cfg.cors = CorsPolicy::Any;
            } else {
                for o in &origins {
                    if o.is_empty() || o.ends_with('/') || !o.contains("://") {
                        return Err(err(
                            at("server", "cors_origins"),
                            format!(
                                "server.cors_origins: {o:?} is not an origin like \"https://example.com\""
                            ),
                        ));
                    }
                }
                cfg.cors = CorsPolicy::List(origins);
            }
        }

        let l = &file.limits;
        let positive = |name: &str, v: Option<u64>, default: u64| -> Result<u64, ConfigError> {
            match v {
                Some(0) => Err(err(at_any(name), format!("{name} must be greater than 0"))),
                Some(v) => Ok(v),
                None => Ok(default),
            }
        };
        cfg.limits.max_connections = positive(
            "max_connections",
            l.max_connections.map(|v| v as u64),
            DEFAULT_MAX_CONNECTIONS as u64,
        )? as usize;
        cfg.limits.max_message_bytes = positive(
            "max_message_bytes",
            l.max_message_bytes.map(|v| v as u64),
            DEFAULT_MAX_MESSAGE_BYTES as u64,
        )? as usize;
        let max_signal_bytes =
            max_signal_bytes(l.max_signal_bytes, cfg.limits.max_message_bytes, |reason| {
                err(at("limits", "max_signal_bytes"), reason)
            })?;
        cfg.limits.max_outbound_bytes = positive(
            "max_outbound_bytes",
            l.max_outbound_bytes.map(|v| v as u64),
            DEFAULT_MAX_OUTBOUND_BYTES as u64,
        )? as usize;
        if cfg.limits.max_outbound_bytes < cfg.limits.max_message_bytes + 1024 {
            return Err(err(
                at("limits", "max_outbound_bytes"),
                "limits.max_outbound_bytes must exceed max_message_bytes by at least 1024".into(),
            ));
        }
        cfg.limits.handshake_timeout = Duration::from_millis(positive(
            "handshake_timeout_ms",
            l.handshake_timeout_ms,
            DEFAULT_HANDSHAKE_TIMEOUT_MS,
        )?);
        let ms = Duration::from_millis;
        let lim = &mut cfg.limits;
        lim.message_timeout = ms(positive(
            "message_timeout_ms",
            l.message_timeout_ms,
            DEFAULT_MESSAGE_TIMEOUT_MS,
        )?);
        lim.max_inbound_buffer_bytes = positive(
            "max_inbound_buffer_bytes",
            l.max_inbound_buffer_bytes.map(|v| v as u64),
            DEFAULT_MAX_INBOUND_BUFFER_BYTES as u64,
        )? as usize;
        lim.ping_interval = match l.ping_interval_ms {
            Some(0) => None,
            Some(v) => Some(ms(v)),
            None => Some(ms(DEFAULT_NATIVE_PING_INTERVAL_MS)),
        };
        lim.ping_timeout = ms(positive(
            "ping_timeout_ms",
            l.ping_timeout_ms,
            DEFAULT_NATIVE_PING_TIMEOUT_MS,
        )?);
        lim.register_timeout = match l.register_timeout_ms {
            Some(0) => None,
            Some(v) => Some(ms(v)),
            None => Some(ms(DEFAULT_REGISTER_TIMEOUT_MS)),
        };
        lim.max_connections_per_ip = l
            .max_connections_per_ip
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP);
        lim.max_sessions_per_ip = l.max_sessions_per_ip.unwrap_or(DEFAULT_MAX_SESSIONS_PER_IP);
        lim.events_per_sec = l.events_per_sec.unwrap_or(DEFAULT_EVENTS_PER_SEC);
        lim.events_burst = l.events_burst.unwrap_or(DEFAULT_EVENTS_BURST);
        lim.rate_limit_close_after = positive(
            "rate_limit_close_after",
            l.rate_limit_close_after.map(u64::from),
            u64::from(DEFAULT_RATE_LIMIT_CLOSE_AFTER),
        )? as u32;
        lim.toggles_per_sec = l.toggles_per_sec.unwrap_or(DEFAULT_TOGGLES_PER_SEC);
        lim.toggles_burst = l.toggles_burst.unwrap_or(DEFAULT_TOGGLES_BURST);
        // Unset, the soft limit follows a lowered hard one (a quarter of it at most).
        lim.soft_outbound_bytes = l
            .soft_outbound_bytes
            .unwrap_or(DEFAULT_SOFT_OUTBOUND_BYTES.min(lim.max_outbound_bytes / 4));
        lim.slow_consumer = ms(positive(
            "slow_consumer_ms",
            l.slow_consumer_ms,
            DEFAULT_SLOW_CONSUMER_MS,
        )?);
        lim.linger = ms(l.linger_ms.unwrap_or(DEFAULT_LINGER_MS));
        for (key, rate, burst) in [
            ("events_burst", lim.events_per_sec, lim.events_burst),
            ("toggles_burst", lim.toggles_per_sec, lim.toggles_burst),
        ] {
            if rate > 0 && burst == 0 {
                return Err(err(
                    at("limits", key),
                    format!("limits.{key} must be greater than 0 when its rate is set"),
                ));
            }
        }
        if lim.soft_outbound_bytes >= lim.max_outbound_bytes {
            return Err(err(
                at("limits", "soft_outbound_bytes"),
                "limits.soft_outbound_bytes must be below max_outbound_bytes (0: no soft limit)"
                    .into(),
            ));
        }
        let addresses =
            |key: &str, list: &Option<Vec<String>>| -> Result<Vec<IpAddr>, ConfigError> {
                list.iter()
                    .flatten()
                    .map(|a| {
                        a.parse::<IpAddr>().map_err(|_| {
                            err(
                                at("limits", key),
                                format!("limits.{key}: {a:?} is not an IP address"),
                            )
                        })
                    })
                    .collect()
            };
        cfg.addresses = AddressPolicy {
            exempt: addresses("per_ip_exempt", &l.per_ip_exempt)?,
            trusted_proxies: addresses("trusted_proxies", &l.trusted_proxies)?,
        };

        let s = &file.socketio;
        cfg.socketio.ping_interval = Duration::from_millis(positive(
            "ping_interval_ms",
            s.ping_interval_ms,
            DEFAULT_PING_INTERVAL_MS,
        )?);
        cfg.socketio.ping_timeout = Duration::from_millis(positive(
            "ping_timeout_ms",
            s.ping_timeout_ms,
            DEFAULT_PING_TIMEOUT_MS,
        )?);
        cfg.socketio.max_payload_bytes = positive(
            "max_payload_bytes",
            s.max_payload_bytes.map(|v| v as u64),
            DEFAULT_MAX_PAYLOAD_BYTES as u64,
        )? as usize;
        cfg.socketio.connect_timeout = Duration::from_millis(positive(
            "connect_timeout_ms",
            s.connect_timeout_ms,
            DEFAULT_CONNECT_TIMEOUT_MS,
        )?);

        if cfg.limits.max_outbound_bytes < cfg.socketio.max_payload_bytes + 1024 {
            return Err(err(
                at("limits", "max_outbound_bytes"),
                "limits.max_outbound_bytes must exceed socketio.max_payload_bytes by at least 1024"
                    .into(),
            ));
        }

        cfg.routing = routing(&file.routing, |key, reason| {
            err(at("routing", key), format!("routing.{key}: {reason}"))
        })?;
        cfg.routing.max_signal_bytes = max_signal_bytes;
        cfg.calls = calls(&file.calls, |reason| err(None, reason))?;

        let sess = &file.sessions;
        let dr = ResumeConfig::default();
        let mut resume = ResumeConfig {
            grace: sess.resume_grace_ms.map_or(dr.grace, Duration::from_millis),
            max_events: sess.max_buffered_events.unwrap_or(dr.max_events),
            max_bytes: sess.max_buffered_bytes.unwrap_or(dr.max_bytes),
            keep_sent: sess.keep_sent_events.unwrap_or(dr.keep_sent),
            window_bytes: sess.sent_window_bytes.unwrap_or(dr.window_bytes),
        };
        if resume.window_bytes > 1 << 30 {
            return Err(err(
                at("sessions", "sent_window_bytes"),
                "sessions.sent_window_bytes: at most 1073741824 (1 GiB)".into(),
            ));
        }
        // A replay is queued at once: it must fit the new transport's outbound limit.
        resume.max_bytes = replay_bytes(resume.max_bytes, cfg.limits.max_outbound_bytes);
        if resume.grace > Duration::from_secs(24 * 3600) {
            return Err(err(
                at("sessions", "resume_grace_ms"),
                "sessions.resume_grace_ms: at most 86400000 (a day)".into(),
            ));
        }
        cfg.routing.resume = resume;
        cfg.drain = match sess.drain_ms {
            None | Some(0) => None,
            Some(ms) if ms > 3_600_000 => {
                return Err(err(
                    at("sessions", "drain_ms"),
                    "sessions.drain_ms: at most 3600000 (an hour)".into(),
                ))
            }
            Some(ms) => Some(Duration::from_millis(ms)),
        };

        let m = &file.metrics;
        if m.enabled.unwrap_or(DEFAULT_METRICS_ENABLED) {
            let mbind = match &m.bind {
                Some(b) => b.parse::<IpAddr>().map_err(|_| {
                    err(
                        at("metrics", "bind"),
                        format!("metrics.bind: {b:?} is not an IP address"),
                    )
                })?,
                None => DEFAULT_METRICS_BIND,
            };
            cfg.metrics = Some(SocketAddr::new(
                mbind,
                m.port.unwrap_or(DEFAULT_METRICS_PORT),
            ));
            if let Some(maddr) = cfg.metrics {
                if maddr.port() != 0 && maddr.port() == cfg.listen.port() {
                    return Err(err(
                        at("metrics", "port"),
                        "metrics.port must differ from server.port".into(),
                    ));
                }
            }
        } else {
            cfg.metrics = None;
        }

        if let Some(level) = &file.log.level {
            cfg.log_level = parse_level(level).ok_or_else(|| {
                err(
                    at("log", "level"),
                    format!("log.level: {level:?} is not one of {LEVEL_NAMES}"),
                )
            })?;
        }

        let a = file.auth;
        for (key, path) in [
            ("agent_secret_file", &a.agent_secret_file),
            ("agent_jwks_file", &a.agent_jwks_file),
            ("user_secret_file", &a.user_secret_file),
            ("user_jwks_file", &a.user_jwks_file),
        ] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(err(
                    at("auth", key),
                    format!("auth.{key}: the path is empty (leave the key out to disable it)"),
                ));
            }
        }
        for (key, value) in [("audience", &a.audience), ("issuer", &a.issuer)] {
            if value.as_ref().is_some_and(|v| v.is_empty()) {
                return Err(err(
                    at("auth", key),
                    format!("auth.{key}: must not be empty (leave the key out to not check it)"),
                ));
            }
        }
        cfg.auth = AuthSettings {
            agent_secret_file: a.agent_secret_file,
            agent_jwks_file: a.agent_jwks_file,
            user_secret_file: a.user_secret_file,
            user_jwks_file: a.user_jwks_file,
            audience: a.audience,
            issuer: a.issuer,
            leeway: Duration::from_secs(a.leeway_secs.unwrap_or(DEFAULT_AUTH_LEEWAY_SECS)),
        };
        Ok(cfg)
    }
}

/// The configuration to run on and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    pub config: Config,
    /// The file read; `None`: no file, the built-in defaults.
    pub path: Option<PathBuf>,
}

/// Finds and loads the configuration: the file `explicit` (`--config`) if given, else
/// [`DEFAULT_CONFIG_PATH`] if it exists, else the built-in defaults. An explicit file that
/// is missing is an error, not a reason to fall back.
pub fn discover(explicit: Option<PathBuf>) -> Result<Discovered, ConfigError> {
    discover_in(explicit, Path::new(DEFAULT_CONFIG_PATH))
}

/// [`discover`] with `default` in place of [`DEFAULT_CONFIG_PATH`].
fn discover_in(explicit: Option<PathBuf>, default: &Path) -> Result<Discovered, ConfigError> {
    let path = explicit.or_else(|| default.exists().then(|| default.to_owned()));
    let config = match &path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    Ok(Discovered { config, path })
}

impl Discovered {
    /// The line `--check` prints for a valid configuration.
    pub fn check_message(&self) -> String {
        match &self.path {
            Some(p) => format!("{}: configuration is valid", p.display()),
            None => format!("no config file at {DEFAULT_CONFIG_PATH}; built-in defaults are valid"),
        }
    }

    /// Logs which configuration the daemon runs on, and warns if it lets any web origin
    /// connect. Call once the log level is set from the configuration.
    pub fn log_source(&self) {
        match &self.path {
            Some(p) => log::info!("configuration loaded from {}", p.display()),
            None => {
                log::info!("no config file at {DEFAULT_CONFIG_PATH}: running on built-in defaults")
            }
        }
        if self.config.cors == CorsPolicy::Any {
            log::warn!("cors_origins = [\"*\"]: any web origin may connect");
        }
    }
}

/// The names `parse_level` accepts (in any case), as an error lists them.
pub const LEVEL_NAMES: &str = "off, error, warn (or warning), info, debug, trace";

/// Parses a log level name (as in `[log] level` or SUPPORTD_LOG).
pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
    match s.trim().to_ascii_lowercase().as_str() {
        "off" => Some(log::LevelFilter::Off),
        "error" => Some(log::LevelFilter::Error),
        "warn" | "warning" => Some(log::LevelFilter::Warn),
        "info" => Some(log::LevelFilter::Info),
        "debug" => Some(log::LevelFilter::Debug),
        "trace" => Some(log::LevelFilter::Trace),
        _ => None,
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line setting `key` (inside `[section]` when given).
fn find_key_line(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = name.trim().to_owned();
            continue;
        }
        let in_section = section.is_none_or(|s| s == current);
        let sets_key = l
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if in_section && sets_key {
            return Some(i + 1);
        }
    }
    None
}

#[path = "config_errors.rs"]
mod errors;

#[path = "config_calls.rs"]
mod calls_table;
use calls_table::{calls, max_signal_bytes, FileCalls};
pub use calls_table::{
    turn_rest_credential, CallsConfig, IceAuth, IceServer, Secret, DEFAULT_TURN_TTL_SECS,
};

#[path = "config_routing.rs"]
mod routing_table;
use routing_table::{replay_bytes, routing, FileRouting};

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
