//! The native protocol end to end: the real binary on loopback, raw WebSocket clients.
mod common;
use common::{Client, Daemon, Got};
use serde_json::json;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

#[test]
fn registration_replies_with_role_id_and_count() {
    let d = Daemon::start("");
    let mut a = d.client();
    a.send("connectAgent", json!({"id": "a1", "name": "Ann"}));
    let (name, data) = a.next_event();
    assert_eq!(name, "registered");
    common::assert_registered(&data, "agent", &json!("a1"));
    assert_eq!(
        a.next_event(),
        ("getAvailableAgents".into(), json!({"availableAgents": 1}))
    );
    // Once: the broadcast of the count its registration changed does not repeat it.
    assert!(a.next_within(Duration::from_millis(400)).is_none());
    let mut b = d.client();
    b.send("connectAgent", json!({"id": "a2"}));
    assert_eq!(b.next_event().0, "registered");
    assert_eq!(
        b.next_event(),
        ("getAvailableAgents".into(), json!({"availableAgents": 2}))
    );
    assert!(b.next_within(Duration::from_millis(400)).is_none());
    // The agent already there hears the new count from the broadcast.
    assert_eq!(
        a.next_event(),
        ("getAvailableAgents".into(), json!({"availableAgents": 2}))
    );
    let mut u = d.client();
    u.send("connectUser", json!({"id": 7}));
    let (name, data) = u.next_event();
    assert_eq!(name, "registered");
    common::assert_registered(&data, "user", &json!(7));
    assert_eq!(
        u.next_event(),
        ("getAvailableAgents".into(), json!({"availableAgents": 2}))
    );
}

#[test]
fn registration_errors() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a1"));
    a.send("connectAgent", json!({"id": "a2"}));
    a.expect_error("already_registered");
    a.send("connectUser", json!({"id": "u"}));
    a.expect_error("already_registered");
    let mut b = d.client();
    b.send("connectAgent", json!({"id": "a1"}));
    b.expect_error("id_in_use");
    // The same id is free for the other role, and ids compare as JSON values.
    b.send("connectUser", json!({"id": "a1"}));
    b.expect("registered");
    let mut c = d.client();
    c.send("connectUser", json!({}));
    c.expect_error("bad_payload");
    c.send("connectUser", json!({"id": 1.5}));
    c.expect_error("bad_payload");
    c.send("connectUser", json!("a1"));
    c.expect_error("bad_payload");
    c.send("callAgent", json!({}));
    c.expect_error("not_registered");
    let mut e = d.client();
    e.send("connectUser", json!({"id": 7}));
    e.expect("registered");
    let mut f = d.client();
    f.send("connectUser", json!({"id": "7"}));
    f.expect("registered");
}

