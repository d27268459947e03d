//! Minimal single-threaded mio + tungstenite WebSocket echo server: the ceiling
//! against which supportd's relay throughput is compared (supportd-load's
//! `echo` scenario drives it).
//!
//! Build and run: `cargo build --release --example echo_baseline`
//!                `target/release/examples/echo_baseline [PORT]`   (default 18082, binds 127.0.0.1)
//!
//! Non-blocking accept, handshakes resumed with `MidHandshake`, every text or
//! binary message echoed back, writes buffered and flushed once per poll turn.

use std::io::ErrorKind;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::MidHandshake;
use tungstenite::{Error, HandshakeError, Message, WebSocket};

const LISTENER: Token = Token(0);

enum State {
    Handshaking(MidHandshake<ServerHandshake<TcpStream, NoCallback>>),
    Open(WebSocket<TcpStream>),
}

struct Slot {
    state: Option<State>,
    dirty: bool,
}

fn would_block(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == ErrorKind::WouldBlock)
}

/// Read everything available and queue the echoes. Returns false when the connection is done.
fn pump(ws: &mut WebSocket<TcpStream>, dirty: &mut bool) -> bool {
    loop {
        match ws.read() {
            Ok(m @ Message::Text(_)) | Ok(m @ Message::Binary(_)) => match ws.write(m) {
                Ok(()) => *dirty = true,
                Err(e) if would_block(&e) => *dirty = true,
                Err(_) => return false,
            },
            Ok(_) => *dirty = true, // ping/pong/close: tungstenite queues the reply
            Err(e) if would_block(&e) => return true,
            Err(_) => return false,
        }
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18082);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut listener = TcpListener::bind(addr)?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    eprintln!("echo_baseline listening on {addr}");

    let mut slots: Vec<Slot> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut touched: Vec<usize> = Vec::new();

    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        touched.clear();
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let idx = free.pop().unwrap_or_else(|| {
                                slots.push(Slot {
                                    state: None,
                                    dirty: false,
                                });
                                slots.len() - 1
                            });
                            poll.registry().register(
                                &mut stream,
                                Token(idx + 1),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            let st = match tungstenite::accept(stream) {
                                Ok(ws) => Some(State::Open(ws)),
                                Err(HandshakeError::Interrupted(mid)) => {
                                    Some(State::Handshaking(mid))
                                }
                                Err(HandshakeError::Failure(_)) => None,
                            };
                            slots[idx] = Slot {
                                state: st,
                                dirty: false,
                            };
                            if slots[idx].state.is_none() {
                                free.push(idx);
                            } else {
                                touched.push(idx);
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => {
                            eprintln!("accept: {e}"); // e.g. EMFILE: drop this turn
                            break;
                        }
                    }
                }
                continue;
            }
            let idx = ev.token().0 - 1;
            if idx < slots.len() && slots[idx].state.is_some() {
                touched.push(idx);
            }
        }
        // Progress every connection that had an event, then flush once per turn.
        for &idx in &touched {
            let slot = &mut slots[idx];
            let Some(st) = slot.state.take() else {
                continue;
            };
            let next = match st {
                State::Handshaking(mid) => match mid.handshake() {
                    Ok(mut ws) => {
                        if pump(&mut ws, &mut slot.dirty) {
                            Some(State::Open(ws))
                        } else {
                            None
                        }
                    }
                    Err(HandshakeError::Interrupted(mid)) => Some(State::Handshaking(mid)),
                    Err(HandshakeError::Failure(_)) => None,
                },
                State::Open(mut ws) => {
                    slot.dirty = true; // writable events need a flush too
                    if pump(&mut ws, &mut slot.dirty) {
                        Some(State::Open(ws))
                    } else {
                        None
                    }
                }
            };
            slot.state = next;
        }
        for &idx in &touched {
            let slot = &mut slots[idx];
            let mut dead = false;
            if slot.dirty {
                if let Some(State::Open(ws)) = slot.state.as_mut() {
                    match ws.flush() {
                        Ok(()) => slot.dirty = false,
                        Err(e) if would_block(&e) => {} // writable event will come
                        Err(_) => dead = true,
                    }
                }
            }
            if dead || slot.state.is_none() {
                // dropping the socket closes it, which also removes it from epoll
                slot.state = None;
                if !free.contains(&idx) {
                    free.push(idx);
                }
            }
        }
    }
}
