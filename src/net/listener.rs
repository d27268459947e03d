//! The client listener's socket set-up: a large backlog, and the per-connection options
//! (TCP_NODELAY, keepalive) set once on the listener so that Linux copies them to every
//! accepted socket instead of costing syscalls per connection.
use log::warn;
use mio::net::TcpListener;
use std::io;
use std::time::Duration;

/// TCP keepalive: first probe after this much silence, then every interval, so many times.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEPALIVE_RETRIES: u32 = 6;
/// Pending connections the kernel may queue (capped by net.core.somaxconn).
const LISTEN_BACKLOG: i32 = 4096;

/// Binds the client listener with a backlog sized for connection bursts.
pub fn listen(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    if let Err(e) = set_stream_options(&socket) {
        warn!("cannot set TCP_NODELAY/keepalive on the listener: {e}");
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// TCP_NODELAY, and keepalive so that peers that vanish without a FIN are found.
pub fn set_stream_options(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_tcp_nodelay(true)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    socket.set_tcp_keepalive(&keepalive)
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
