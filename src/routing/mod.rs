//! The sans-IO routing core: users, agents, calls. It never touches sockets, the event loop,
//! framing or the clock: time comes in as a parameter, and everything it wants done comes out
//! as `Output`s the loop drains. Its tests run on a virtual clock.
mod data;
mod event;
mod ids;
mod router;

pub use data::{is_message_event, Attachments, EventData, MessageData};
pub use event::{ClientEvent, EndReason, ErrorCode, Rejection, Role, ServerEvent};
pub use ids::{CallId, ConnId, IdRef, PeerId, MAX_ID_BYTES};
pub use router::{Output, Router, Stats};
