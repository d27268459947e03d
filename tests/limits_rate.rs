//! Per-connection rate limits and input limits against the real binary on loopback: an
//! event flood past `events_per_sec` is refused (`rate_limited`) and then closed (1008), an
//! agent flapping its availability is throttled (`toggles_per_sec`), a reload changes the
//! limits at once, and JSON nested past 128 levels is refused (`bad_payload`) with the call
//! going on. Each ends with a legitimate pair on the same daemon completing a call and 100
//! messages (its p99 round trip printed).
mod common;
use common::limits::{legitimate_pair, WITH_METRICS};
use common::sio::Sio;
use common::{raw_http, Client, Daemon, Got};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

/// The value of one sample line of a scrape, e.g. `x{a="b"}`.
fn sample(d: &Daemon, series: &str) -> f64 {
    let addr = d.metrics_addr.expect("metrics address in the log");
    let text = raw_http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no sample {series}"))
}

/// Reads every frame until the close: (error events by code, the close code).
fn read_to_close(c: &mut Client) -> (Vec<Value>, Option<CloseCode>) {
    let mut errors = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no close within 20 s");
        match c.next() {
            Got::Event(e, d) if e == "error" => errors.push(d),
            Got::Event(..) => {}
            Got::Close(code) => return (errors, code),
        }
    }
}

fn count(errors: &[Value], code: &str) -> usize {
    errors.iter().filter(|e| e["code"] == code).count()
}

