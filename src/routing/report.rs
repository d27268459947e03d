//! What the router reports for metrics beside its sends: how a stay in the queue ended, how
//! an offer ended, and which state each agent is in.
//!
//! Why: the loop turns these into Prometheus series (`support_queue_wait_seconds{outcome}`,
//! `support_offers_total{result}`, `support_agents{state}`); fixed enums with `ALL` and
//! `as_str` let it index tables by value, as it does for events and error codes.
//!
//! Invariant: each enum's `ALL` lists its variants in declaration order (a variant's
//! discriminant is its index), and `as_str` is the exported label value.

/// How a user's wait for an agent ended (`Output::QueueLeft`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueOutcome {
    /// Connected to an agent (at once or after waiting).
    Answered,
    /// The user sent `leaveCall` while waiting.
    Cancelled,
    /// `max_wait_ms` ran out.
    Timeout,
    /// The user disconnected while waiting.
    Disconnected,
}

impl QueueOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [QueueOutcome; 4] = [
        QueueOutcome::Answered,
        QueueOutcome::Cancelled,
        QueueOutcome::Timeout,
        QueueOutcome::Disconnected,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueOutcome::Answered => "answered",
            QueueOutcome::Cancelled => "cancelled",
            QueueOutcome::Timeout => "timeout",
            QueueOutcome::Disconnected => "disconnected",
        }
    }
}

/// How an offer to an agent ended (`Output::Offer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferResult {
    /// The agent sent `acceptCall`.
    Accepted,
    /// The agent sent `rejectCall`.
    Rejected,
    /// Not answered in time, or withdrawn (the user left, timed out or disconnected, or the
    /// agent disconnected).
    Expired,
}

impl OfferResult {
    /// Every result, in declaration order.
    pub const ALL: [OfferResult; 3] = [
        OfferResult::Accepted,
        OfferResult::Rejected,
        OfferResult::Expired,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferResult::Accepted => "accepted",
            OfferResult::Rejected => "rejected",
            OfferResult::Expired => "expired",
        }
    }
}

/// Where a registered agent is, as `Stats::agents_by_state` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// Would accept a call now (counted in `getAvailableAgents`).
    Ready,
    /// In a call.
    Busy,
    /// A call is offered to it, waiting for its answer.
    Offered,
    /// In wrap-up after a call.
    WrapUp,
    /// Unavailable: toggled off, made unavailable after `max_no_answer`, or in its reject delay.
    Away,
    /// Its connection dropped; held for a resume (`[sessions] resume_grace_ms`).
    Held,
}

impl AgentState {
    /// Every state, in declaration order.
    pub const ALL: [AgentState; 6] = [
        AgentState::Ready,
        AgentState::Busy,
        AgentState::Offered,
        AgentState::WrapUp,
        AgentState::Away,
        AgentState::Held,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Ready => "ready",
            AgentState::Busy => "busy",
            AgentState::Offered => "offered",
            AgentState::WrapUp => "wrap_up",
            AgentState::Away => "away",
            AgentState::Held => "held",
        }
    }
}

/// How a hold for a resume ended (`Output::Hold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldResult {
    /// The party was resumed on a new connection.
    Resumed,
    /// The grace ran out.
    Expired,
    /// What it missed overflowed `max_buffered_events` or `max_buffered_bytes`.
    Overflowed,
    /// A resume came, but events it missed were no longer kept: it started over.
    Gap,
}

impl HoldResult {
    /// Every result, in declaration order.
    pub const ALL: [HoldResult; 4] = [
        HoldResult::Resumed,
        HoldResult::Expired,
        HoldResult::Overflowed,
        HoldResult::Gap,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldResult::Resumed => "resumed",
            HoldResult::Expired => "expired",
            HoldResult::Overflowed => "overflowed",
            HoldResult::Gap => "gap",
        }
    }
}
