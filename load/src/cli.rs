//! Command line: the scenario, the wire protocol, the server kind and every option.

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Scenario {
    /// P users each keep K userMessage in flight; agents answer with agentMessage.
    Relay,
    /// P pairs repeatedly set up and end calls.
    Calls,
    /// Open N connections B at a time and hold them.
    Connect,
    /// Plain WebSocket echo (examples/echo_baseline.rs): K in flight per connection.
    Echo,
    /// More users than agents, calls of random length: a server that queues (supportd only).
    Queue,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Proto {
    /// supportd's own: {"event":NAME,"data":VALUE} per text frame, URL ws://HOST:PORT/ws
    Native,
    /// Socket.IO v5 over Engine.IO v4, WebSocket transport only
    Socketio,
    /// raw text frames echoed back (echo scenario only)
    Echo,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Kind {
    /// supportd: sends `registered`, `callEnded`, `error` frames
    Supportd,
    /// the original Node server: no `registered`, no reply to connectUser, no callEnded,
    /// callAgent with no free agent silently dropped, leaveCall needs agentId
    Original,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Role {
    Users,
    Agents,
    Both,
}

#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Bounded loopback-only load generator for supportd and the original Socket.IO server"
)]
pub struct Args {
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// wire protocol (default: native; echo for the echo scenario)
    #[arg(long, value_enum)]
    pub proto: Option<Proto>,
    /// target URL (loopback only). Defaults: native ws://127.0.0.1:18081/ws,
    /// socketio ws://127.0.0.1:18080/socket.io/?EIO=4&transport=websocket, echo ws://127.0.0.1:18082/
    #[arg(long)]
    pub url: Option<String>,
    /// which server's behaviour to expect
    #[arg(long, value_enum, default_value = "supportd")]
    pub server_kind: Kind,
    /// relay/calls: agent+user pairs; echo: connections
    #[arg(long, default_value_t = 100)]
    pub pairs: usize,
    /// relay/echo: messages in flight per user connection
    #[arg(long, default_value_t = 1)]
    pub inflight: usize,
    /// relay/echo: messageInput payload size in bytes (min 20)
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// measurement window, seconds
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// warmup before the measurement window, seconds
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// connect: number of connections
    #[arg(long, default_value_t = 1000)]
    pub conns: usize,
    /// connect: which kind of clients to open
    #[arg(long, value_enum, default_value = "users")]
    pub role: Role,
    /// connect: connections opened concurrently per batch (also used for setup of other scenarios)
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// connect: seconds to hold all connections open after the last is open
    #[arg(long, default_value_t = 2.0)]
    pub hold: f64,
    /// server process id, for CPU seconds (/proc/PID/stat) and RSS (/proc/PID/status)
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// number of loopback source addresses 127.0.0.1..=127.0.0.k to spread sockets over
    #[arg(long, default_value_t = 16)]
    pub sources: u8,
    /// generator threads (1 = tokio current_thread runtime)
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// timeout for one connection setup / registration, milliseconds (queue: also the
    /// longest wait for an assignment before the user gives up, cancels and calls again)
    #[arg(long, default_value_t = 10000)]
    pub timeout_ms: u64,
    /// calls: per-attempt timeout waiting for the callAgent reply (and callEnded), milliseconds
    /// (queue: the wait for callEnded after leaveCall)
    #[arg(long, default_value_t = 1000)]
    pub call_timeout_ms: u64,
    /// queue: user connections (each calls again as soon as its call has ended)
    #[arg(long, default_value_t = 400)]
    pub users: usize,
    /// queue: agent connections (each accepts every call)
    #[arg(long, default_value_t = 20)]
    pub agents: usize,
    /// queue: shortest call, milliseconds (call lengths are uniform in [min, max])
    #[arg(long, default_value_t = 50)]
    pub call_ms_min: u64,
    /// queue: longest call, milliseconds
    #[arg(long, default_value_t = 500)]
    pub call_ms_max: u64,
    /// queue: seed of the call lengths (default: from the clock; the JSON line has it)
    #[arg(long)]
    pub seed: Option<u64>,
    /// free-form label copied into the JSON line
    #[arg(long)]
    pub label: Option<String>,
}
