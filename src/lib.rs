//! supportd: a real-time support router. The binary (`src/main.rs`) only wires these together.
pub mod auth;
pub mod cli;
pub mod config;
pub mod log;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod reserve;
pub mod routing;
pub mod service;
pub mod session;
#[cfg(test)]
mod test_clock;
