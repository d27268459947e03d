//! Liveness and closing limits (issue 13) against the real binary on loopback: native
//! keepalive (ping_interval_ms, ping_timeout_ms), register_timeout_ms, lingering close
//! (the client sees 1009 and 413, not a reset), the hard and soft outbound limits (1008
//! "slow consumer"). Each test ends with a legitimate pair completing a call and 100
//! messages on the same daemon, its p99 round trip printed.
mod common;
use common::limits::{legitimate_pair, limit_count, raw_ws, wait_limit, WITH_METRICS};
use common::{raw_http, Client, Daemon, Got};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

/// Agent `a` and user `u` in a call in room `room`.
fn call(d: &Daemon, a: &str, u: &str, room: &str) -> (Client, Client) {
    let mut agent = Client::agent(d, json!(a));
    let mut user = Client::user(d, json!(u));
    user.send("callAgent", json!({"roomId": room}));
    agent.expect("callAgent");
    user.expect("callAgent");
    (agent, user)
}

/// Reads frames until the connection ends: the close code if a close frame came, or the
/// error that ended it (a reset, an EOF without a close).
fn read_to_close(c: &mut Client, within: Duration) -> Result<Option<CloseCode>, String> {
    let deadline = Instant::now() + within;
    c.ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    loop {
        match c.ws.read() {
            Ok(Message::Close(f)) => return Ok(f.map(|f| f.code)),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
        if Instant::now() > deadline {
            return Err("no close in time".into());
        }
    }
}

#[test]
fn a_client_that_never_answers_pings_is_closed_and_its_agent_held() {
    let d = Daemon::start(&format!(
        "[limits]\nping_interval_ms = 200\nping_timeout_ms = 300\n{WITH_METRICS}"
    ));
    let t0 = Instant::now();
    // The agent never reads again, so it never answers a ping (nor sends anything).
    let (mut a, mut u) = call(&d, "a", "u", "r");
    let token = a.resume_token.clone().expect("a resume token");
    // The user reads (its client answers every ping) and is told its agent dropped.
    assert_eq!(u.expect("peerDisconnected"), json!({"roomId": "r"}));
    let gone = t0.elapsed();
    assert!(
        gone >= Duration::from_millis(500),
        "closed after {gone:?}, before ping_interval + ping_timeout"
    );
    assert!(gone < Duration::from_secs(3), "closed only after {gone:?}");
    d.wait_log("ping timeout");
    assert_eq!(limit_count(&d, "ping_timeout"), 1);
    // What the agent finds when it reads at last: pings, then close 1008.
    assert_eq!(
        read_to_close(&mut a, Duration::from_secs(3)),
        Ok(Some(CloseCode::Policy))
    );
    // A user that answers pings outlives many of them.
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        if let Some(Got::Close(c)) = u.next_within(Duration::from_millis(100)) {
            panic!("the answering user was closed ({c:?})");
        }
    }
    // The agent was held: it resumes its call.
    let mut a2 = d.client();
    a2.last_seq = a.last_seq;
    a2.send(
        "connectAgent",
        json!({"id": "a", "resumeToken": token, "lastSeq": a.last_seq}),
    );
    assert_eq!(a2.expect("registered")["resumed"], json!(true));
    assert_eq!(u.expect("peerReconnected"), json!({"roomId": "r"}));
    u.send("userMessage", json!({"messageInput": "still here"}));
    assert_eq!(a2.expect("userMessage")["messageInput"], "still here");
    legitimate_pair(&d, "pair");
    assert_eq!(limit_count(&d, "ping_timeout"), 1, "no one else timed out");
}

