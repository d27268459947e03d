//! The sans-IO routing core: users, agents, calls. It never touches sockets, the event loop,
//! framing or the clock: time comes in as a parameter, and everything it wants done comes out
//! as `Output`s the loop drains. Its tests run on a virtual clock.
//!
//! Layout: `router` (the `Router` type, its inputs and outputs) dispatches to `requests` (one
//! rule per client event), which act on `party` (who is registered, on which connection),
//! `call` (calls and rooms), `select` (which free agent gets a call) and `timer` (deadlines);
//! `payload` reads request data; `ids`, `event` and `data` are the vocabulary shared with the
//! protocol layer.
mod call;
mod data;
mod event;
mod ids;
mod party;
mod payload;
mod requests;
mod router;
mod select;
mod timer;

pub use data::{is_message_event, Attachments, EventData, MessageData};
pub use event::{ClientEvent, EndReason, ErrorCode, Rejection, Role, ServerEvent};
pub use ids::{CallId, ConnId, IdRef, PeerId, MAX_ID_BYTES};
pub use router::{Output, Router, Stats};