#[test]
fn framing_errors_keep_the_connection_open() {
    let d = Daemon::start("");
    let mut c = d.client();
    c.send_text("not json");
    let e = c.expect_error("bad_json");
    assert_eq!(e["event"], json!(null));
    c.send_text("[1,2]");
    c.expect_error("bad_message");
    c.send_text(r#"{"event":5}"#);
    let e = c.expect_error("bad_message");
    assert_eq!(e["event"], json!(null));
    // An extra key: the envelope is refused, but the error says which event it was.
    c.send_text(r#"{"event":"connectUser","data":{"id":"u"},"extra":1}"#);
    let e = c.expect_error("bad_message");
    assert_eq!(e["event"], "connectUser");
    c.send_text(r#"{"event":"dance","data":{}}"#);
    let e = c.expect_error("unknown_event");
    assert_eq!(e["event"], "dance");
    // Still usable.
    c.send("connectUser", json!({"id": "u"}));
    c.expect("registered");
}

#[test]
fn binary_frame_closes_with_1003() {
    let d = Daemon::start("");
    let mut c = d.client();
    c.ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    match c.next() {
        Got::Close(code) => assert_eq!(code, Some(CloseCode::Unsupported)),
        other => panic!("expected close, got {other:?}"),
    }
}

#[test]
fn oversized_message_closes_with_1009() {
    let d = Daemon::start("[limits]\nmax_message_bytes = 1024\n");
    let mut c = d.client();
    c.send("connectUser", json!({"id": "x".repeat(2000)}));
    match c.next() {
        Got::Close(code) => assert_eq!(code, Some(CloseCode::Size)),
        other => panic!("expected close, got {other:?}"),
    }
}

#[test]
fn full_call_flow() {
    let d = Daemon::start("");
    let mut a1 = Client::agent(&d, json!("a1"));
    let mut a2 = Client::agent(&d, json!("a2"));
    let mut u = Client::user(&d, json!("u1"));
    u.expect_count(2);

    // a1 has been available longest, so it gets the call.
    u.send(
        "callAgent",
        json!({"userId": "u1", "roomId": "r1", "topic": "billing"}),
    );
    let want = json!({"userId":"u1","roomId":"r1","agentId":"a1","topic":"billing"});
    assert_eq!(a1.expect("callAgent"), common::polite(&want, true));
    assert_eq!(u.expect("callAgent"), common::polite(&want, false));
    u.expect_count(1);
    a2.expect_count(1);

    // Messages both ways; messageInput is forwarded whatever JSON it is.
    u.send(
        "userMessage",
        json!({"roomId": "r1", "messageInput": "hello"}),
    );
    assert_eq!(
        a1.expect("userMessage"),
        json!({"roomId":"r1","messageInput":"hello"})
    );
    a1.send(
        "agentMessage",
        json!({"messageInput": {"text": "hi", "n": [1, 2]}}),
    );
    assert_eq!(
        u.expect("agentMessage"),
        json!({"roomId":"r1","messageInput":{"text":"hi","n":[1,2]}})
    );

    // Mute goes to the other party with the data as sent.
    u.send("mute", json!({"roomId": "r1", "muted": true}));
    assert_eq!(a1.expect("mute"), json!({"roomId":"r1","muted":true}));
    a1.send("mute", json!({"muted": false}));
    assert_eq!(u.expect("mute"), json!({"roomId":"r1","muted":false}));

    // Transfer to a2.
    a1.send(
        "callTransfer",
        json!({"agentId": "a1", "roomId": "r1", "note": "vip"}),
    );
    assert_eq!(
        a2.expect("callTransfer"),
        json!({"agentId":"a1","roomId":"r1","userId":"u1","note":"vip","polite":true})
    );
    // The user's audio is still muted: the new agent is told.
    assert_eq!(
        a2.expect("callState"),
        json!({"roomId":"r1","muted":{"audio":false,"video":false},"peerMuted":{"audio":true,"video":false}})
    );
    assert_eq!(
        u.expect("callTransfer"),
        json!({"agentId":"a2","roomId":"r1","polite":false})
    );
    assert_eq!(
        a1.expect("callEnded"),
        json!({"roomId":"r1","reason":"transferred"})
    );
    // a1 is free again (a2 busy): count stays 1 overall.
    a2.send(
        "agentMessage",
        json!({"roomId": "r1", "messageInput": "a2 here"}),
    );
    assert_eq!(
        u.expect("agentMessage"),
        json!({"roomId":"r1","messageInput":"a2 here"})
    );
    a1.send("agentMessage", json!({"roomId": "r1", "messageInput": "x"}));
    a1.expect_error("not_in_call");

    // Leave: both told, both free, room gone.
    u.send("leaveCall", json!({"roomId": "r1"}));
    let ended = json!({"roomId":"r1","reason":"left","by":"user"});
    assert_eq!(u.expect("callEnded"), ended);
    assert_eq!(a2.expect("callEnded"), ended);
    u.expect_count(2);
    u.send(
        "userMessage",
        json!({"roomId": "r1", "messageInput": "anyone?"}),
    );
    u.expect_error("not_in_call");
    a2.expect_quiet(200);

    // The room id can be used again; the server makes one when none is given.
    u.send("callAgent", json!({}));
    let got = u.expect("callAgent");
    assert!(got["roomId"].is_string(), "{got}");
    assert_eq!(got["userId"], "u1");
}

#[test]
fn agent_leave_says_by_agent() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!(1));
    let mut u = Client::user(&d, json!(2));
    u.send("callAgent", json!({"roomId": 99}));
    a.expect("callAgent");
    u.expect("callAgent");
    a.send("leaveCall", json!({"roomId": 99, "agentId": 1}));
    let ended = json!({"roomId":99,"reason":"left","by":"agent"});
    assert_eq!(a.expect("callEnded"), ended);
    assert_eq!(u.expect("callEnded"), ended);
}

#[test]
fn reject_ends_call_and_frees_agent() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    a.expect_count(0);
    a.send("rejectCall", json!({"agentId": "a", "roomId": "r"}));
    // The agent hears it; the user is put back first in line, never to the same agent.
    assert_eq!(
        a.expect("callEnded"),
        json!({"roomId":"r","reason":"rejected"})
    );
    assert_eq!(
        u.expect("queued"),
        json!({"roomId":"r","position":1,"queueLength":1,"reason":"rejected"})
    );
    a.expect_count(1);
    a.send("rejectCall", json!({}));
    a.expect_error("not_in_call");
}

