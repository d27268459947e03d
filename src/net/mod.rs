//! The only code that touches mio and tungstenite: listener, connections, the HTTP heads
//! they start with, signals and the loop that drives the router.
mod engine;
pub mod http;
mod server;
mod signals;
mod stream;

pub use server::{Hooks, LoopError, ReloadHook, ReloadStage, Server, NATIVE_PATH};
