//! Memory limits (issue 13) against the real binary on loopback: a message begun must end
//! within `message_timeout_ms` (WebSocket 1008 "message timeout", a request body 408), and
//! past `max_inbound_buffer_bytes` held in partial messages and bodies over all connections
//! the largest holders are closed first. Each test ends with a legitimate pair completing
//! a call and 100 messages on the same daemon, its p99 round trip printed.
mod common;
use common::limits::{legitimate_pair, limit_count, raw_ws, raw_ws_at, wait_limit, WITH_METRICS};
use common::{raw_http, Daemon};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// A client frame (mask of zeros: the payload reads as sent) of `payload`.
fn frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let header = FrameHeader {
        is_final: fin,
        opcode,
        mask: Some([0, 0, 0, 0]),
        ..FrameHeader::default()
    };
    header.format(payload.len() as u64, &mut out).unwrap();
    out.extend_from_slice(payload);
    out
}

const TEXT: OpCode = OpCode::Data(Data::Text);
const CONT: OpCode = OpCode::Data(Data::Continue);

/// Reads until the server's close frame: its code and reason (None: the connection ended
/// without one within `within`).
fn close_of(s: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
        // Server frames are unmasked: skip each until a close (0x88).
        let mut at = 0;
        while at + 2 <= got.len() {
            let len = (got[at + 1] & 0x7f) as usize;
            let (hdr, len) = match len {
                126 if at + 4 <= got.len() => {
                    (4, u16::from_be_bytes([got[at + 2], got[at + 3]]) as usize)
                }
                126 | 127 => break,
                n => (2, n),
            };
            if at + hdr + len > got.len() {
                break;
            }
            if got[at] == 0x88 && len >= 2 {
                let body = &got[at + hdr..at + hdr + len];
                let code = u16::from_be_bytes([body[0], body[1]]);
                return Some((code, String::from_utf8_lossy(&body[2..]).into_owned()));
            }
            at += hdr + len;
        }
    }
    None
}