#[test]
fn an_event_flood_is_refused_then_closed_while_a_pair_completes_a_call() {
    // The shipped defaults: 100 events/s, a burst of 200, closed after 100 refused in a row.
    let d = Daemon::start(WITH_METRICS);
    let mut flood = Client::user(&d, json!("flood"));
    let flooder = std::thread::spawn(move || {
        for _ in 0..1000 {
            // Not in a call: each allowed one is answered not_in_call.
            if flood
                .ws
                .send(Message::text(
                    r#"{"event":"userMessage","data":{"messageInput":"x"}}"#,
                ))
                .is_err()
            {
                break; // closed under us: the rest is not needed
            }
        }
        read_to_close(&mut flood)
    });
    legitimate_pair(&d, "during");
    let (errors, code) = flooder.join().unwrap();
    assert_eq!(code, Some(CloseCode::Policy), "closed with 1008");
    let allowed = count(&errors, "not_in_call");
    let limited = count(&errors, "rate_limited");
    // The burst less the registration, plus what the rate gave back meanwhile.
    assert!((199..400).contains(&allowed), "{allowed} allowed");
    assert!(limited >= 100, "{limited} refused");
    assert_eq!(allowed + limited, errors.len(), "only those two answers");
    let e = errors.iter().find(|e| e["code"] == "rate_limited").unwrap();
    assert_eq!(e["event"], "userMessage", "{e}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    // Refusals counted; one close.
    assert!(sample(&d, r#"support_limits_total{reason="rate_limited"}"#) >= 100.0);
    assert_eq!(
        sample(&d, r#"support_limits_total{reason="rate_closed"}"#),
        1.0
    );
    assert!(sample(&d, r#"support_errors_total{code="rate_limited"}"#) >= 100.0);
    // The flooder's registration ended with its connection: the id is free again.
    let mut again = d.client();
    again.send("connectUser", json!({"id": "flood"}));
    again.expect("registered");
    legitimate_pair(&d, "after");
}

#[test]
fn a_slower_sender_is_refused_but_not_closed() {
    // 30 events at once against a burst of 10 (the registration took one): 21 refused,
    // fewer than the 25 that close.
    let d = Daemon::start(
        "[limits]\nevents_per_sec = 1\nevents_burst = 10\nrate_limit_close_after = 25\n",
    );
    let mut c = Client::user(&d, json!("u"));
    for _ in 0..30 {
        c.send("userMessage", json!({"messageInput": "x"}));
    }
    let mut errors = Vec::new();
    while errors.len() < 30 {
        errors.push(c.expect("error"));
    }
    // 9 answered, 21 refused, in that order.
    assert!(
        errors[..9].iter().all(|e| e["code"] == "not_in_call"),
        "{errors:?}"
    );
    assert!(
        errors[9..].iter().all(|e| e["code"] == "rate_limited"),
        "{errors:?}"
    );
    c.expect_quiet(300);
    // A token comes back each second; the run of refusals ends and the connection stays.
    std::thread::sleep(Duration::from_millis(1100));
    c.send("userMessage", json!({"messageInput": "x"}));
    c.expect_error("not_in_call");
}

#[test]
fn frames_that_do_not_decode_and_resends_count_too() {
    let d = Daemon::start(
        "[limits]\nevents_per_sec = 1\nevents_burst = 5\nrate_limit_close_after = 1000\n",
    );
    // Unregistered: frames that are not JSON are answered bad_json, then refused.
    let mut c = d.client();
    for _ in 0..8 {
        c.send_text("not json");
    }
    let codes: Vec<_> = (0..8).map(|_| c.expect("error")["code"].clone()).collect();
    assert_eq!(codes[..5], vec![json!("bad_json"); 5], "{codes:?}");
    assert_eq!(codes[5..], vec![json!("rate_limited"); 3], "{codes:?}");
    // A numbered event sent again is not applied again, but it is not free either.
    let mut u = Client::user(&d, json!("u"));
    let numbered = r#"{"event":"userMessage","data":{"messageInput":"x"},"seq":1}"#;
    u.send_text(numbered);
    u.expect_error("not_in_call");
    u.expect("ack");
    // Registration and the first send took 2 of the 5: 3 resends are only acknowledged,
    // the other 3 are refused (and acknowledged: handled, if not applied).
    for _ in 0..6 {
        u.send_text(numbered);
    }
    let mut got = Vec::new();
    while got.len() < 9 {
        got.push(u.recv().0);
    }
    assert_eq!(got[..3], ["ack", "ack", "ack"], "{got:?}");
    assert_eq!(
        got[3..],
        ["error", "ack", "error", "ack", "error", "ack"],
        "{got:?}"
    );
}

#[test]
fn availability_toggles_are_throttled_and_the_count_shows_only_the_allowed_ones() {
    let d = Daemon::start(WITH_METRICS);
    let mut watcher = Client::user(&d, json!("watcher"));
    let mut agent = Client::agent(&d, json!("flapper"));
    watcher.expect_count(1);
    // false, true, false, ...: the first 5 (the burst) are applied, ending on false; the
    // other 15, ending on true, are refused.
    for i in 0..20 {
        agent.send("toggleAvailability", json!({"available": i % 2 == 1}));
    }
    // A marker that answers at once: everything before it has been handled.
    agent.send("userMessage", json!({"messageInput": "x"}));
    let mut limited = 0;
    loop {
        let e = agent.expect("error");
        if e["code"] == "forbidden" {
            break;
        }
        assert_eq!(e["code"], "rate_limited", "{e}");
        assert_eq!(e["event"], "toggleAvailability", "{e}");
        limited += 1;
    }
    assert!((13..=15).contains(&limited), "{limited} toggles refused");
    watcher.expect_count(0);
    assert_eq!(
        sample(&d, r#"support_limits_total{reason="toggle_limited"}"#),
        limited as f64
    );
    // Not a flood of events: still open, and a toggle later is applied.
    std::thread::sleep(Duration::from_millis(600));
    agent.send("toggleAvailability", json!({"available": true}));
    watcher.expect_count(1);
    // (Away again, so that the pair's call goes to the pair's agent.)
    std::thread::sleep(Duration::from_millis(600));
    agent.send("toggleAvailability", json!({"available": false}));
    watcher.expect_count(0);
    agent.expect_quiet(100);
    legitimate_pair(&d, "toggles");
}

#[test]
fn a_reload_changes_the_limits_at_once() {
    let d = Daemon::start("[limits]\nevents_per_sec = 0\n");
    let mut c = Client::user(&d, json!("u"));
    for _ in 0..500 {
        c.send("userMessage", json!({"messageInput": "x"}));
    }
    for _ in 0..500 {
        c.expect_error("not_in_call");
    }
    let text = std::fs::read_to_string(&d.config_path)
        .unwrap()
        .replace("events_per_sec = 0", "events_per_sec = 1\nevents_burst = 3");
    std::fs::write(&d.config_path, text).unwrap();
    d.signal("HUP");
    d.wait_log("configuration reloaded");
    for _ in 0..10 {
        c.send("userMessage", json!({"messageInput": "x"}));
    }
    let codes: Vec<_> = (0..10).map(|_| c.expect("error")["code"].clone()).collect();
    assert_eq!(codes[..3], vec![json!("not_in_call"); 3], "{codes:?}");
    assert_eq!(codes[3..], vec![json!("rate_limited"); 7], "{codes:?}");
}

/// `n` arrays, one inside the next.
fn nested(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn deep_nesting_is_a_bad_payload_and_the_call_goes_on() {
    let d = Daemon::start("");
    let mut agent = Client::agent(&d, json!("a"));
    let mut user = Client::user(&d, json!("u"));
    user.send("callAgent", json!({"roomId": "r"}));
    user.expect("callAgent");
    agent.expect("callAgent");
    for n in [129, 30_000] {
        user.send_text(&format!(
            r#"{{"event":"userMessage","data":{{"roomId":"r","messageInput":{}}}}}"#,
            nested(n)
        ));
        let e = user.expect_error("bad_payload");
        assert!(e["message"].as_str().unwrap().contains("128"), "{e}");
        assert_eq!(e["event"], "userMessage");
    }
    // Other events' data too (the agent's mute data reaches the user).
    agent.send_text(&format!(
        r#"{{"event":"mute","data":{{"roomId":"r","x":{}}}}}"#,
        nested(30_000)
    ));
    let e = agent.expect_error("bad_payload");
    assert!(e["message"].as_str().unwrap().contains("128"), "{e}");
    // A self-naming id of the wrong type is a bad payload, not forbidden.
    user.send("userMessage", json!({"userId": true, "messageInput": "x"}));
    user.expect_error("bad_payload");
    agent.send("agentMessage", json!({"agentId": [1], "messageInput": "x"}));
    agent.expect_error("bad_payload");
    agent.send("agentMessage", json!({"agentId": "b", "messageInput": "x"}));
    agent.expect_error("forbidden");
    agent.expect_quiet(100);
    user.expect_quiet(100);
    // Moderate nesting is relayed as it came (the test client's parser stops near 128).
    let moderate = nested(100);
    user.send_text(&format!(
        r#"{{"event":"userMessage","data":{{"roomId":"r","messageInput":{moderate}}}}}"#
    ));
    let got = agent.expect("userMessage");
    assert_eq!(
        got["messageInput"],
        serde_json::from_str::<Value>(&moderate).unwrap()
    );
    // The call is still up.
    for i in 0..100 {
        user.send("userMessage", json!({"roomId": "r", "messageInput": i}));
        assert_eq!(agent.expect("userMessage")["messageInput"], json!(i));
    }
    legitimate_pair(&d, "nesting");
}

// ---- Socket.IO: refusals in acks, and the session closed ----

#[test]
fn on_socketio_a_refused_event_with_an_ack_id_gets_the_error_in_its_ack_then_the_close() {
    let d = Daemon::start("[limits]\nrate_limit_close_after = 20\n");
    let mut s = Sio::connect(&d);
    s.send(r#"42["connectUser",{"id":"sio-flood"}]"#);
    let reg = s.recv_or_close().unwrap();
    assert!(reg.starts_with(r#"42["registered""#), "{reg}");
    // Deep data with an ack id: bad_payload in the ack, the session stays.
    s.send(&format!(r#"4299["callAgent",{{"topic":{}}}]"#, nested(200)));
    let ack = loop {
        let t = s.recv_or_close().unwrap();
        if t.starts_with("4399") {
            break t;
        }
    };
    assert!(
        ack.contains(r#""code":"bad_payload""#) && ack.contains("128"),
        "{ack}"
    );
    for i in 0..600 {
        s.send(&format!(r#"42{i}["userMessage",{{"messageInput":"x"}}]"#));
    }
    let (mut not_in_call, mut limited) = (0, 0);
    let code = loop {
        match s.recv_or_close() {
            Ok(t) if t.starts_with("43") => {
                assert!(t.contains(r#""ok":false"#), "{t}");
                if t.contains(r#""code":"rate_limited""#) {
                    limited += 1;
                } else {
                    assert!(t.contains(r#""code":"not_in_call""#), "{t}");
                    not_in_call += 1;
                }
            }
            Ok(t) => assert!(t.contains("getAvailableAgents"), "{t}"),
            Err(code) => break code,
        }
    };
    // Registration and the deep callAgent took 2 of the burst of 200.
    assert!((198..400).contains(&not_in_call), "{not_in_call}");
    assert!(limited >= 20, "{limited}");
    assert_eq!(code, Some(CloseCode::Normal), "the session ended");
    legitimate_pair(&d, "sio");
}
