//! The only code that touches mio and tungstenite: the listener, connections and the HTTP
//! requests they start with, WebSockets, the Engine.IO sessions' sockets, signals, the
//! inbox from side threads, and the loop that drives the router.
//!
//! Files, leaves first (no file imports one below it): `http` (request heads, responses,
//! chunked bodies), `per_ip` (per-source-address counts), `stream`, `listener`, `keepalive`
//! (a WebSocket's liveness deadlines), `conn` (a connection's phases and the table),
//! `timers`, `ratelimit` (per-connection token buckets), `peers` (router ids to carriers),
//! `sessions` (Engine.IO session slots),
//! `signals`, `inbox`; then `server` (what the loop owns, the turn order), and the steps it
//! runs: `accept` (admission: the connection limits, out of descriptors), `turn`
//! (readiness, deadlines, reaping), `request` (HTTP), `ws` (WebSockets, flushing), `linger`
//! (lingering close), `engine` (Socket.IO glue), `deliver` (router in and out), `control`
//! (reload, shutdown).
mod accept;
mod conn;
mod control;
mod deliver;
mod engine;
pub mod http;
mod identity;
mod inbound;
mod inbox;
mod keepalive;
mod linger;
mod listener;
mod peers;
mod per_ip;
mod ratelimit;
mod recover;
mod request;
mod server;
mod sessions;
mod signals;
mod stream;
mod timers;
mod turn;
mod ws;

pub use inbox::{Command, InboxSender};
pub use request::{NATIVE_PATH, SOCKETIO_PATH};
pub use server::{Hooks, LoopError, ReloadHook, ReloadStage, Server};
