//! Unit tests for `per_ip`.
use super::*;
use crate::net::http::{parse_head, Parsed};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A WebSocket upgrade request with the `extra` header lines.
fn head(extra: &str) -> Head {
    parsed(&format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    ))
}

/// A polling request with the `extra` header lines.
fn poll(extra: &str) -> Head {
    parsed(&format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n{extra}\r\n"
    ))
}

fn parsed(text: &str) -> Head {
    match parse_head(text.as_bytes()) {
        Parsed::Complete(h) => h,
        other => panic!("{other:?}"),
    }
}

fn policy(exempt: &[&str], trusted: &[&str]) -> AddressPolicy {
    AddressPolicy {
        exempt: exempt.iter().map(|s| ip(s)).collect(),
        trusted_proxies: trusted.iter().map(|s| ip(s)).collect(),
    }
}

#[test]
fn connections_past_the_limit_are_refused_and_closing_frees_a_place() {
    let p = policy(&[], &[]);
    let mut c = PerIp::default();
    let a = ip("192.0.2.1");
    assert_eq!(c.accepted(&p, 2, 1, a), Admit::Yes);
    assert_eq!(c.accepted(&p, 2, 2, a), Admit::Yes);
    assert_eq!(c.accepted(&p, 2, 3, a), Admit::Over(a));
    assert_eq!(c.accepted(&p, 2, 4, ip("192.0.2.2")), Admit::Yes);
    assert_eq!(c.connections(a), 2);
    c.closed(3); // refused: never counted
    assert_eq!(c.connections(a), 2);
    c.closed(1);
    c.closed(1); // once only
    assert_eq!(c.connections(a), 1);
    assert_eq!(c.accepted(&p, 2, 5, a), Admit::Yes);
    for t in [2, 4, 5] {
        c.closed(t);
    }
    assert_eq!(c.entries(), 0, "no entry outlives its connections");
}

#[test]
fn off_and_exempt_count_nothing() {
    let p = policy(&["192.0.2.9"], &[]);
    let mut c = PerIp::default();
    for t in 0..10 {
        assert_eq!(c.accepted(&p, 0, t, ip("192.0.2.1")), Admit::Yes);
        assert_eq!(c.accepted(&p, 1, 100 + t, ip("192.0.2.9")), Admit::Yes);
    }
    assert_eq!(c.entries(), 0);
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    let p = policy(&["192.0.2.9"], &[]);
    let mut c = PerIp::default();
    assert_eq!(c.accepted(&p, 1, 1, ip("::ffff:192.0.2.1")), Admit::Yes);
    assert_eq!(
        c.accepted(&p, 1, 2, ip("192.0.2.1")),
        Admit::Over(ip("192.0.2.1"))
    );
    assert_eq!(c.accepted(&p, 1, 3, ip("::ffff:192.0.2.9")), Admit::Yes);
    assert_eq!(c.accepted(&p, 1, 4, ip("::ffff:192.0.2.9")), Admit::Yes);
}

#[test]
fn a_trusted_proxy_is_counted_by_its_forwarded_client() {
    let proxy = ip("10.0.0.1");
    let p = policy(&["198.51.100.7"], &["10.0.0.1"]);
    let mut c = PerIp::default();
    let limit = 1;
    // Two clients behind the proxy: one place each.
    assert_eq!(c.accepted(&p, limit, 1, proxy), Admit::Yes);
    let h1 = head("X-Forwarded-For: 203.0.113.5, 198.51.100.1\r\n");
    assert_eq!(c.head_read(&p, limit, 1, &h1), Admit::Yes);
    assert_eq!(c.accepted(&p, limit, 2, proxy), Admit::Yes);
    let h2 = head("X-Forwarded-For: 198.51.100.2\r\n");
    assert_eq!(c.head_read(&p, limit, 2, &h2), Admit::Yes);
    // The first client again: over.
    assert_eq!(c.accepted(&p, limit, 3, proxy), Admit::Yes);
    let h3 = head("x-forwarded-for: 1.2.3.4\r\nX-Forwarded-For: 198.51.100.1\r\n");
    assert_eq!(
        c.head_read(&p, limit, 3, &h3),
        Admit::Over(ip("198.51.100.1"))
    );
    // A later request on a counted connection does not move it.
    assert_eq!(c.head_read(&p, limit, 2, &h1), Admit::Yes);
    assert_eq!(c.connections(ip("198.51.100.2")), 1);
    // No header: the proxy itself; an exempt client is not counted.
    assert_eq!(c.accepted(&p, limit, 4, proxy), Admit::Yes);
    assert_eq!(c.head_read(&p, limit, 4, &head("")), Admit::Yes);
    assert_eq!(c.connections(proxy), 1);
    assert_eq!(c.accepted(&p, limit, 5, proxy), Admit::Yes);
    let h5 = head("X-Forwarded-For: 198.51.100.7\r\n");
    assert_eq!(c.head_read(&p, limit, 5, &h5), Admit::Yes);
    assert_eq!(c.connections(ip("198.51.100.7")), 0);
    for t in 1..=5 {
        c.closed(t);
    }
    assert_eq!(c.entries(), 0);
}

