//! What every task of a run shares: the options, the target and the counters.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use crate::cli::{Args, Proto};
use crate::measure::Window;
use crate::target::Target;

#[derive(Default)]
pub struct Counters {
    pub errors: AtomicU64,
    pub error_codes: Mutex<BTreeMap<String, u64>>,
    pub disconnects: AtomicU64,
    pub gaa: AtomicU64,
    pub gaa_window: AtomicU64,
    pub timeouts: AtomicU64,
    pub no_agent: AtomicU64,
    pub end_timeouts: AtomicU64,
    pub unexpected: AtomicU64,
}

impl Counters {
    pub fn error(&self, code: &str) {
        self.errors.fetch_add(1, Relaxed);
        *self
            .error_codes
            .lock()
            .unwrap()
            .entry(code.to_string())
            .or_default() += 1;
    }
    pub fn error_event(&self, data: &str) {
        let code = field_str(data, "code").unwrap_or_else(|| "unknown".into());
        self.error(&code);
    }
    /// One `getAvailableAgents` frame, counted also per window when it falls inside `w`.
    pub fn gaa(&self, w: Option<Window>) {
        self.gaa.fetch_add(1, Relaxed);
        if w.is_some_and(|w| w.contains(Instant::now())) {
            self.gaa_window.fetch_add(1, Relaxed);
        }
    }
}

pub struct Ctx {
    pub args: Args,
    pub proto: Proto,
    pub target: Target,
    pub counters: Counters,
}

impl Ctx {
    pub fn src(&self, i: usize) -> Option<Ipv4Addr> {
        if self.args.sources == 0 || !self.target.addr.is_ipv4() {
            return None;
        }
        Some(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % self.args.sources as usize) as u8,
        ))
    }
}

/// A string field of a JSON object's text.
pub fn field_str(data: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    v.get(key)?.as_str().map(|s| s.to_string())
}
