//! What the limit tests share: the `support_limits_total` figure, the legitimate pair that
//! ends each of them, a raw WebSocket for frames a well-behaved client would never send.
use super::{raw_http, Client, Daemon, WAIT};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Metrics on a free port of their own.
pub const WITH_METRICS: &str = "[metrics]\nenabled = true\nbind = \"127.0.0.1\"\nport = 0\n";

/// `support_limits_total{reason}` as scraped (0 before the first).
pub fn limit_count(d: &Daemon, reason: &str) -> u64 {
    let addr = d.metrics_addr.expect("metrics address in the log");
    let text = raw_http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let needle = format!("support_limits_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Waits (5 s at most) until `support_limits_total{reason}` reaches `n`.
pub fn wait_limit(d: &Daemon, reason: &str, n: u64) {
    let deadline = Instant::now() + WAIT;
    while limit_count(d, reason) < n {
        assert!(Instant::now() < deadline, "{reason} never reached {n}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Retries `f` until it is Some or 5 s have passed.
pub fn eventually<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client registered with `event` (`connectUser`/`connectAgent`) as `id`, once the daemon
/// lets it in (connections just closed may not have been reaped yet).
pub fn registered(d: &Daemon, event: &str, id: &str) -> Client {
    registered_at(d.addr, event, id)
}

/// As `registered`, by the daemon's address (usable from another thread).
pub fn registered_at(addr: SocketAddr, event: &str, id: &str) -> Client {
    let mut c = eventually(|| Client::connect(addr, "/ws", None).ok());
    c.send(event, json!({ "id": id }));
    assert_eq!(c.expect("registered")["id"], json!(id));
    c
}

/// A fresh pair on `d` completes a call and 100 messages, each awaited by the other side,
/// then leaves; prints the p99 round trip and returns it.
pub fn legitimate_pair(d: &Daemon, tag: &str) -> Duration {
    legitimate_pair_at(d.addr, tag)
}

/// As `legitimate_pair`, by the daemon's address (usable from another thread).
pub fn legitimate_pair_at(addr: SocketAddr, tag: &str) -> Duration {
    let mut a = registered_at(addr, "connectAgent", &format!("{tag}-agent"));
    let mut u = registered_at(addr, "connectUser", &format!("{tag}-user"));
    let room = format!("{tag}-room");
    u.send("callAgent", json!({ "roomId": room }));
    let call = u.expect("callAgent");
    assert_eq!(a.expect("callAgent"), super::polite(&call, true));
    let mut rtts = Vec::with_capacity(100);
    for i in 0..100 {
        let started = Instant::now();
        u.send("userMessage", json!({"roomId": room, "messageInput": i}));
        assert_eq!(a.expect("userMessage")["messageInput"], json!(i));
        a.send("agentMessage", json!({"roomId": room, "messageInput": i}));
        assert_eq!(u.expect("agentMessage")["messageInput"], json!(i));
        rtts.push(started.elapsed());
    }
    u.send("leaveCall", json!({ "roomId": room }));
    assert_eq!(u.expect("callEnded")["reason"], "left");
    assert_eq!(a.expect("callEnded")["reason"], "left");
    rtts.sort();
    let p99 = rtts[98];
    eprintln!("{tag}: legitimate pair, 100 messages, p99 round trip {p99:?}");
    p99
}

/// A WebSocket opened by hand at `path` (the 101 read): frames are then the test's to write.
pub fn raw_ws_at(d: &Daemon, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A native WebSocket opened by hand.
pub fn raw_ws(d: &Daemon) -> TcpStream {
    raw_ws_at(d, "/ws")
}

/// Raises this process's own descriptor limit to `want` (or its hard limit), for tests that
/// hold thousands of sockets; a daemon started afterwards inherits it.
pub fn raise_own_nofile(want: libc::rlim_t) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
