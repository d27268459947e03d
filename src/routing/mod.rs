//! The sans-IO routing core: users, agents, calls. It never touches sockets, the event loop,
//! framing or the clock: time comes in as a parameter, and everything it wants done comes out
//! as `Output`s the loop drains. Its tests run on a virtual clock.
//!
//! Layout: `router` (the `Router` type, its inputs and outputs) dispatches to `requests` (one
//! rule per client event), which act on `party` (who is registered, on which connection),
//! `call` (calls and rooms), `queue` (users waiting for an agent), `select` (which ready
//! agent gets a call, by `config`'s strategy), `skills` (skill levels, requirements and their
//! steps, priority ranks) and `timer` (deadlines); `dispatch` routes
//! waiting users and ready agents to each other (offers, re-routing, wrap-up); `payload`
//! reads request data; `ids`, `event` and `data` are the vocabulary shared with the protocol
//! layer, `report` the one shared with metrics.
mod call;
mod config;
mod data;
mod dispatch;
mod event;
mod ids;
mod invariants;
mod outbox;
mod party;
mod payload;
mod queue;
mod report;
mod requests;
mod resume;
mod router;
mod select;
mod sent_ring;
mod signal;
mod skill_ready;
mod skills;
#[cfg(test)]
mod testkit;
mod timer;

pub use config::{ResumeConfig, RoutingConfig, Strategy, DEFAULT_MAX_SIGNAL_BYTES};
pub use data::{is_message_event, Attachments, EventData, MessageData};
pub use event::{
    AvailabilityReason, ClientEvent, EndReason, ErrorCode, MediaKind, Muted, QueueReason,
    Rejection, Role, ServerEvent,
};
pub use ids::{CallId, ConnId, IdRef, PeerId, MAX_ID_BYTES};
pub use invariants::UserPlace;
pub use outbox::ResumeKey;
pub use report::{AgentState, HoldResult, OfferResult, QueueOutcome};
pub use resume::ClientSeq;
pub use router::{Output, Router, Stats};
pub use skills::{Entry, Identity, SkillStep, Skills, PRIORITY_RANGE};