#[test]
fn call_errors() {
    let d = Daemon::start("");
    let mut u = Client::user(&d, json!("u"));
    // No agent: the user waits in the queue (queue = true by default) and may cancel.
    u.send("callAgent", json!({}));
    let q = u.expect("queued");
    assert_eq!(
        (q["position"].clone(), q["queueLength"].clone()),
        (json!(1), json!(1))
    );
    u.send("callAgent", json!({}));
    u.expect_error("already_in_call");
    u.send("leaveCall", json!({}));
    assert_eq!(u.expect("callEnded")["reason"], "cancelled");
    u.send("callAgent", json!({"userId": "someone-else"}));
    u.expect_error("forbidden");
    u.send("callAgent", json!({"roomId": {"x": 1}}));
    u.expect_error("bad_payload");
    u.send("callAgent", json!([1]));
    u.expect_error("bad_payload");
    let mut a = Client::agent(&d, json!("a"));
    let mut b = Client::agent(&d, json!("b"));
    u.send("callAgent", json!({"roomId": "r"}));
    u.expect("callAgent");
    a.expect("callAgent");
    u.send("callAgent", json!({}));
    u.expect_error("already_in_call");
    let mut u2 = Client::user(&d, json!("u2"));
    u2.send("callAgent", json!({"roomId": "r"}));
    u2.expect_error("room_in_use");
    // Agents cannot act as users, users cannot act as agents, nobody as another agent.
    b.send("callAgent", json!({}));
    b.expect_error("forbidden");
    u.send("agentMessage", json!({"roomId": "r", "messageInput": "x"}));
    u.expect_error("forbidden");
    b.send("leaveCall", json!({"roomId": "r", "agentId": "a"}));
    b.expect_error("not_in_call");
    a.send("rejectCall", json!({"agentId": "b", "roomId": "r"}));
    a.expect_error("forbidden");
    u2.send("userMessage", json!({"roomId": "r", "messageInput": "x"}));
    u2.expect_error("not_in_call");
    u.send(
        "userMessage",
        json!({"roomId": "other", "messageInput": "x"}),
    );
    u.expect_error("forbidden");
    u.send("userMessage", json!({"roomId": "r"}));
    u.expect_error("bad_payload");
    b.send("toggleAvailability", json!({"available": "yes"}));
    b.expect_error("bad_payload");
    b.send("toggleAvailability", json!({"id": "a", "available": false}));
    b.expect_error("forbidden");
    // A payload that names another party is refused, whatever the event.
    u.send("userMessage", json!({"userId": "u2", "messageInput": "x"}));
    u.expect_error("forbidden");
    u.send("mute", json!({"userId": "u2"}));
    u.expect_error("forbidden");
    u.send("leaveCall", json!({"userId": "u2"}));
    u.expect_error("forbidden");
    a.send("agentMessage", json!({"agentId": "b", "messageInput": "x"}));
    a.expect_error("forbidden");
    b.send(
        "toggleAvailability",
        json!({"agentId": "a", "available": false}),
    );
    b.expect_error("forbidden");
    u.send("userMessage", json!(["r", "x"]));
    u.expect_error("bad_payload");
    // Valid JSON that no id can hold (a lone surrogate, a number beyond f64): bad_payload.
    u.send_text(r#"{"event":"userMessage","data":{"roomId":"\ud800","messageInput":"x"}}"#);
    assert_eq!(u.expect_error("bad_payload")["event"], json!("userMessage"));
    u.send_text(r#"{"event":"agentMessage","data":1e400}"#);
    u.expect_error("bad_payload");
    // None of that changed anything: the call still works.
    u.send("userMessage", json!({"messageInput": "still here"}));
    assert_eq!(
        a.expect("userMessage"),
        json!({"roomId":"r","messageInput":"still here"})
    );
    b.expect_quiet(200);
}

#[test]
fn transfer_to_named_agent_or_none() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    a.send("callTransfer", json!({"roomId": "r"}));
    a.expect_error("no_agent_available");
    let mut b = Client::agent(&d, json!("b"));
    let mut c = Client::agent(&d, json!("c"));
    // b is free longer, but c is asked for by name.
    a.send("callTransfer", json!({"roomId": "r", "toAgentId": "c"}));
    assert_eq!(c.expect("callTransfer")["agentId"], "a");
    assert_eq!(
        u.expect("callTransfer"),
        json!({"agentId":"c","roomId":"r","polite":false})
    );
    a.expect("callEnded");
    b.expect_quiet(200);
    // c cannot transfer someone else's room.
    b.send("callTransfer", json!({"roomId": "r"}));
    b.expect_error("not_in_call");
}

#[test]
fn toggle_availability_controls_routing() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    a.send("toggleAvailability", json!({"id": "a", "available": false}));
    a.expect_count(0);
    u.expect_count(0);
    u.send("callAgent", json!({"roomId": "r"}));
    u.expect("queued");
    // Available again: the waiting user is assigned at once.
    a.send("toggleAvailability", json!({"available": true}));
    a.expect("callAgent");
    u.expect("callAgent");
    // Busy agent goes unavailable: after the call it stays unavailable.
    a.send("toggleAvailability", json!({"available": false}));
    u.send("leaveCall", json!({}));
    u.expect("callEnded");
    a.expect("callEnded");
    u.expect_quiet(200);
    let mut u2 = Client::user(&d, json!("u2"));
    u2.send("callAgent", json!({}));
    u2.expect("queued");
}

