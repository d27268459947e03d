//! The service manager's side of the loop: systemd readiness, watchdog, reload and stopping
//! notifications, and the `/healthz` heartbeat, as `net::Hooks`. Every notification is a
//! no-op when NOTIFY_SOCKET is unset.
use crate::metrics;
use crate::net::{Hooks, ReloadStage};
use sd_notify::NotifyState;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the loop stamps the health heartbeat when otherwise idle.
pub const HEARTBEAT_TICK: Duration = Duration::from_secs(1);

/// Tells systemd our state; a failure is logged, never fatal.
pub fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        log::warn!("sd_notify failed: {e}");
    }
}

/// Tells systemd start-up is complete (`READY=1`).
pub fn ready() {
    notify(&[NotifyState::Ready]);
}

/// Heartbeat, watchdog and reload/stop notifications for the service manager: each loop
/// turn stamps `heartbeat` and, when the watchdog is enabled, pings it at half its period.
pub fn hooks(heartbeat: Arc<AtomicU64>) -> Hooks {
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut last_ping = Instant::now();
    Hooks {
        on_turn: Some(Box::new(move || {
            metrics::stamp(&heartbeat);
            if let Some(every) = watchdog {
                if last_ping.elapsed() >= every {
                    last_ping = Instant::now();
                    notify(&[NotifyState::Watchdog]);
                }
            }
        })),
        on_reload: Some(Box::new(|stage| match stage {
            ReloadStage::Started => {
                let mut states = vec![NotifyState::Reloading];
                if let Ok(now) = NotifyState::monotonic_usec_now() {
                    states.push(now);
                }
                notify(&states);
            }
            ReloadStage::Applied | ReloadStage::Failed => ready(),
        })),
        on_stopping: Some(Box::new(|| notify(&[NotifyState::Stopping]))),
        tick: Some(match watchdog {
            Some(w) => w.min(HEARTBEAT_TICK),
            None => HEARTBEAT_TICK,
        }),
    }
}
