//! The HTTP side of Engine.IO polling against the real binary on loopback: keep-alive and
//! `Connection: close` both ways (RFC 9112 §9.3, §9.6), chunked request bodies, a held GET
//! whose connection closes, an event before CONNECT, a second WebSocket on an upgraded sid.
mod common;
use common::{raw_http, Client, Daemon};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::Message;

/// Reads one HTTP response (head and Content-Length body) from `s`.
fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return String::from_utf8_lossy(&buf).into_owned(),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

/// Whether the server closes `s` within `limit` (EOF), with nothing more to read.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

fn connect(d: &Daemon) -> TcpStream {
    let s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Opens a polling session over `s` and returns its sid.
fn handshake(s: &mut TcpStream) -> String {
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(s);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let body = r.split("\r\n\r\n").nth(1).unwrap();
    let open: Value = serde_json::from_str(&body[1..]).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

fn post_request(sid: &str, payload: &str, extra: &str) -> String {
    format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
}

fn get_request(sid: &str, extra: &str) -> String {
    format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
}

#[test]
fn connection_close_is_said_on_every_reply_that_closes() {
    let d = Daemon::start("");
    let mut s = connect(&d);
    let sid = handshake(&mut s);
    // Keep-alive POST: no Connection: close, and the same socket takes the next request.
    s.write_all(post_request(&sid, "40", "").as_bytes())
        .unwrap();
    let r = read_response(&mut s);
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("ok"), "{r}");
    assert!(!r.contains("Connection: close"), "{r}");
    // POST with Connection: close: the reply says so, then the server closes.
    s.write_all(post_request(&sid, "3", "Connection: close\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut s);
    assert!(
        r.contains("\r\nConnection: close\r\n") && r.ends_with("ok"),
        "{r}"
    );
    assert!(closed_within(&mut s, Duration::from_secs(2)));
    // The same for a CORS preflight.
    let mut s = connect(&d);
    s.write_all(b"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s);
    assert!(r.starts_with("HTTP/1.1 204"), "{r}");
    assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
    assert!(closed_within(&mut s, Duration::from_secs(2)));
}

#[test]
fn http10_closes_unless_it_asks_for_keep_alive() {
    let d = Daemon::start("");
    let mut s = connect(&d);
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s);
    assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
    let started = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(2)), "held open");
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut s = connect(&d);
    s.write_all(b"OPTIONS /socket.io/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s);
    assert!(r.contains("\r\nConnection: keep-alive\r\n"), "{r}");
    s.write_all(b"OPTIONS /socket.io/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut s).starts_with("HTTP/1.1 204"));
}

#[test]
fn chunked_post_bodies_are_read_and_bounded() {
    let d = Daemon::start("[socketio]\nmax_payload_bytes = 100\n");
    let mut s = connect(&d);
    let sid = handshake(&mut s);
    let event = format!("42{}", json!(["connectUser", {"id": "chunky"}]));
    let body = format!("40\x1e{event}");
    let (a, b) = body.split_at(5);
    let req = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    // Sent in two pieces, split inside a chunk.
    let (first, second) = req.split_at(req.len() - 12);
    s.write_all(first.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(second.as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("ok"), "{r}");
    s.write_all(get_request(&sid, "").as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert!(r.contains("40{\"sid\":"), "{r}");
    assert!(
        r.contains(r#"42["registered",{"role":"user","id":"chunky","resumeToken":"#),
        "{r}"
    );
    // Over max_payload_bytes in chunks: 413, and the session is gone.
    let big = "4".repeat(60);
    let req = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n{big}\r\n3c\r\n{big}\r\n0\r\n\r\n"
    );
    let r = raw_http(d.addr, &req);
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    let r = raw_http(d.addr, &get_request(&sid, "Connection: close\r\n"));
    assert!(r.contains("Session ID unknown"), "{r}");
}

#[test]
fn a_vanished_poll_ends_its_session_and_its_agent_at_once() {
    // Heartbeat far away: only the closed GET can end the session within the test.
    let d = Daemon::start("[socketio]\nping_interval_ms = 25000\nping_timeout_ms = 20000\n");
    let mut watcher = Client::user(&d, json!("watcher"));
    let mut s = connect(&d);
    let sid = handshake(&mut s);
    let payload = format!("40\x1e42{}", json!(["connectAgent", {"id": "a1"}]));
    s.write_all(post_request(&sid, &payload, "").as_bytes())
        .unwrap();
    assert!(read_response(&mut s).ends_with("ok"));
    watcher.expect_count(1);
    s.write_all(get_request(&sid, "").as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert!(r.contains("registered"), "{r}");
    // The next GET is held; then the client goes away.
    s.write_all(get_request(&sid, "").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    let started = Instant::now();
    watcher.expect_count(0);
    assert!(started.elapsed() < Duration::from_secs(3));
    let r = raw_http(d.addr, &get_request(&sid, "Connection: close\r\n"));
    assert!(r.contains("Session ID unknown"), "{r}");
    // The agent is held for a resume: its id is taken for anyone without its token.
    let mut other = d.client();
    other.send("connectAgent", json!({"id": "a1"}));
    other.expect_error("id_in_use");
}

#[test]
fn an_event_before_connect_closes_the_session() {
    let d = Daemon::start("");
    let mut c = Client::connect(d.addr, "/socket.io/?EIO=4&transport=websocket", None).unwrap();
    let open = c.ws.read().unwrap();
    assert!(open.to_text().unwrap().starts_with("0{"), "{open:?}");
    c.ws.send(Message::text(format!(
        "42{}",
        json!(["connectUser", {"id": "early"}])
    )))
    .unwrap();
    loop {
        match c.ws.read() {
            Ok(Message::Close(_)) => break,
            Ok(Message::Text(t)) if t.as_str() == "2" => {}
            Ok(m) => panic!("expected a close, got {m:?}"),
            Err(tungstenite::Error::Io(e)) => panic!("not closed: {e}"),
            Err(_) => break,
        }
    }
    // Nobody was registered: the id is free.
    Client::user(&d, json!("early"));
}

#[test]
fn a_second_websocket_on_an_upgraded_session_is_accepted_then_closed() {
    let d = Daemon::start("");
    let mut s = connect(&d);
    let sid = handshake(&mut s);
    let path = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let mut first = Client::connect(d.addr, &path, None).expect("probe upgrade");
    first.ws.send(Message::text("2probe")).unwrap();
    assert_eq!(first.ws.read().unwrap().to_text().unwrap(), "3probe");
    first.ws.send(Message::text("5")).unwrap();
    let mut second = Client::connect(d.addr, &path, None).expect("101, not 400");
    match second.ws.read() {
        Ok(Message::Close(_)) | Err(_) => {}
        Ok(m) => panic!("expected the second socket closed, got {m:?}"),
    }
    // The upgraded session goes on over the first socket.
    first.ws.send(Message::text("40")).unwrap();
    let r = first.ws.read().unwrap();
    assert!(r.to_text().unwrap().starts_with("40{\"sid\":"), "{r:?}");
}

#[test]
fn a_chunk_line_past_256_bytes_is_refused_and_ends_the_session() {
    let d = Daemon::start("");
    let mut s = connect(&d);
    let sid = handshake(&mut s);
    let req = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\n",
        "e".repeat(400)
    );
    let r = raw_http(d.addr, &req);
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    s.write_all(get_request(&sid, "").as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert!(r.contains("Session ID unknown"), "{r}");
}

#[test]
fn two_posts_at_once_end_the_session() {
    let d = Daemon::start("");
    let mut s = connect(&d);
    let sid = handshake(&mut s);
    // A POST whose body is still coming...
    let mut slow = connect(&d);
    slow.write_all(
        format!("POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n40").as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // ...and a second one: 400, and the session is over.
    let r = raw_http(d.addr, &post_request(&sid, "40", "Connection: close\r\n"));
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    s.write_all(get_request(&sid, "").as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert!(r.contains("Session ID unknown"), "{r}");
}