#[test]
fn longest_available_agent_gets_the_call() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a"));
    let mut b = Client::agent(&d, json!("b"));
    let mut u1 = Client::user(&d, json!("u1"));
    let mut u2 = Client::user(&d, json!("u2"));
    u1.send("callAgent", json!({"roomId": "r1"}));
    assert_eq!(u1.expect("callAgent")["agentId"], "a");
    a.expect("callAgent");
    u1.send("leaveCall", json!({}));
    u1.expect("callEnded");
    a.expect("callEnded");
    // a became free after b: b has waited longest now.
    u2.send("callAgent", json!({"roomId": "r2"}));
    assert_eq!(u2.expect("callAgent")["agentId"], "b");
    b.expect("callAgent");
}

#[test]
fn two_calls_side_by_side() {
    let d = Daemon::start("");
    let mut a1 = Client::agent(&d, json!("a1"));
    let mut a2 = Client::agent(&d, json!("a2"));
    let mut u1 = Client::user(&d, json!("u1"));
    let mut u2 = Client::user(&d, json!("u2"));
    u1.send("callAgent", json!({"roomId": "r1"}));
    a1.expect("callAgent");
    u1.expect("callAgent");
    u2.send("callAgent", json!({"roomId": "r2"}));
    a2.expect("callAgent");
    u2.expect("callAgent");
    for i in 0..20 {
        u1.send("userMessage", json!({"messageInput": format!("one {i}")}));
        u2.send("userMessage", json!({"messageInput": format!("two {i}")}));
    }
    for i in 0..20 {
        assert_eq!(a1.expect("userMessage")["messageInput"], format!("one {i}"));
        assert_eq!(a2.expect("userMessage")["messageInput"], format!("two {i}"));
    }
    a2.send("agentMessage", json!({"messageInput": "for u2"}));
    assert_eq!(u2.expect("agentMessage")["messageInput"], "for u2");
    u1.expect_quiet(200);
}

#[test]
fn user_disconnect_mid_call_ends_it_for_the_agent() {
    // Without a resume grace a drop ends the party at once (tests/resume.rs: with one).
    let d = Daemon::start("[sessions]\nresume_grace_ms = 0\n");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    drop(u);
    assert_eq!(
        a.expect("callEnded"),
        json!({"roomId":"r","reason":"disconnected"})
    );
    a.expect_count(1);
    // The user id is free again.
    let _u = Client::user(&d, json!("u"));
}

