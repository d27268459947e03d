//! What the loop does when told from outside: signals (SIGHUP reload, SIGTERM/SIGINT
//! shutdown) and commands from side threads through the inbox. Invariant: a reload is all
//! or nothing, and shutdown begins once.
use super::conn::Phase;
use super::inbox::Command;
use super::server::{ReloadStage, Server};
use crate::config::{Config, CorsPolicy};
use crate::session::CloseReason;
use log::{error, info, warn};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;

/// Time clients get to answer the close frames sent at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

impl Server {
    /// Acts on the signals received since the last turn.
    pub(super) fn handle_signals(&mut self, now: Instant) {
        let pending = self.signals.take();
        if pending.reload {
            self.reload();
        }
        if pending.shutdown {
            self.begin_shutdown(now);
        }
    }

    /// Runs the commands side threads have sent.
    pub(super) fn handle_inbox(&mut self, now: Instant) {
        while let Some(command) = self.inbox.next() {
            match command {
                Command::Reload => self.reload(),
                Command::Shutdown => self.begin_shutdown(now),
            }
        }
    }

    /// Re-reads the config file; all or nothing.
    fn reload(&mut self) {
        let Some(path) = self.config_path.clone() else {
            warn!("SIGHUP ignored: running on built-in defaults, no config file to re-read");
            return;
        };
        if let Some(f) = self.hooks.on_reload.as_mut() {
            f(ReloadStage::Started);
        }
        let loaded = Config::load(&path).and_then(|new| {
            // Keys are part of the configuration: a bad key file fails the whole reload.
            let keys =
                crate::auth::Keys::load(&new.auth).map_err(|e| crate::config::ConfigError {
                    path: path.clone(),
                    line: None,
                    reason: format!("[auth]: {e}"),
                })?;
            Ok((new, keys))
        });
        match loaded {
            Ok((new, keys)) => {
                self.keys = keys;
                self.recheck_identities();
                if new.listen != self.config.listen {
                    warn!(
                        "reload: server address changed to {} (still on {}); it takes effect after a restart",
                        new.listen, self.config.listen
                    );
                }
                if new.metrics != self.config.metrics {
                    warn!("reload: metrics address changed; it takes effect after a restart");
                }
                if new.cors == CorsPolicy::Any && self.config.cors != CorsPolicy::Any {
                    warn!("cors_origins = [\"*\"]: any web origin may connect");
                }
                crate::log::set_level(new.log_level);
                let listen = self.config.listen;
                let metrics = self.config.metrics;
                self.config = Config {
                    listen,
                    metrics,
                    ..new
                };
                let now = self.now;
                self.router.set_config(now, self.config.routing.clone());
                let settings = self.session_config();
                for key in self.sessions.keys() {
                    if let Some(slot) = self.sessions.get_mut(key) {
                        slot.eio.set_config(settings);
                    }
                }
                info!("configuration reloaded from {}", path.display());
                self.metrics.config_reload(true);
                if let Some(f) = self.hooks.on_reload.as_mut() {
                    f(ReloadStage::Applied);
                }
            }
            Err(e) => {
                error!("reload failed, keeping the running configuration: {e}");
                self.metrics.config_reload(false);
                if let Some(f) = self.hooks.on_reload.as_mut() {
                    f(ReloadStage::Failed);
                }
            }
        }
    }

    /// Stops accepting and sends close 1001 to every client (once); with `[sessions]
    /// drain_ms`, close 1012 ("service restart": reconnect, elsewhere or later) and up to
    /// that long for clients to go.
    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown_at.is_some() {
            return;
        }
        let (code, why, grace) = match self.config.drain {
            Some(d) => (CloseCode::Restart, "service restart", d),
            None => (CloseCode::Away, "server shutting down", SHUTDOWN_GRACE),
        };
        info!(
            "shutting down: closing {} connections ({} ms for them to go)",
            self.conns.len(),
            grace.as_millis()
        );
        if let Some(f) = self.hooks.on_stopping.as_mut() {
            f();
        }
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.shutdown_at = Some(now + grace);
        // Socket.IO sessions first: held polls get the close packet, carriers close 1001 or
        // 1012 (a session closing once shutdown has begun picks the shutdown's code).
        for key in self.sessions.keys() {
            self.close_session(now, key, CloseReason::Shutdown);
        }
        for token in self.conns.tokens() {
            match self.conns.get_mut(token).map(|c| &mut c.phase) {
                Some(Phase::Ws { .. }) => self.close_ws(now, token, code, why),
                // Responses under way may finish within the grace period.
                Some(Phase::Reply { close, .. }) => *close = true,
                // Already closed for the client; its close frame or response must not be
                // reset by a drop (the shutdown grace ends the linger at the latest).
                Some(Phase::Linger { .. }) => {}
                _ => self.conns.kill(token),
            }
        }
    }
}
