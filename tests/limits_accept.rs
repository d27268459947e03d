//! Admission limits against the real binary on loopback: out of file descriptors (waiting
//! clients get 503, `/healthz` answers), `max_connections_per_ip` (the limit, the exempt
//! list, `X-Forwarded-For` from trusted proxies only), `max_sessions_per_ip` (Engine.IO
//! sessions not yet CONNECTed), and `max_connections` counting connections plus sessions
//! for both kinds of client. Each ends with a legitimate pair completing a call and 100
//! messages on the same daemon (its p99 printed).
mod common;
use common::limits::{eventually, legitimate_pair, limit_count, raise_own_nofile, WITH_METRICS};

use common::{raw_http, Client, Daemon};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;

/// A native WebSocket upgrade request for /ws, with extra header lines.
fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// Opens a native client with extra request headers; Err(status) if the handshake is
/// answered with an HTTP error (0: with none).
fn client_with(addr: SocketAddr, headers: &[(&'static str, &str)]) -> Result<Client, u16> {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(common::WAIT)).unwrap();
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    for (n, v) in headers {
        req.headers_mut().insert(*n, v.parse().unwrap());
    }
    match tungstenite::client(req, tcp) {
        Ok((ws, _)) => Ok(Client {
            ws,
            last_count: None,
            last_seq: 0,
            resume_token: None,
        }),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        // Closed without an answer: not what any limit does (callers assert on the status).
        Err(tungstenite::HandshakeError::Failure(_)) => Err(0),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// A client forwarded by a proxy for `client`.
fn forwarded(d: &Daemon, client: &str) -> Result<Client, u16> {
    client_with(d.addr, &[("X-Forwarded-For", client)])
}

/// `/healthz` on the metrics port: the status line.
fn healthz(d: &Daemon) -> String {
    let addr = d.metrics_addr.expect("metrics address in the log");
    let r = raw_http(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    r.lines().next().unwrap_or("").to_owned()
}

/// What one raw connection of the flood was answered.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Upgraded,
    Busy,
    Other(String),
    Silence,
}

/// Reads the first response head on `s` (or what came before the connection ended), for
/// at most 5 s.
fn answer(s: &mut TcpStream) -> Answer {
    answer_by(s, Instant::now() + common::WAIT)
}

/// As `answer`, waiting until `deadline` at most (at least 10 ms).
fn answer_by(s: &mut TcpStream, deadline: Instant) -> Answer {
    let left = deadline.saturating_duration_since(Instant::now());
    s.set_read_timeout(Some(left.max(Duration::from_millis(10))))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    if text.starts_with("HTTP/1.1 101 ") {
        Answer::Upgraded
    } else if text.starts_with("HTTP/1.1 503 ") && text.contains("Connection: close") {
        Answer::Busy
    } else if text.is_empty() {
        Answer::Silence
    } else {
        Answer::Other(text)
    }
}

#[test]
fn out_of_descriptors_waiting_clients_get_503_and_healthz_answers() {
    raise_own_nofile(4096);
    let d = Daemon::start_with_nofile(WITH_METRICS, 256);
    assert_eq!(healthz(&d), "HTTP/1.1 200 OK");
    let request = upgrade_request("");
    let started = Instant::now();
    // A liveness probe polls /healthz all through the flood.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let stop = stop.clone();
        let metrics = d.metrics_addr.expect("metrics address");
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && statuses.len() < 200 {
                let r = raw_http(
                    metrics,
                    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                );
                statuses.push(r.lines().next().unwrap_or("").to_owned());
                std::thread::sleep(Duration::from_millis(10));
            }
            statuses
        })
    };
    let mut socks = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut s = TcpStream::connect(d.addr).expect("the backlog takes the connection");
        s.write_all(request.as_bytes()).unwrap();
        socks.push(s);
    }
    // Every answer is due at once: 10 s for all of them bounds the test if some are silent.
    let deadline = Instant::now() + Duration::from_secs(10);
    let answers: Vec<Answer> = socks.iter_mut().map(|s| answer_by(s, deadline)).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = probe.join().unwrap();
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| s == "HTTP/1.1 200 OK"),
        "/healthz during the flood: {statuses:?}"
    );
    let upgraded = answers.iter().filter(|a| **a == Answer::Upgraded).count();
    let busy = answers.iter().filter(|a| **a == Answer::Busy).count();
    let others: Vec<&Answer> = answers
        .iter()
        .filter(|a| !matches!(a, Answer::Upgraded | Answer::Busy))
        .collect();
    eprintln!(
        "flood: {upgraded} upgraded, {busy} answered 503, in {:?}; /healthz 200 {} times meanwhile",
        started.elapsed(),
        statuses.len()
    );
    assert!(others.is_empty(), "every client is answered: {others:?}");
    assert!(
        upgraded > 100,
        "the daemon serves up to its limit: {upgraded}"
    );
    assert!(busy >= 700, "the rest hear 503: {busy}");

    // Still out of descriptors (the upgraded sockets are held): the probe answers, and a
    // newcomer is told, not left hanging.
    for _ in 0..5 {
        assert_eq!(healthz(&d), "HTTP/1.1 200 OK");
    }
    // (A descriptor the metrics thread frees for an instant may let one in.)
    let mut late = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(d.addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let got = answer(&mut s);
        assert!(matches!(got, Answer::Busy | Answer::Upgraded), "{got:?}");
        late.push((s, got));
    }
    assert!(late.iter().any(|(_, a)| *a == Answer::Busy));
    let log = d.wait_log("connections answered 503");
    assert!(log.contains("out of file descriptors"), "{log}");

    // The flood leaves: the daemon serves again.
    drop(socks);
    drop(late);
    eventually(|| client_with(d.addr, &[]).ok());
    assert!(limit_count(&d, "descriptors") >= (busy + 1) as u64);
    legitimate_pair(&d, "fd");
    assert_eq!(healthz(&d), "HTTP/1.1 200 OK");
}

