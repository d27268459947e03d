//! Sans-IO transport sessions: the state a client connection carries above its framing,
//! kept apart from sockets so that it runs (and is tested) on a virtual clock like the
//! router. Today that is the Engine.IO/Socket.IO session; native keepalive and resume
//! will live here too. Nothing here touches sockets, mio, tungstenite or the clock.
mod binary;
pub mod engineio;

pub use binary::{placeholders_valid, BinaryEvent};
pub use engineio::{
    Ack, CloseReason, EioSession, Inbound, Push, SessionConfig, SessionOutput, Transport, Via,
};