#[test]
fn silent_sockets_are_closed_by_register_timeout_while_a_pair_completes_a_call() {
    let d = Daemon::start(&format!(
        "[limits]\nregister_timeout_ms = 300\nmax_connections = 40\n{WITH_METRICS}"
    ));
    let t0 = Instant::now();
    let mut silent: Vec<Client> = (0..30).map(|_| d.client()).collect();
    // An Engine.IO handshake that never CONNECTs goes the same way (connect_timeout_ms is
    // 45 s by default: the smaller of the two applies).
    let open = raw_http(
        d.addr,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a sid")
        .to_owned();
    // Every slot of max_connections but a few is held; once they are closed a pair fits.
    for c in silent.iter_mut() {
        match c.next() {
            Got::Close(code) => assert_eq!(code, Some(CloseCode::Policy)),
            other => panic!("expected close 1008, got {other:?}"),
        }
    }
    let closed = t0.elapsed();
    assert!(
        closed >= Duration::from_millis(300),
        "closed after {closed:?}"
    );
    std::thread::sleep(Duration::from_millis(100));
    let poll = raw_http(
        d.addr,
        &format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert!(poll.starts_with("HTTP/1.1 400"), "{poll}");
    wait_limit(&d, "register_timeout", 31);
    // Registered parties are not touched by the deadline, however long they stay.
    let (mut a, mut u) = call(&d, "a", "u", "r");
    std::thread::sleep(Duration::from_millis(500));
    u.send("userMessage", json!({"messageInput": "hi"}));
    assert_eq!(a.expect("userMessage")["messageInput"], "hi");
    legitimate_pair(&d, "pair");
    assert_eq!(limit_count(&d, "register_timeout"), 31);
}

#[test]
fn an_oversize_frame_followed_by_more_data_is_seen_as_1009_not_a_reset() {
    let d = Daemon::start("[limits]\nmax_message_bytes = 1024\n");
    for _ in 0..5 {
        let mut s = raw_ws(&d);
        // A masked text frame declaring 1 MiB, all of it sent, then more frames behind it:
        // the server stops reading at the header, so all of this is unread input.
        let len: u64 = 1 << 20;
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&[1, 2, 3, 4]);
        frame.resize(frame.len() + len as usize, b'x');
        frame.extend_from_slice(&[0x81, 0x85, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o']);
        let _ = s.write_all(&frame);
        // The server's frames: a close with 1009 first, then FIN (never a reset).
        let mut got = Vec::new();
        match s.read_to_end(&mut got) {
            Ok(_) => {}
            Err(e) => panic!("read failed after {} bytes: {e}", got.len()),
        }
        assert!(got.len() >= 4, "{got:?}");
        assert_eq!(got[0], 0x88, "a close frame: {got:?}");
        assert_eq!(u16::from_be_bytes([got[2], got[3]]), 1009, "{got:?}");
    }
    legitimate_pair(&d, "pair");
}

#[test]
fn an_oversize_polling_post_is_answered_413_not_reset() {
    let d = Daemon::start("[socketio]\nmax_payload_bytes = 1000\n");
    let open = raw_http(
        d.addr,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a sid")
        .to_owned();
    let body = vec![b'x'; 512 * 1024];
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&body);
    let mut got = Vec::new();
    if let Err(e) = s.read_to_end(&mut got) {
        panic!("read failed after {} bytes: {e}", got.len());
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    legitimate_pair(&d, "pair");
}

/// Floods `a` (which has stopped reading, with a small receive buffer) from `u`.
fn flood(a: &Client, u: &mut Client, n: usize) {
    socket2::SockRef::from(a.ws.get_ref())
        .set_recv_buffer_size(128 * 1024)
        .unwrap();
    let chunk = "y".repeat(50_000);
    for i in 0..n {
        let msg = json!({"event": "userMessage", "data": {"messageInput": format!("{i}:{chunk}")}});
        if u.ws.send(Message::text(msg.to_string())).is_err() {
            break;
        }
    }
}

#[test]
fn a_slow_consumer_over_the_hard_limit_sees_close_1008() {
    let d = Daemon::start(&format!(
        "[limits]\nmax_message_bytes = 60000\nmax_outbound_bytes = 262144\nsoft_outbound_bytes = 0\n[socketio]\nmax_payload_bytes = 60000\n{WITH_METRICS}"
    ));
    let (mut a, mut u) = call(&d, "a", "u", "r");
    flood(&a, &mut u, 200);
    // A dropped connection for the router: the agent is held.
    loop {
        let (e, v) = u.recv();
        if e == "peerDisconnected" {
            assert_eq!(v["roomId"], "r");
            break;
        }
    }
    d.wait_log("slow consumer");
    // Reading at last, the agent gets its backlog and then close 1008.
    assert_eq!(
        read_to_close(&mut a, Duration::from_secs(5)),
        Ok(Some(CloseCode::Policy))
    );
    assert_eq!(
        limit_count(&d, "soft_outbound"),
        0,
        "the hard limit, not the soft"
    );
    // The flood outgrew the agent's hold (so its user went back in line): the user leaves.
    u.ws.close(None).unwrap();
    let _ = read_to_close(&mut u, Duration::from_secs(5));
    legitimate_pair(&d, "pair");
}

#[test]
fn a_client_over_the_soft_limit_for_slow_consumer_ms_is_dropped() {
    let d = Daemon::start(&format!(
        "[limits]\nmax_message_bytes = 60000\nmax_outbound_bytes = 67108864\nsoft_outbound_bytes = 65536\nslow_consumer_ms = 300\n{WITH_METRICS}"
    ));
    let (mut a, mut u) = call(&d, "a", "u", "r");
    let t0 = Instant::now();
    // About 5 MB: more than the socket buffers hold, far below the hard limit.
    flood(&a, &mut u, 100);
    loop {
        let (e, v) = u.recv();
        if e == "peerDisconnected" {
            assert_eq!(v["roomId"], "r");
            break;
        }
    }
    let gone = t0.elapsed();
    assert!(gone >= Duration::from_millis(300), "dropped after {gone:?}");
    wait_limit(&d, "soft_outbound", 1);
    d.wait_log("slow consumer");
    // The agent's connection ends: its backlog, then close 1008 (or, past the close
    // grace, the end of the stream), never more than that.
    let seen = read_to_close(&mut a, Duration::from_secs(5));
    eprintln!("soft-limit drop as the client saw it: {seen:?}");
    match seen {
        Ok(code) => assert!(matches!(code, Some(CloseCode::Policy)), "{code:?}"),
        Err(e) => assert!(e.contains("closing handshake"), "{e}"),
    }
    legitimate_pair(&d, "pair");
}