#[test]
fn connections_per_ip_past_the_limit_get_503() {
    let d = Daemon::start(&format!(
        "[limits]\nmax_connections_per_ip = 3\n{WITH_METRICS}"
    ));
    let mut held: Vec<Client> = (0..3).map(|_| d.client()).collect();
    assert_eq!(client_with(d.addr, &[]).err(), Some(503));
    let r = d.http(&upgrade_request(""));
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    assert!(r.contains("too many connections from your address"), "{r}");
    assert!(r.contains("Connection: close"), "{r}");
    // The header is ignored from an untrusted peer (no trusted_proxies).
    assert_eq!(forwarded(&d, "198.51.100.1").err(), Some(503));
    assert_eq!(limit_count(&d, "connections_per_ip"), 3);
    // A place freed is a place again.
    held.pop();
    let c = eventually(|| client_with(d.addr, &[]).ok());
    assert_eq!(client_with(d.addr, &[]).err(), Some(503));
    drop(c);
    held.clear();
    // Closed connections are no longer counted: the pair gets in.
    legitimate_pair(&d, "per-ip");
}

#[test]
fn exempt_addresses_are_never_counted() {
    let d = Daemon::start(
        "[limits]\nmax_connections_per_ip = 2\nmax_sessions_per_ip = 1\nper_ip_exempt = [\"127.0.0.1\"]\n",
    );
    let held: Vec<Client> = (0..6).map(|_| d.client()).collect();
    let sids: Vec<String> = (0..3)
        .map(|_| poll_handshake(&d).expect("not limited"))
        .collect();
    assert_eq!(sids.len(), 3);
    legitimate_pair(&d, "exempt");
    drop(held);
}

#[test]
fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let d = Daemon::start(&format!(
        "[limits]\nmax_connections_per_ip = 2\ntrusted_proxies = [\"127.0.0.1\"]\n{WITH_METRICS}"
    ));
    // Many clients behind the proxy: each has its own places.
    let mut held: Vec<Client> = (1..=6)
        .map(|i| forwarded(&d, &format!("198.51.100.{i}")).expect("own place"))
        .collect();
    held.push(forwarded(&d, "203.0.113.9").unwrap());
    held.push(forwarded(&d, "198.51.100.77, 203.0.113.9").unwrap());
    // The last address is the client's (what the proxy itself appended).
    assert_eq!(forwarded(&d, "203.0.113.9").err(), Some(503));
    assert_eq!(
        forwarded(&d, "203.0.113.9, 198.51.100.200").map(|_| ()),
        Ok(())
    );
    assert_eq!(forwarded(&d, "203.0.113.8, 203.0.113.9").err(), Some(503));
    // Polling requests through the proxy are not counted per connection (a proxy pools its
    // connections for every client): a client at its limit still polls.
    let sid = poll_handshake_with(&d, "X-Forwarded-For: 203.0.113.9\r\n");
    assert!(sid.is_ok(), "{sid:?}");
    // The proxy's own requests (no header) count under its address.
    let own: Vec<Client> = (0..2).map(|_| d.client()).collect();
    assert_eq!(client_with(d.addr, &[]).err(), Some(503));
    assert_eq!(limit_count(&d, "connections_per_ip"), 3);
    drop(own);
    legitimate_pair(&d, "proxied");
    held.clear();

    // Not a trusted proxy: the header is ignored, every client is the peer.
    let d =
        Daemon::start("[limits]\nmax_connections_per_ip = 2\ntrusted_proxies = [\"192.0.2.1\"]\n");
    let held: Vec<Client> = (1..=2)
        .map(|i| forwarded(&d, &format!("198.51.100.{i}")).unwrap())
        .collect();
    assert_eq!(forwarded(&d, "198.51.100.3").err(), Some(503));
    drop(held);
    legitimate_pair(&d, "untrusted");
}