#[test]
fn agent_disconnect_mid_call_puts_the_user_back_in_line() {
    // The call queue's default (requeue_on_agent_loss): the user is not lost but waits for
    // the next agent, who gets it on registering.
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    a.ws.close(None).unwrap();
    assert_eq!(
        u.expect("queued"),
        json!({"roomId":"r","position":1,"queueLength":1,"reason":"agent_disconnected"})
    );
    u.send("userMessage", json!({"messageInput": "hello?"}));
    u.expect_error("not_in_call");
    u.send("callAgent", json!({}));
    u.expect_error("already_in_call");
    let mut a = Client::agent(&d, json!("a"));
    assert_eq!(a.expect("callAgent")["roomId"], "r");
    assert_eq!(u.expect("callAgent")["agentId"], "a");
}

#[test]
fn count_reaches_every_connection_even_unregistered() {
    let d = Daemon::start("");
    let mut watcher = d.client();
    let _a = Client::agent(&d, json!("a"));
    watcher.expect_count(1);
    drop(_a);
    watcher.expect_count(0);
}

#[test]
fn sigterm_closes_clients_with_1001_and_exits_0() {
    let mut d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = d.client();
    let started = Instant::now();
    d.signal("TERM");
    for c in [&mut a, &mut u] {
        loop {
            match c.next() {
                Got::Close(code) => {
                    assert_eq!(code, Some(CloseCode::Away));
                    break;
                }
                Got::Event(..) => continue,
            }
        }
    }
    assert_eq!(d.wait_exit(Duration::from_secs(3)), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The listener is gone.
    assert!(std::net::TcpStream::connect(d.addr).is_err());
}

#[test]
fn sigint_exits_0() {
    let mut d = Daemon::start("");
    let _c = d.client();
    d.signal("INT");
    assert_eq!(d.wait_exit(Duration::from_secs(3)), Some(0));
}

#[test]
fn origin_allow_and_deny() {
    let d = Daemon::start("cors_origins = [\"https://good.example\"]");
    assert!(Client::connect(d.addr, "/ws", Some("https://good.example")).is_ok());
    assert!(Client::connect(d.addr, "/ws", None).is_ok());
    match Client::connect(d.addr, "/ws", Some("https://evil.example")) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let d = Daemon::start("");
    match Client::connect(d.addr, "/ws", Some("https://good.example")) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("default must refuse origins, got {:?}", other.map(|_| ())),
    }
    let d = Daemon::start("cors_origins = [\"*\"]");
    assert!(Client::connect(d.addr, "/ws", Some("https://any.example")).is_ok());
}

