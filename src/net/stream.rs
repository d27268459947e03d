//! A TCP stream with a queue of raw bytes (an HTTP response head) that goes out before
//! anything written through it, so a WebSocket can start while its 101 response is still
//! draining.
use super::inbound::Inbound;
use mio::net::TcpStream;
use std::io::{self, Read, Write};

/// Most bytes the raw queue takes from later writes (so a peer that never reads cannot grow it).
const MERGE_LIMIT: usize = 16 * 1024;

/// The socket a connection owns, in every phase.
pub struct Stream {
    pub tcp: TcpStream,
    pre: Vec<u8>,
    /// A read came back short: the socket is empty until the next readiness event, so the
    /// next read reports WouldBlock without a syscall (edge-triggered epoll reports any data
    /// that arrives later as a new event).
    drained: bool,
    /// The peer has half-closed or failed: always ask the socket, so EOF is seen.
    closing: bool,
    /// Bytes of the last write the socket did not take. A WebSocket hands its whole output
    /// buffer to every write, so after a flush this is what remains queued in it.
    unsent: usize,
    /// A WebSocket's input position (None before the upgrade): every byte read is fed to it.
    pub inbound: Option<Inbound>,
}

impl Stream {
    /// Wraps an accepted socket.
    pub fn new(tcp: TcpStream) -> Stream {
        Stream {
            tcp,
            pre: Vec::new(),
            drained: false,
            closing: false,
            unsent: 0,
            inbound: None,
        }
    }

    /// Queues raw bytes to go out before any later write.
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.pre.extend_from_slice(bytes);
    }

    /// Writes queued raw bytes; Ok once all are out, WouldBlock while some remain.
    pub fn drain_raw(&mut self) -> io::Result<()> {
        while !self.pre.is_empty() {
            match self.tcp.write(&self.pre) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pre.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.pre.capacity() > 0 {
            self.pre = Vec::new();
        }
        Ok(())
    }
}

impl Stream {
    /// Bytes queued and not yet taken by the socket: raw bytes, plus what the WebSocket's
    /// buffer held at its last write (exact after a flush).
    pub fn unsent(&self) -> usize {
        self.pre.len() + self.unsent
    }

    /// The poll reported the socket readable (`closed`: with a hang-up or error): reads go
    /// to the socket again.
    pub fn mark_readable(&mut self, closed: bool) {
        self.drained = false;
        self.closing |= closed;
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.drained {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.tcp.read(buf)?;
        if n > 0 && n < buf.len() && !self.closing {
            self.drained = true;
        }
        if let Some(inbound) = &mut self.inbound {
            inbound.feed(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.pre.is_empty() && self.pre.len() + buf.len() <= MERGE_LIMIT {
            // The first frames join the response head: one send instead of two. Past the
            // limit, bytes wait in the WebSocket's own (bounded) buffer instead.
            self.pre.extend_from_slice(buf);
            self.unsent = 0;
            return match self.drain_raw() {
                Ok(()) => Ok(buf.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(buf.len()),
                Err(e) => Err(e),
            };
        }
        self.unsent = buf.len();
        self.drain_raw()?;
        let n = self.tcp.write(buf)?;
        self.unsent = buf.len().saturating_sub(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain_raw()?;
        self.tcp.flush()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