/// A polling handshake: Ok(sid), or Err(the response) if refused.
fn poll_handshake(d: &Daemon) -> Result<String, String> {
    poll_handshake_with(d, "")
}

fn poll_handshake_with(d: &Daemon, extra: &str) -> Result<String, String> {
    let r = d.http(&format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
    ));
    if !r.starts_with("HTTP/1.1 200 ") {
        return Err(r);
    }
    let at = r.find("\"sid\":\"").ok_or_else(|| r.clone())? + 7;
    let end = r[at..].find('"').ok_or_else(|| r.clone())?;
    Ok(r[at..at + end].to_owned())
}

/// A polling POST of `payload` to session `sid`.
fn post(d: &Daemon, sid: &str, payload: &str) -> String {
    d.http(&format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    ))
}

#[test]
fn unconnected_sessions_per_ip_past_the_limit_get_503() {
    let d = Daemon::start(&format!(
        "[limits]\nmax_sessions_per_ip = 2\n{WITH_METRICS}"
    ));
    let s1 = poll_handshake(&d).unwrap();
    let s2 = poll_handshake(&d).unwrap();
    let r = poll_handshake(&d).unwrap_err();
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    assert!(r.contains("too many sessions from your address"), "{r}");
    // A WebSocket-only handshake is a session too.
    let ws = d.http(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert!(ws.starts_with("HTTP/1.1 503 "), "{ws}");
    // Native clients are not sessions.
    let native = d.client();
    // A session that CONNECTs no longer counts (and never again, even after leaving).
    assert!(post(&d, &s1, "40").ends_with("ok"));
    let s3 = poll_handshake(&d).unwrap();
    assert!(poll_handshake(&d).is_err());
    // Nor one that closes.
    assert!(post(&d, &s2, "1").ends_with("ok"));
    let s4 = eventually(|| poll_handshake(&d).ok());
    assert!(poll_handshake(&d).is_err());
    assert_eq!(limit_count(&d, "sessions_per_ip"), 4);
    drop((s3, s4, native));
    legitimate_pair(&d, "sessions");
}

#[test]
fn trusted_proxy_sessions_count_per_forwarded_client() {
    let d = Daemon::start("[limits]\nmax_sessions_per_ip = 1\ntrusted_proxies = [\"127.0.0.1\"]\n");
    let xff = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    poll_handshake_with(&d, &xff("198.51.100.1")).unwrap();
    poll_handshake_with(&d, &xff("198.51.100.2")).unwrap();
    assert!(poll_handshake_with(&d, &xff("198.51.100.1")).is_err());
    poll_handshake(&d).unwrap();
    assert!(poll_handshake(&d).is_err());
    legitimate_pair(&d, "proxied-sessions");
}

#[test]
fn max_connections_counts_connections_plus_sessions_for_both_kinds() {
    let d = Daemon::start("[limits]\nmax_connections = 4\n");
    let sids: Vec<String> = (0..3).map(|_| poll_handshake(&d).unwrap()).collect();
    // Three sessions and no connection: one more place, which a native client takes.
    let native = eventually(|| client_with(d.addr, &[]).ok());
    let r = d.http(&upgrade_request(""));
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    assert!(r.contains("connection limit reached"), "{r}");
    // Sessions already open still get their requests in.
    assert!(post(&d, &sids[0], "40").ends_with("ok"));
    drop(native);
    // The native client gone, a handshake's own connection fills the last place: no
    // session for it.
    let r = eventually(|| {
        poll_handshake(&d)
            .err()
            .filter(|r| r.contains("session limit"))
    });
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    for sid in &sids {
        assert!(post(&d, sid, "1").ends_with("ok"));
    }
    legitimate_pair(&d, "max-connections");
}
