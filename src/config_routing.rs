//! The `[routing]` table of the config file, read over `RoutingConfig`'s defaults, and the
//! cap on a replay's bytes that `[sessions]` gets from `[limits]`. Split from config.rs,
//! whose `Config::load` calls these.
use super::{ConfigError, FileRouting};
use crate::routing::{RoutingConfig, Strategy};
use std::time::Duration;

/// The largest `max_capacity` accepted (chats per agent).
const MAX_CAPACITY: usize = 1000;

/// The bytes a party's replay may hold: as configured, at most `max_outbound` less 16 KiB
/// (room for the answers queued with it), so that a replay fits any receiver's queue.
pub(super) fn replay_bytes(configured: usize, max_outbound: usize) -> usize {
    configured.min(max_outbound.saturating_sub(16 * 1024))
}

/// The `[routing]` table over the defaults; `err(key, reason)` builds the error for a key.
pub(super) fn routing(
    r: &FileRouting,
    err: impl Fn(&str, String) -> ConfigError,
) -> Result<RoutingConfig, ConfigError> {
    let d = RoutingConfig::default();
    let ms = Duration::from_millis;
    // 0 means "off" or "unlimited" for these; anything else is a duration.
    let optional = |v: Option<u64>, dflt: Option<Duration>| match v {
        Some(0) => None,
        Some(v) => Some(ms(v)),
        None => dflt,
    };
    let strategy = match &r.strategy {
        None => d.strategy,
        Some(name) => Strategy::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
            err(
                "strategy",
                format!("{name:?} is not one of {}", names.join(", ")),
            )
        })?,
    };
    if r.queue_update_interval_ms == Some(0) {
        return Err(err(
            "queue_update_interval_ms",
            "must be greater than 0".into(),
        ));
    }
    let max_capacity = r.max_capacity.unwrap_or(d.max_capacity);
    if !(1..=MAX_CAPACITY).contains(&max_capacity) {
        return Err(err(
            "max_capacity",
            format!("must be from 1 to {MAX_CAPACITY}"),
        ));
    }
    let default_capacity = r.default_capacity.unwrap_or(d.default_capacity);
    if !(1..=max_capacity).contains(&default_capacity) {
        return Err(err(
            "default_capacity",
            format!("must be from 1 to max_capacity ({max_capacity})"),
        ));
    }
    Ok(RoutingConfig {
        queue: r.queue.unwrap_or(d.queue),
        max_queue_length: r.max_queue_length.unwrap_or(d.max_queue_length),
        max_wait: optional(r.max_wait_ms, d.max_wait),
        queue_update_interval: r
            .queue_update_interval_ms
            .map_or(d.queue_update_interval, ms),
        strategy,
        offer_timeout: optional(r.offer_timeout_ms, d.offer_timeout),
        max_no_answer: r.max_no_answer.unwrap_or(d.max_no_answer),
        reject_delay: r.reject_delay_ms.map_or(d.reject_delay, ms),
        requeue_on_agent_loss: r.requeue_on_agent_loss.unwrap_or(d.requeue_on_agent_loss),
        wrap_up: r.wrap_up_ms.map_or(d.wrap_up, ms),
        availability_interval: r
            .availability_interval_ms
            .map_or(d.availability_interval, ms),
        resume: d.resume,
        max_capacity,
        default_capacity,
        max_signal_bytes: d.max_signal_bytes,
    })
}