#[test]
fn other_paths_get_404() {
    let d = Daemon::start("");
    match Client::connect(d.addr, "/chat", None) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 404),
        other => panic!("expected 404, got {:?}", other.map(|_| ())),
    }
    let r = d.http("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    let r = d.http("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 426"), "{r}");
    let r = d.http("\x16\x03\x01garbage\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
}

#[test]
fn handshake_timeout_closes_idle_sockets() {
    let d = Daemon::start("[limits]\nhandshake_timeout_ms = 200\n");
    let started = Instant::now();
    let r = d.http("GET /ws HTTP/1.1\r\n");
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn garbage_never_kills_the_daemon() {
    let d = Daemon::start("");
    let mut watcher = Client::agent(&d, json!("w"));
    let junk = [
        "",
        "{}",
        "null",
        "\"x\"",
        "{\"event\":\"callAgent\",\"data\":null}",
        "{\"event\":\"connectUser\",\"data\":{\"id\":null}}",
        "{\"event\":\"connectUser\",\"data\":{\"id\":18446744073709551615}}",
        "{\"event\":\"mute\",\"data\":[[[[[[[[[[]]]]]]]]]]}",
        "{\"event\":\"leaveCall\",\"data\":\"\\ud800\"}",
        "{\"event\":\"userMessage\",\"data\":{\"messageInput\":1e400}}",
    ];
    for (i, j) in junk.iter().enumerate() {
        let mut c = d.client();
        c.send_text(j);
        let (e, _) = c.recv();
        assert_eq!(e, "error", "input {i}: {j}");
    }
    let mut c = d.client();
    let deep = "[".repeat(10_000);
    c.send_text(&format!("{{\"event\":\"mute\",\"data\":{deep}}}"));
    c.expect_error("bad_json");
    watcher.send("toggleAvailability", json!({"available": true}));
    watcher.expect_quiet(100);
}

#[test]
fn slow_consumer_is_dropped_not_buffered() {
    let d = Daemon::start(
        // The user floods until the server gives up on the agent: no rate limit in the way.
        "[limits]\nmax_message_bytes = 60000\nmax_outbound_bytes = 65536\nevents_per_sec = 1000000\nevents_burst = 1000000\n[socketio]\nmax_payload_bytes = 60000\n",
    );
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    // The agent stops reading; the user floods it.
    let big = "x".repeat(50_000);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut dropped = false;
    while Instant::now() < deadline {
        let msg = json!({"event":"userMessage","data":{"messageInput": big}}).to_string();
        if u.ws.send(Message::text(msg)).is_err() {
            break;
        }
        if let Ok(line) = d.log.try_recv() {
            if line.contains("slow consumer") {
                dropped = true;
                break;
            }
        }
    }
    if !dropped {
        d.wait_log("slow consumer");
    }
    // The user learns its agent's connection is gone: the agent is held for a resume
    // (after the grace, requeue_on_agent_loss would put the user back in line).
    loop {
        let (e, v) = u.recv();
        if e == "peerDisconnected" {
            assert_eq!(v["roomId"], "r");
            break;
        }
    }
    drop(a);
}

#[test]
fn hang_up_right_after_data_frees_the_id() {
    use std::io::Write;
    // The half-closed agent is held for the (short) grace, then removed.
    let d = Daemon::start("[sessions]\nresume_grace_ms = 300\n");
    // Upgrade, register and half-close in one write: data and FIN arrive together.
    let mut raw = std::net::TcpStream::connect(d.addr).unwrap();
    let frame = {
        let payload = br#"{"event":"connectAgent","data":{"id":"ghost"}}"#;
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![0x81, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    };
    let mut bytes = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".to_vec();
    bytes.extend_from_slice(&frame);
    raw.write_all(&bytes).unwrap();
    raw.shutdown(std::net::Shutdown::Write).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut c = d.client();
        c.send("connectAgent", json!({"id": "ghost"}));
        let (e, v) = c.recv();
        if e == "registered" {
            break;
        }
        assert_eq!(v["code"], "id_in_use");
        assert!(
            Instant::now() < deadline,
            "the half-closed agent was never removed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_backlog_is_written_once_the_reader_catches_up() {
    let d = Daemon::start("[limits]\nmax_message_bytes = 65536\nmax_outbound_bytes = 16777216\n");
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    // The agent stops reading (with a small receive buffer) while about 7 MB are relayed
    // to it: more than the socket buffers hold, so the server must queue the rest and wait
    // for the socket to become writable again.
    socket2::SockRef::from(a.ws.get_ref())
        .set_recv_buffer_size(128 * 1024)
        .unwrap();
    let chunk = "y".repeat(60_000);
    for i in 0..120 {
        u.send(
            "userMessage",
            json!({"messageInput": format!("{i}:{chunk}")}),
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..120 {
        let got = a.expect("userMessage");
        let text = got["messageInput"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("{i}:")),
            "message {i} out of order"
        );
    }
}

/// What a client sends after the server has begun closing it is never routed: a
/// `connectAgent` behind a refused binary frame must not leave a ghost agent behind.
#[test]
fn events_after_a_server_close_are_not_routed() {
    let d = Daemon::start("");
    let mut c = d.client();
    c.ws.write(Message::binary(vec![1u8, 2, 3])).unwrap();
    c.ws.write(Message::text(
        json!({"event": "connectAgent", "data": {"id": "ghost"}}).to_string(),
    ))
    .unwrap();
    c.ws.flush().unwrap();
    loop {
        match c.next() {
            Got::Close(code) => {
                assert_eq!(code, Some(CloseCode::Unsupported));
                break;
            }
            Got::Event(e, d) => assert_eq!(e, "getAvailableAgents", "{e} {d}"),
        }
    }
    drop(c);
    // The id is free and nobody counts as available.
    let mut u = Client::user(&d, json!("u"));
    Client::agent(&d, json!("ghost"));
    u.expect_count(1);
}
