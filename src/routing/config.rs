//! The routing settings (the `[routing]` table of the config file) as the core reads them.
//!
//! Why: every queueing, selection, offer and wrap-up rule reads its knobs from one plain
//! value the loop hands over at start-up (`Router::with_config`) and on SIGHUP
//! (`Router::set_config`), so the core never parses files and a reload is one assignment.
//!
//! Invariant: a `RoutingConfig` is always usable as it is (every combination of values is
//! meaningful: zero durations and lengths mean "off" or "unlimited" as documented per field);
//! a reload applies to decisions taken after it, never to deadlines already set.
use super::skills::{Entry, SkillStep};
use std::time::Duration;

/// The default `[limits] max_signal_bytes`: real SDP offers reach 13 KB with candidates.
pub const DEFAULT_MAX_SIGNAL_BYTES: usize = 32 * 1024;

/// How the router picks among the agents eligible for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// The agent whose last call ended (or who became available) earliest.
    #[default]
    LongestIdle,
    /// Agents in registration order, starting after the last one chosen.
    RoundRobin,
    /// Fewest calls taken since registration, ties by longest idle.
    FewestCalls,
    /// Least total time in calls since registration, ties by longest idle.
    LeastTalkTime,
    /// The earliest registered eligible agent (the original's list order).
    FirstAvailable,
    /// Uniform among eligible agents.
    Random,
}

impl Strategy {
    /// Every strategy, in declaration order.
    pub const ALL: [Strategy; 6] = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::FirstAvailable,
        Strategy::Random,
    ];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::LeastTalkTime => "least-talk-time",
            Strategy::FirstAvailable => "first-available",
            Strategy::Random => "random",
        }
    }

    /// The strategy of a config-file name (exact match).
    pub fn from_name(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The default `max_skill_sets`: far more distinct requirements than a skills setup has,
/// few enough that a freed agent looks at them in microseconds.
pub const DEFAULT_MAX_SKILL_SETS: usize = 1000;

/// The routing settings; `Default` is the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// Queue users when no agent is eligible (false: refuse with `no_agent_available`).
    pub queue: bool,
    /// Most users queued at once; 0 = unlimited.
    pub max_queue_length: usize,
    /// Most distinct skill requirements waiting at once (a new one past it is refused with
    /// `queue_full`); 0 = unlimited. It bounds what a freed agent looks at.
    pub max_skill_sets: usize,
    /// Longest a user waits in the queue before `callEnded {reason:"timeout"}`; None = forever.
    pub max_wait: Option<Duration>,
    /// Least time between two `queued` position updates to one user.
    pub queue_update_interval: Duration,
    /// How the agent for a call is picked.
    pub strategy: Strategy,
    /// How long an agent has to accept an offered call; None = no offer, connect at once.
    pub offer_timeout: Option<Duration>,
    /// Offers in a row an agent may let expire before it is made unavailable; 0 = off.
    pub max_no_answer: u32,
    /// How long an agent that rejected a call is offered none.
    pub reject_delay: Duration,
    /// Put a user whose agent disconnected mid-call back in the queue (else end the call).
    pub requeue_on_agent_loss: bool,
    /// An agent's wrap-up time after each connected call; zero = none.
    pub wrap_up: Duration,
    /// Least time between two `getAvailableAgents` broadcasts; zero = once per loop turn.
    pub availability_interval: Duration,
    /// How parties that lose their connection are held for a resume (`[sessions]`).
    pub resume: ResumeConfig,
    /// Most chats one agent may hold at once (a larger request is lowered to it).
    pub max_capacity: usize,
    /// An agent's capacity when neither its token nor its `connectAgent` says one.
    pub default_capacity: usize,
    /// Largest `signal` data relayed, in bytes as serialized (`[limits] max_signal_bytes`).
    pub max_signal_bytes: usize,
    /// Named entry points (`[[routing.entry]]`) giving a call priority and skills.
    pub entries: Vec<Entry>,
    /// How a call's skill requirement relaxes while the user waits, in `after` order.
    pub skill_steps: Vec<SkillStep>,
    /// How long the requirement left after the last step (all of it, with no steps) holds
    /// before any agent may take the call (unless the last step is strict).
    pub skill_wait: Duration,
    /// Waiting this long raises a user's effective priority by one (continuously); None = off.
    pub priority_aging: Option<Duration>,
}

impl RoutingConfig {
    /// The entry point named `name`.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// The resume settings (the `[sessions]` table): how long a party whose connection dropped
/// is held, and how much may be buffered for it meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeConfig {
    /// How long a dropped party is held; zero = not at all (a drop ends it at once).
    pub grace: Duration,
    /// Most events kept for one party (sent recently, or since its connection dropped).
    pub max_events: usize,
    /// Most bytes (of event data) kept for one party.
    pub max_bytes: usize,
    /// Most events kept for a connected party (what may be in flight when its connection
    /// drops); a small window keeps a busy party's memory, and the relay's cache, small.
    pub keep_sent: usize,
    /// Bytes of the one ring that keeps connected parties' recent events (`SentRing`).
    pub window_bytes: usize,
}

impl ResumeConfig {
    /// Whether dropped parties are held at all (events are then kept for a replay).
    pub fn enabled(&self) -> bool {
        !self.grace.is_zero() && self.max_events > 0 && self.max_bytes > 0
    }

    /// The bounds of each party's outbox.
    pub(super) fn bounds(&self) -> super::outbox::Bounds {
        super::outbox::Bounds {
            events: self.max_events,
            bytes: self.max_bytes,
            connected: self.keep_sent,
        }
    }
}

impl Default for ResumeConfig {
    /// The documented defaults: 30 s, 1000 events, 1 MiB, 16 events while connected, in a
    /// shared window of 8 MiB.
    fn default() -> Self {
        ResumeConfig {
            grace: Duration::from_millis(30_000),
            max_events: 1000,
            max_bytes: 1024 * 1024,
            keep_sent: 16,
            window_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Default for RoutingConfig {
    /// The documented defaults: queueing on, unlimited, longest-idle, no offers, no wrap-up,
    /// one chat per agent.
    fn default() -> Self {
        RoutingConfig {
            queue: true,
            max_queue_length: 0,
            max_skill_sets: DEFAULT_MAX_SKILL_SETS,
            max_wait: None,
            queue_update_interval: Duration::from_millis(1000),
            strategy: Strategy::LongestIdle,
            offer_timeout: None,
            max_no_answer: 0,
            reject_delay: Duration::ZERO,
            requeue_on_agent_loss: true,
            wrap_up: Duration::ZERO,
            availability_interval: Duration::from_millis(100),
            resume: ResumeConfig::default(),
            max_capacity: 1,
            default_capacity: 1,
            max_signal_bytes: DEFAULT_MAX_SIGNAL_BYTES,
            entries: Vec::new(),
            skill_steps: Vec::new(),
            skill_wait: Duration::from_millis(30_000),
            priority_aging: None,
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
