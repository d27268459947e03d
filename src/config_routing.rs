//! The `[routing]` table of the config file, as written and as read over `RoutingConfig`'s
//! defaults, and the cap on a replay's bytes that `[sessions]` gets from `[limits]`. Split
//! from config.rs, whose `Config::load` calls these.
use super::ConfigError;
use crate::routing::{Entry, RoutingConfig, SkillStep, Skills, Strategy};
use serde::Deserialize;
use std::time::Duration;

/// The `[routing]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRouting {
    pub(super) queue: Option<bool>,
    pub(super) max_queue_length: Option<usize>,
    pub(super) max_skill_sets: Option<usize>,
    pub(super) max_wait_ms: Option<u64>,
    pub(super) queue_update_interval_ms: Option<u64>,
    pub(super) strategy: Option<String>,
    pub(super) offer_timeout_ms: Option<u64>,
    pub(super) max_no_answer: Option<u32>,
    pub(super) reject_delay_ms: Option<u64>,
    pub(super) requeue_on_agent_loss: Option<bool>,
    pub(super) wrap_up_ms: Option<u64>,
    pub(super) availability_interval_ms: Option<u64>,
    pub(super) max_capacity: Option<usize>,
    pub(super) default_capacity: Option<usize>,
    pub(super) priority_aging_secs: Option<u64>,
    pub(super) skill_wait_ms: Option<u64>,
    pub(super) entry: Option<Vec<FileEntry>>,
    pub(super) skill_steps: Option<Vec<FileSkillStep>>,
}

/// One `[[routing.entry]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEntry {
    pub(super) name: String,
    pub(super) priority: Option<i32>,
    pub(super) origins: Option<Vec<String>>,
    pub(super) public: Option<bool>,
    pub(super) skills: Option<toml::Value>,
}

/// One `[[routing.skill_steps]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSkillStep {
    pub(super) after_ms: u64,
    pub(super) drop: Option<Vec<String>>,
    pub(super) lower: Option<toml::Value>,
    pub(super) strict: Option<bool>,
}

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
        max_skill_sets: r.max_skill_sets.unwrap_or(d.max_skill_sets),
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
        entries: entries(r.entry.as_deref().unwrap_or_default(), &err)?,
        skill_steps: steps(r.skill_steps.as_deref().unwrap_or_default(), &err)?,
        skill_wait: r.skill_wait_ms.map_or(d.skill_wait, ms),
        priority_aging: match r.priority_aging_secs {
            None | Some(0) => d.priority_aging,
            Some(s) if s > 1_000_000 => {
                return Err(err("priority_aging_secs", "must be at most 1000000".into()))
            }
            Some(s) => Some(Duration::from_secs(s)),
        },
    })
}

/// Skills from a config value (a table of levels or an array of names).
fn skills_of(v: Option<&toml::Value>) -> Result<Skills, String> {
    let Some(v) = v else {
        return Ok(Skills::default());
    };
    let json = serde_json::to_value(v).map_err(|e| e.to_string())?;
    Skills::from_json(&json)
}

/// The `[[routing.entry]]` tables: names unique, priorities in range.
fn entries(
    files: &[FileEntry],
    err: &impl Fn(&str, String) -> ConfigError,
) -> Result<Vec<Entry>, ConfigError> {
    let mut out: Vec<Entry> = Vec::new();
    for f in files {
        if f.name.is_empty() || out.iter().any(|e| e.name == f.name) {
            return Err(err(
                "entry.name",
                format!("{:?} is empty or named twice", f.name),
            ));
        }
        let priority = f.priority.unwrap_or(0);
        if !crate::routing::PRIORITY_RANGE.contains(&priority) {
            return Err(err(
                "entry.priority",
                format!("{priority} is outside -1000..=1000"),
            ));
        }
        out.push(Entry {
            name: f.name.clone(),
            priority,
            origins: f.origins.clone().unwrap_or_default(),
            public: f.public.unwrap_or(false),
            skills: skills_of(f.skills.as_ref()).map_err(|e| err("entry.skills", e))?,
        });
    }
    Ok(out)
}

/// The `[[routing.skill_steps]]` tables: in increasing `after_ms`, `strict` on the last only.
fn steps(
    files: &[FileSkillStep],
    err: &impl Fn(&str, String) -> ConfigError,
) -> Result<Vec<SkillStep>, ConfigError> {
    let mut out: Vec<SkillStep> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let after = Duration::from_millis(f.after_ms);
        if out.last().is_some_and(|s| s.after >= after) {
            return Err(err(
                "skill_steps.after_ms",
                "steps must be in increasing after_ms".into(),
            ));
        }
        let strict = f.strict.unwrap_or(false);
        if strict && i + 1 != files.len() {
            return Err(err(
                "skill_steps.strict",
                "only the last step may be strict".into(),
            ));
        }
        out.push(SkillStep {
            after,
            drop: f
                .drop
                .iter()
                .flatten()
                .map(|s| std::sync::Arc::from(s.as_str()))
                .collect(),
            lower: skills_of(f.lower.as_ref()).map_err(|e| err("skill_steps.lower", e))?,
            strict,
        });
    }
    Ok(out)
}
