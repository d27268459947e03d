//! Resuming a registration after the connection drops, end to end over the native protocol:
//! the real binary on loopback, raw WebSocket clients that drop their TCP connection
//! without a close (as a network failure does).
mod common;
use common::{Client, Daemon, Got};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;

/// Agent "a" and user "u" in a call in room "r".
fn call(d: &Daemon) -> (Client, Client) {
    let mut a = Client::agent(d, json!("a"));
    let mut u = Client::user(d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    (a, u)
}

/// Registers `id` on a new connection with the old one's token and last seq seen.
fn resume(d: &Daemon, event: &str, id: &str, old: &Client) -> (Client, Value) {
    let mut c = d.client();
    c.last_seq = old.last_seq;
    c.send(
        event,
        json!({"id": id, "resumeToken": old.resume_token, "lastSeq": old.last_seq}),
    );
    let r = c.expect("registered");
    (c, r)
}

/// Reads the next `n` events named `name`, skipping count broadcasts; their messageInputs.
fn messages(c: &mut Client, name: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|_| c.expect(name)["messageInput"].clone())
        .collect()
}

fn numbers(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!(i)).collect()
}

#[test]
fn a_user_that_drops_mid_call_resumes_and_gets_all_fifty_messages_once_in_order() {
    let d = Daemon::start("");
    let (mut a, u) = call(&d);
    let token = u.resume_token.clone().expect("a resume token");
    let seen = u.last_seq;
    drop(u);
    assert_eq!(a.expect("peerDisconnected"), json!({"roomId": "r"}));
    for i in 0..50 {
        a.send("agentMessage", json!({"messageInput": i}));
    }
    let (mut u2, r) = resume(&d, "connectUser", "u", &u_seen(&d, seen, &token));
    assert_eq!(
        r,
        json!({"role": "user", "id": "u", "resumeToken": token, "resumed": true})
    );
    // The reader checks every seq is the one after the last: the 50, then the count.
    // (The resume may land while the agent's messages still arrive: the count it gets
    // after the replay can come between them.)
    assert_eq!(messages(&mut u2, "agentMessage", 50), numbers(50));
    while let Some(got) = u2.next_within(Duration::from_millis(300)) {
        match got {
            Got::Event(e, _) => assert_eq!(e, "getAvailableAgents"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(u2.last_seq, seen + 51, "the 50 and one count, each once");
    assert_eq!(a.expect("peerReconnected"), json!({"roomId": "r"}));
    // The call goes on, both ways.
    u2.send("userMessage", json!({"messageInput": "back"}));
    assert_eq!(a.expect("userMessage")["messageInput"], "back");
    a.send("agentMessage", json!({"messageInput": "live"}));
    assert_eq!(u2.expect("agentMessage")["messageInput"], "live");
    assert_eq!(u2.last_seq, seen + 52);
}

/// A stand-in for a client that saw events up to `seen` and holds `token`.
fn u_seen(d: &Daemon, seen: u64, token: &str) -> Client {
    let mut c = d.client();
    c.last_seq = seen;
    c.resume_token = Some(token.to_owned());
    c
}

#[test]
fn an_agent_that_drops_mid_call_resumes_and_gets_all_fifty_messages() {
    let d = Daemon::start("");
    let (a, mut u) = call(&d);
    let seen = a.last_seq;
    let old_token = a.resume_token.clone();
    drop(a);
    assert_eq!(u.expect("peerDisconnected"), json!({"roomId": "r"}));
    for i in 0..50 {
        u.send("userMessage", json!({"messageInput": i}));
    }
    let mut c = d.client();
    c.last_seq = seen;
    c.send(
        "connectAgent",
        json!({"id": "a", "resumeToken": old_token, "lastSeq": seen}),
    );
    assert_eq!(c.expect("registered")["resumed"], true);
    assert_eq!(messages(&mut c, "userMessage", 50), numbers(50));
    assert_eq!(u.expect("peerReconnected"), json!({"roomId": "r"}));
}

#[test]
fn a_queued_user_that_drops_keeps_its_place() {
    let d = Daemon::start("");
    let mut u1 = Client::user(&d, json!("u1"));
    u1.send("callAgent", json!({"roomId": "r1"}));
    assert_eq!(u1.expect("queued")["position"], 1);
    let mut u2 = Client::user(&d, json!("u2"));
    u2.send("callAgent", json!({"roomId": "r2"}));
    assert_eq!(u2.expect("queued")["position"], 2);
    let (seen, token) = (u1.last_seq, u1.resume_token.clone());
    drop(u1);
    std::thread::sleep(Duration::from_millis(200));
    let mut back = Client::resume_user(&d, "u1", token, seen);
    assert_eq!(back.expect("registered")["resumed"], true);
    // The first agent takes u1, still first in line.
    let mut a = Client::agent(&d, json!("a"));
    assert_eq!(a.expect("callAgent")["userId"], "u1");
    assert_eq!(back.expect("callAgent")["roomId"], "r1");
    u2.expect_quiet(300);
}

#[test]
fn a_resume_while_the_old_connection_is_open_takes_over() {
    let d = Daemon::start("");
    let (mut a, mut u) = call(&d);
    let mut u2 = d.client();
    u2.send(
        "connectUser",
        json!({"id": "u", "resumeToken": u.resume_token, "lastSeq": u.last_seq}),
    );
    u2.last_seq = u.last_seq;
    assert_eq!(u2.expect("registered")["resumed"], true);
    u.expect_error("session_replaced");
    loop {
        match u.next() {
            Got::Close(code) => {
                assert_eq!(code, Some(CloseCode::Normal));
                break;
            }
            Got::Event(e, _) => assert_eq!(e, "getAvailableAgents"),
        }
    }
    a.send("agentMessage", json!({"messageInput": "to the new one"}));
    assert_eq!(u2.expect("agentMessage")["messageInput"], "to the new one");
    // The agent never saw its user go.
    a.expect_quiet(200);
}

#[test]
fn a_held_id_without_the_right_token_is_in_use() {
    let d = Daemon::start("");
    let (_a, u) = call(&d);
    drop(u);
    for data in [
        json!({"id": "u"}),
        json!({"id": "u", "resumeToken": "0123456789abcdef0123456789abcdef", "lastSeq": 0}),
    ] {
        let mut c = d.client();
        c.send("connectUser", data);
        c.expect_error("id_in_use");
    }
}

#[test]
fn a_client_seq_resent_after_a_reconnect_is_applied_once() {
    let d = Daemon::start("");
    let (mut a, mut u) = call(&d);
    let frame = |seq: u64, text: &str| {
        json!({"event": "userMessage", "data": {"messageInput": text}, "seq": seq}).to_string()
    };
    u.send_text(&frame(1, "one"));
    assert_eq!(u.expect("ack"), json!({"seq": 1}));
    assert_eq!(a.expect("userMessage")["messageInput"], "one");
    // The same seq again (a resend): acknowledged, not relayed.
    u.send_text(&frame(1, "one"));
    assert_eq!(u.expect("ack"), json!({"seq": 1}));
    a.expect_quiet(200);
    // After a drop and a resume, the party still knows what it applied.
    let (seen, token) = (u.last_seq, u.resume_token.clone());
    drop(u);
    a.expect("peerDisconnected");
    let mut u2 = Client::resume_user(&d, "u", token, seen);
    u2.expect("registered");
    u2.send_text(&frame(1, "one"));
    u2.send_text(&frame(2, "two"));
    assert_eq!(u2.expect("ack"), json!({"seq": 1}));
    assert_eq!(u2.expect("ack"), json!({"seq": 2}));
    a.expect("peerReconnected");
    assert_eq!(a.expect("userMessage")["messageInput"], "two");
    a.expect_quiet(200);
    // A seq that is not a positive integer is a bad envelope.
    u2.send_text(r#"{"event":"mute","seq":0}"#);
    u2.expect_error("bad_message");
}

#[test]
fn after_the_grace_the_hold_ends_and_a_resume_starts_over() {
    let d = Daemon::start("[sessions]\nresume_grace_ms = 300\n");
    let (mut a, u) = call(&d);
    let started = Instant::now();
    drop(u);
    a.expect("peerDisconnected");
    let ended = a.expect("callEnded");
    assert_eq!(ended["reason"], "disconnected");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (_, r) = resume(&d, "connectUser", "u", &{
        let mut c = d.client();
        c.resume_token = Some("ffffffffffffffffffffffffffffffff".into());
        c.last_seq = 3;
        c
    });
    assert_eq!(r["resumed"], false);
}

#[test]
fn a_hold_over_max_buffered_events_ends_and_the_other_party_is_told() {
    let d = Daemon::start("[sessions]\nmax_buffered_events = 5\n");
    let (mut a, u) = call(&d);
    let (seen, token) = (u.last_seq, u.resume_token.clone());
    drop(u);
    a.expect("peerDisconnected");
    // Five events fit (two sent before the drop make room first); the sixth does not.
    for i in 0..6 {
        a.send("agentMessage", json!({"messageInput": i}));
    }
    assert_eq!(a.expect("callEnded")["reason"], "disconnected");
    let mut c = Client::resume_user(&d, "u", token, seen);
    assert_eq!(c.expect("registered")["resumed"], false);
}

#[test]
fn a_hold_over_max_buffered_bytes_ends() {
    let d = Daemon::start("[sessions]\nmax_buffered_bytes = 20000\n");
    let (mut a, u) = call(&d);
    drop(u);
    a.expect("peerDisconnected");
    let big = "x".repeat(8000);
    for _ in 0..3 {
        a.send("agentMessage", json!({"messageInput": big}));
    }
    assert_eq!(a.expect("callEnded")["reason"], "disconnected");
}

#[test]
fn a_client_that_closes_normally_is_not_held() {
    let d = Daemon::start("");
    let (mut a, mut u) = call(&d);
    u.ws.close(None).unwrap();
    let _ = u.next_within(Duration::from_secs(2));
    assert_eq!(a.expect("callEnded")["reason"], "disconnected");
    Client::user(&d, json!("u"));
}

#[test]
fn with_no_grace_a_drop_ends_the_call_at_once_and_no_token_is_given() {
    let d = Daemon::start("[sessions]\nresume_grace_ms = 0\n");
    let mut a = Client::agent(&d, json!("a"));
    assert!(a.resume_token.is_none());
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    drop(u);
    assert_eq!(a.expect("callEnded")["reason"], "disconnected");
}

#[test]
fn sigterm_with_drain_tells_clients_to_reconnect_with_1012_and_exits_when_they_are_gone() {
    let mut d = Daemon::start("[sessions]\ndrain_ms = 20000\n");
    let mut a = Client::agent(&d, json!("a"));
    d.signal("TERM");
    loop {
        match a.next() {
            Got::Close(code) => {
                assert_eq!(code, Some(CloseCode::Restart));
                break;
            }
            Got::Event(..) => {}
        }
    }
    drop(a);
    // Gone well before the drain time is up.
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
}