/// A proxy's pooled connection carries any client's polling requests: it is counted for
/// none of them, and under the client of the WebSocket upgrade that finally takes it.
#[test]
fn a_proxy_connection_is_counted_only_when_a_client_upgrades_it() {
    let proxy = ip("10.0.0.1");
    let p = policy(&[], &["10.0.0.1"]);
    let mut c = PerIp::default();
    let (a, b) = (
        "X-Forwarded-For: 198.51.100.1\r\n",
        "X-Forwarded-For: 198.51.100.2\r\n",
    );
    // Two pooled connections, each carrying both clients' polls: nobody is counted.
    for t in [1, 2] {
        assert_eq!(c.accepted(&p, 1, t, proxy), Admit::Yes);
        for h in [a, b, a] {
            assert_eq!(c.head_read(&p, 1, t, &poll(h)), Admit::Yes);
        }
    }
    assert_eq!(c.connections(ip("198.51.100.1")), 0);
    assert_eq!(c.connections(proxy), 0);
    // Client b upgrades on connection 1: that one is b's; b's second upgrade is over.
    assert_eq!(c.head_read(&p, 1, 1, &head(b)), Admit::Yes);
    assert_eq!(c.connections(ip("198.51.100.2")), 1);
    assert_eq!(
        c.head_read(&p, 1, 2, &head(b)),
        Admit::Over(ip("198.51.100.2"))
    );
    // Client a, on a connection that carried b's polls, is let in under its own address.
    assert_eq!(c.accepted(&p, 1, 3, proxy), Admit::Yes);
    assert_eq!(c.head_read(&p, 1, 3, &poll(b)), Admit::Yes);
    assert_eq!(c.head_read(&p, 1, 3, &head(a)), Admit::Yes);
    assert_eq!(c.connections(ip("198.51.100.1")), 1);
    for t in 1..=3 {
        c.closed(t);
    }
    assert_eq!(c.entries(), 0);
}

#[test]
fn another_peer_cannot_choose_its_address() {
    let p = policy(&[], &["10.0.0.1"]);
    let peer = ip("192.0.2.1");
    let h = head("X-Forwarded-For: 198.51.100.1\r\n");
    assert_eq!(client_of(&p, peer, &h), peer);
    assert_eq!(client_of(&p, ip("10.0.0.1"), &h), ip("198.51.100.1"));
    let mut c = PerIp::default();
    assert_eq!(c.accepted(&p, 1, 1, peer), Admit::Yes);
    assert_eq!(c.head_read(&p, 1, 1, &h), Admit::Yes);
    assert_eq!(c.accepted(&p, 1, 2, peer), Admit::Over(peer));
}

#[test]
fn forwarded_for_forms() {
    for (value, want) in [
        ("198.51.100.1", Some("198.51.100.1")),
        (" 203.0.113.1 ,198.51.100.1 ", Some("198.51.100.1")),
        ("198.51.100.1:4711", Some("198.51.100.1")),
        ("2001:db8::1", Some("2001:db8::1")),
        ("[2001:db8::1]", Some("2001:db8::1")),
        ("[2001:db8::1]:443", Some("2001:db8::1")),
        ("::ffff:198.51.100.1", Some("198.51.100.1")),
        ("unknown", None),
        ("198.51.100.1, garbage", None),
        ("", None),
    ] {
        let h = head(&format!("X-Forwarded-For: {value}\r\n"));
        assert_eq!(forwarded_for(&h), want.map(ip), "{value:?}");
    }
    assert_eq!(forwarded_for(&head("")), None);
}

#[test]
fn unconnected_sessions_per_address() {
    let p = policy(&["192.0.2.9"], &[]);
    let mut c = PerIp::default();
    let a = ip("192.0.2.1");
    let open = |c: &mut PerIp, limit| {
        let r = c.session_admits(&p, limit, a);
        if let Ok(Some(ip)) = r {
            c.session_opened(ip);
        }
        r
    };
    assert_eq!(open(&mut c, 2), Ok(Some(a)));
    assert_eq!(open(&mut c, 2), Ok(Some(a)));
    assert_eq!(open(&mut c, 2), Err(a));
    assert_eq!(open(&mut c, 0), Ok(None));
    assert_eq!(c.session_admits(&p, 1, ip("192.0.2.9")), Ok(None));
    assert_eq!(
        c.session_admits(&p, 2, ip("::ffff:192.0.2.1")),
        Err(a),
        "mapped"
    );
    c.session_done(a);
    assert_eq!(c.sessions(a), 1);
    assert_eq!(open(&mut c, 2), Ok(Some(a)));
    c.session_done(a);
    c.session_done(a);
    assert_eq!(c.entries(), 0);
}