/// Whether the server still serves `s`: a whole native event gets its answer.
fn still_served(s: &mut TcpStream) -> bool {
    let event = br#"{"event":"getAvailableAgents","data":{}}"#;
    if s.write_all(&frame(TEXT, true, event)).is_err() {
        return false;
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    matches!(s.read(&mut buf), Ok(n) if n > 2 && buf[0] == 0x81)
}

#[test]
fn a_stalled_message_is_closed_1008_after_message_timeout_while_steady_senders_stay() {
    let d = Daemon::start(&format!(
        "[limits]\nmessage_timeout_ms = 600\n{WITH_METRICS}"
    ));
    // A first fragment of 65,000 bytes, and nothing after it.
    let mut fragment = raw_ws(&d);
    fragment
        .write_all(&frame(TEXT, false, &[b'x'; 65_000]))
        .unwrap();
    // A whole first fragment, then a continuation cut short.
    let mut truncated = raw_ws(&d);
    let mut bytes = frame(TEXT, false, b"{\"event\":");
    let cont = frame(CONT, true, &[b' '; 5000]);
    bytes.extend_from_slice(&cont[..2000]);
    truncated.write_all(&bytes).unwrap();
    // A Socket.IO WebSocket that stalls inside its first frame.
    let mut sio = raw_ws_at(&d, "/socket.io/?EIO=4&transport=websocket");
    let sio_frame = frame(TEXT, true, &[b'4'; 3000]);
    sio.write_all(&sio_frame[..1500]).unwrap();
    // A client that takes its time but finishes each message inside the timeout, again and
    // again (each message's clock starts at its own first byte).
    let mut steady = raw_ws(&d);
    let event = br#"{"event":"getAvailableAgents","data":{}}"#;
    let t0 = Instant::now();
    for _ in 0..6 {
        let f = frame(TEXT, true, event);
        steady.write_all(&f[..10]).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        steady.write_all(&f[10..]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t0.elapsed() > Duration::from_millis(1200));
    for (name, s) in [
        ("fragment", &mut fragment),
        ("truncated", &mut truncated),
        ("socket.io", &mut sio),
    ] {
        let close = close_of(s, Duration::from_secs(3));
        assert_eq!(close, Some((1008, "message timeout".to_owned())), "{name}");
    }
    assert!(
        still_served(&mut steady),
        "a client whose messages complete is not timed out"
    );
    wait_limit(&d, "message_timeout", 3);
    legitimate_pair(&d, "after-stalls");
}

#[test]
fn past_max_inbound_buffer_bytes_the_largest_holder_is_closed_first() {
    let d = Daemon::start(&format!(
        "[limits]\nmax_message_bytes = 400000\nmax_outbound_bytes = 1048576\nmax_inbound_buffer_bytes = 250000\n{WITH_METRICS}"
    ));
    // Messages of 120,000 bytes (the large one's of 300,000), each sent in part.
    let partial = |len: usize, n: usize| {
        let f = frame(TEXT, true, &vec![b' '; len]);
        f[..n].to_vec()
    };
    let mut small = raw_ws(&d);
    small.write_all(&partial(120_000, 30_000)).unwrap();
    let mut large = raw_ws(&d);
    large.write_all(&partial(300_000, 150_000)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        limit_count(&d, "inbound_buffer"),
        0,
        "180,000 bytes held: under the cap"
    );
    // The third passes the cap (at 70,000 of its 100,000): the largest, not it, is closed.
    let mut third = raw_ws(&d);
    third.write_all(&partial(120_000, 100_000)).unwrap();
    assert_eq!(
        close_of(&mut large, Duration::from_secs(3)),
        Some((1008, "inbound buffer limit".to_owned()))
    );
    wait_limit(&d, "inbound_buffer", 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        limit_count(&d, "inbound_buffer"),
        1,
        "130,000 bytes left: under the cap"
    );
    // The others finish their messages (spaces: not an event), never passing the cap
    // again, and are still served.
    let whole = frame(TEXT, true, &vec![b' '; 120_000]);
    small.write_all(&whole[30_000..]).unwrap();
    third.write_all(&whole[100_000..]).unwrap();
    assert!(still_served(&mut small));
    assert!(still_served(&mut third));
    legitimate_pair(&d, "after-cap");
}

/// A polling session's sid.
fn poll_sid(d: &Daemon) -> String {
    let r = raw_http(
        d.addr,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let at = r.find("\"sid\":\"").expect("a handshake") + 7;
    r[at..at + r[at..].find('"').unwrap()].to_owned()
}

/// Starts a POST on `sid` declaring `declared` bytes and sends `sent` of them.
fn slow_post(d: &Daemon, sid: &str, declared: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!("POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {declared}\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&vec![b'4'; sent]).unwrap();
    s
}

/// The status line of what the server answered on `s` (empty if nothing).
fn status(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn slow_request_bodies_get_408_after_message_timeout_and_count_toward_the_cap() {
    let d = Daemon::start(&format!(
        "[limits]\nmessage_timeout_ms = 800\nmax_inbound_buffer_bytes = 250000\n{WITH_METRICS}"
    ));
    // Under the cap: a body that never ends gets 408 once its time is up.
    let t0 = Instant::now();
    let mut slow = slow_post(&d, &poll_sid(&d), 1_000_000, 1000);
    assert!(status(&mut slow).contains(" 408 "));
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    wait_limit(&d, "message_timeout", 1);
    // Three bodies of 100,000 bytes (of 1,000,000 declared) pass the cap: one gets 503.
    let mut posts: Vec<TcpStream> = (0..3)
        .map(|_| {
            let s = slow_post(&d, &poll_sid(&d), 1_000_000, 100_000);
            std::thread::sleep(Duration::from_millis(100));
            s
        })
        .collect();
    wait_limit(&d, "inbound_buffer", 1);
    let answers: Vec<String> = posts.iter_mut().map(status).collect();
    assert_eq!(
        answers.iter().filter(|a| a.contains(" 503 ")).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|a| a.contains(" 408 ")).count(),
        2,
        "{answers:?}"
    );
    legitimate_pair(&d, "after-bodies");
}

/// The daemon's resident set, in KiB.
fn rss_kib(d: &Daemon) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Reads one server frame's first bytes (enough to see it is a text frame).
fn answered(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    matches!(s.read(&mut buf), Ok(n) if n > 2 && buf[0] == 0x81)
}

#[test]
fn read_buffers_shrink_back_after_a_large_message() {
    let d = Daemon::start("[log]\nlevel = \"error\"\n");
    let mut socks: Vec<TcpStream> = (0..200).map(|_| raw_ws(&d)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(&d);
    // One event of 60,000 bytes on each (answered, so it was read), then a small one.
    let pad = "y".repeat(60_000);
    let big = format!(r#"{{"event":"getAvailableAgents","data":{{"pad":"{pad}"}}}}"#);
    let small = br#"{"event":"getAvailableAgents","data":{}}"#;
    for s in socks.iter_mut() {
        s.write_all(&frame(TEXT, true, big.as_bytes())).unwrap();
        assert!(answered(s));
        s.write_all(&frame(TEXT, true, small)).unwrap();
        assert!(answered(s));
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kib(&d);
    let per_conn = after.saturating_sub(before) as f64 / 200.0;
    eprintln!(
        "RSS {before} KiB -> {after} KiB: {per_conn:.1} KiB per connection after a 60 KB message"
    );
    // A buffer kept at the large message's size would be about 60 KiB per connection.
    assert!(per_conn < 16.0, "{per_conn:.1} KiB per connection kept");
    legitimate_pair(&d, "after-large");
}

#[test]
fn stalled_fragments_from_hundreds_of_sockets_stay_within_the_inbound_cap() {
    // Before the cap, each such socket pinned about 130 KiB until its peer went away.
    let d = Daemon::start(&format!(
        "[log]\nlevel = \"error\"\n[limits]\nmax_inbound_buffer_bytes = 4194304\n{WITH_METRICS}"
    ));
    let before = rss_kib(&d);
    let fragment = frame(TEXT, false, &[b'x'; 65_000]);
    let mut cont = frame(CONT, true, &[b'x'; 60_000]);
    cont.truncate(30_000);
    let mut socks: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = raw_ws(&d);
            s.write_all(&fragment).unwrap();
            let _ = s.write_all(&cont);
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kib(&d);
    let grown = during.saturating_sub(before);
    eprintln!("300 stalled sockets: RSS {before} KiB -> {during} KiB");
    // The cap (4 MiB) plus a few KiB of state per socket; 300 x 95 KB would be 28 MB.
    assert!(grown < 4096 + 300 * 16, "grew {grown} KiB");
    let closed = limit_count(&d, "inbound_buffer");
    assert!(closed >= 250, "{closed} closed for the cap");
    let mut open = 0;
    for s in socks.iter_mut() {
        if close_of(s, Duration::from_millis(20)).is_none() {
            open += 1;
        }
    }
    eprintln!("{closed} closed for the cap, {open} still open");
    legitimate_pair(&d, "after-stalled");
}
