//! `signal` and `mute` on a virtual clock: what the other party receives (and in which
//! order), what is refused, and the mute state a resumed or new party is told.
use super::*;
use crate::routing::config::{ResumeConfig, RoutingConfig};
use crate::routing::data::EventData;
use crate::routing::event::ClientEvent;
use crate::routing::router::Output;
use crate::routing::testkit::{data_of, events, Sent, H};
use serde_json::json;

fn config() -> RoutingConfig {
    RoutingConfig {
        resume: ResumeConfig {
            grace: std::time::Duration::from_millis(30_000),
            max_events: 1000,
            max_bytes: 1 << 20,
            keep_sent: 1000,
            window_bytes: 1 << 20,
        },
        max_signal_bytes: 4096,
        ..RoutingConfig::default()
    }
}

/// Agent a1 on conn 1 (token "ta"), user u1 on conn 10 (token "tu"), in call room "r".
fn in_call() -> H {
    let mut h = H::new(config());
    h.register(1, Role::Agent, "a1", "ta", json!({})).unwrap();
    h.register(10, Role::User, "u1", "tu", json!({})).unwrap();
    h.call(10, "r");
    h
}

/// Feeds `signal` with `text` as its data, exactly; the sends as (conn, name, data text).
fn signal_raw(h: &mut H, conn: u64, text: &str) -> Result<Vec<(u64, String, String)>, ErrorCode> {
    let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
    let res = h.r.handle_event(
        h.now,
        ConnId(conn),
        ClientEvent::Signal,
        EventData::Raw(Some(&raw)),
    );
    let mut out = Vec::new();
    while let Some(o) = h.r.poll_output() {
        if let Output::Send { to, event, .. } = o {
            let mut b = Vec::new();
            event.write_data(&mut b);
            out.push((to.0, event.name().to_owned(), String::from_utf8(b).unwrap()));
        }
    }
    h.r.check_invariants().unwrap();
    match res {
        Ok(()) => Ok(out),
        Err(r) => {
            assert!(out.is_empty(), "a refused signal sent {out:?}");
            Err(r.code)
        }
    }
}

/// The `data` of every `signal` sent to `conn`.
fn signals_to(sent: &Sent, conn: u64) -> Vec<Value> {
    sent.iter()
        .filter(|(c, n, _)| *c == conn && n == "signal")
        .map(|(_, _, d)| d["data"].clone())
        .collect()
}

#[test]
fn a_signal_reaches_the_other_party_as_it_came_both_ways() {
    let mut h = in_call();
    // Key order, spacing and escapes as sent: the data is never re-encoded.
    let offer = r#"{"type":"offer", "sdp":"v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n","z":[1,2.50,"\u00e9"]}"#;
    let out = signal_raw(&mut h, 10, &format!(r#"{{"roomId":"r","data":{offer}}}"#)).unwrap();
    assert_eq!(
        out,
        vec![(
            1,
            "signal".to_owned(),
            format!(r#"{{"roomId":"r","data":{offer}}}"#)
        )]
    );
    // The agent's answer, without a roomId (its only call), reaches the user.
    let out = signal_raw(&mut h, 1, r#"{"data":{"type":"answer","sdp":"v=0"}}"#).unwrap();
    assert_eq!(
        out,
        vec![(
            10,
            "signal".to_owned(),
            r#"{"roomId":"r","data":{"type":"answer","sdp":"v=0"}}"#.to_owned()
        )]
    );
    // Any JSON value is a signal's data: a string, `null` (a browser's end of candidates).
    let sent = h.ok(1, "signal", json!({"data": "end-of-candidates"}));
    assert_eq!(signals_to(&sent, 10), vec![json!("end-of-candidates")]);
    let sent = h.ok(10, "signal", json!({"data": null}));
    assert_eq!(signals_to(&sent, 1), vec![Value::Null]);
}

#[test]
fn signals_keep_their_order() {
    let mut h = in_call();
    let mut sent = Vec::new();
    for i in 0..20 {
        let data = json!({"candidate": format!("candidate:{i} 1 udp 2122260223 192.0.2.1 {} typ host", 50000 + i), "sdpMid": "0", "sdpMLineIndex": 0});
        sent.extend(h.ok(1, "signal", json!({"roomId": "r", "data": data})));
    }
    let got = signals_to(&sent, 10);
    assert_eq!(got.len(), 20);
    for (i, d) in got.iter().enumerate() {
        assert!(d["candidate"]
            .as_str()
            .unwrap()
            .starts_with(&format!("candidate:{i} ")));
    }
    // Numbered in the user's sequence, one after the other.
    let seqs: Vec<u64> = h
        .seqs
        .iter()
        .filter(|(c, n, _)| *c == 10 && n == "signal")
        .map(|(_, _, s)| s.unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}

#[test]
fn a_signal_over_the_limit_is_too_large_and_not_relayed() {
    let mut h = in_call();
    // max_signal_bytes is 4096 here: `"` + 4094 + `"` is exactly 4096 bytes.
    let at = "x".repeat(4094);
    let sent = h.ok(10, "signal", json!({"data": at}));
    assert_eq!(signals_to(&sent, 1), vec![json!(at)]);
    let over = "x".repeat(4095);
    assert_eq!(
        h.feed(10, "signal", json!({"data": over})),
        Err(ErrorCode::TooLarge)
    );
    assert_eq!(ErrorCode::TooLarge.as_str(), "too_large");
}

#[test]
fn signals_outside_ones_own_call_are_refused() {
    let mut h = in_call();
    let d = json!({"type": "offer"});
    // Not registered.
    assert_eq!(
        h.feed(30, "signal", json!({"data": d})),
        Err(ErrorCode::NotRegistered)
    );
    // Registered, not in a call (and waiting is not a call).
    h.user(11, "u2");
    assert_eq!(
        h.feed(11, "signal", json!({"data": d})),
        Err(ErrorCode::NotInCall)
    );
    h.call(11, "r2");
    assert_eq!(
        h.feed(11, "signal", json!({"roomId": "r2", "data": d})),
        Err(ErrorCode::NotInCall)
    );
    // Another call's room.
    assert_eq!(
        h.feed(1, "signal", json!({"roomId": "r2", "data": d})),
        Err(ErrorCode::Forbidden)
    );
    // Naming someone else.
    assert_eq!(
        h.feed(10, "signal", json!({"userId": "u2", "data": d})),
        Err(ErrorCode::Forbidden)
    );
    // Bad shapes.
    for bad in [
        json!({"roomId": [], "data": d}),
        json!({"roomId": "r"}),
        json!("offer"),
        json!([1]),
    ] {
        assert_eq!(
            h.feed(10, "signal", bad.clone()),
            Err(ErrorCode::BadPayload),
            "{bad}"
        );
    }
    assert_eq!(
        signal_raw(&mut h, 10, r#"{"data":1,"data":2}"#),
        Err(ErrorCode::BadPayload)
    );
    let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
    assert_eq!(
        signal_raw(&mut h, 10, &format!(r#"{{"data":{deep}}}"#)),
        Err(ErrorCode::BadPayload)
    );
}

#[test]
fn a_held_party_gets_the_signals_it_missed_on_resume_in_order() {
    let mut h = in_call();
    let seen = h.last_seq(10);
    h.lose(10);
    for i in 0..3 {
        assert!(h.ok(1, "signal", json!({ "data": i })).is_empty());
    }
    let sent = h.resume(20, Role::User, "u1", "fresh", "tu", seen).unwrap();
    assert_eq!(signals_to(&sent, 20), vec![json!(0), json!(1), json!(2)]);
}

#[test]
fn mute_is_forwarded_as_sent_and_checked() {
    let mut h = in_call();
    let sent = h.ok(10, "mute", json!({"muted": true}));
    assert_eq!(
        data_of(&sent, 1, "mute"),
        &json!({"roomId": "r", "muted": true})
    );
    let sent = h.ok(
        1,
        "mute",
        json!({"roomId": "r", "muted": true, "kind": "video"}),
    );
    assert_eq!(
        data_of(&sent, 10, "mute"),
        &json!({"roomId": "r", "muted": true, "kind": "video"})
    );
    for bad in [
        json!({"muted": "yes"}),
        json!({}),
        json!({"muted": true, "kind": "screen"}),
        json!({"muted": true, "kind": 1}),
    ] {
        assert_eq!(
            h.feed(10, "mute", bad.clone()),
            Err(ErrorCode::BadPayload),
            "{bad}"
        );
    }
    // Refusals recorded nothing: the user's audio mute (kind absent) is all there is.
    let c = h.r.calls.get(CallId(0)).unwrap();
    assert_eq!(
        (c.user_muted, c.agent_muted),
        (
            Muted {
                audio: true,
                video: false
            },
            Muted {
                audio: false,
                video: true
            }
        )
    );
}

#[test]
fn a_resumed_party_is_told_the_mute_state_after_its_replay() {
    let mut h = in_call();
    h.ok(10, "mute", json!({"muted": true, "kind": "audio"}));
    h.ok(1, "mute", json!({"muted": true, "kind": "video"}));
    h.ok(1, "mute", json!({"muted": true, "kind": "audio"}));
    h.ok(1, "mute", json!({"muted": false, "kind": "audio"}));
    // The user reloads its page: it resumes from an offset past every mute it was sent.
    let seen = h.last_seq(10);
    h.lose(10);
    h.ok(1, "agentMessage", json!({"messageInput": "still there?"}));
    let sent = h.resume(20, Role::User, "u1", "fresh", "tu", seen).unwrap();
    assert_eq!(
        events(&sent),
        vec![
            (20, "agentMessage"),
            (20, "callState"),
            (1, "peerReconnected")
        ]
    );
    assert_eq!(
        data_of(&sent, 20, "callState"),
        &json!({
            "roomId": "r",
            "muted": {"audio": true, "video": false},
            "peerMuted": {"audio": false, "video": true}
        })
    );
    // The agent, from its side.
    let seen = h.last_seq(1);
    h.lose(1);
    let sent = h.resume(2, Role::Agent, "a1", "fresh", "ta", seen).unwrap();
    assert_eq!(
        data_of(&sent, 2, "callState"),
        &json!({
            "roomId": "r",
            "muted": {"audio": false, "video": true},
            "peerMuted": {"audio": true, "video": false}
        })
    );
}

#[test]
fn nothing_muted_means_no_call_state() {
    let mut h = in_call();
    h.ok(10, "mute", json!({"muted": true}));
    h.ok(10, "mute", json!({"muted": false}));
    let seen = h.last_seq(10);
    h.lose(10);
    let sent = h.resume(20, Role::User, "u1", "fresh", "tu", seen).unwrap();
    assert_eq!(events(&sent), vec![(1, "peerReconnected")]);
}

#[test]
fn a_transfer_tells_the_new_agent_what_the_user_muted_and_resets_the_agents() {
    let mut h = in_call();
    h.agent(2, "a2");
    h.ok(10, "mute", json!({"muted": true, "kind": "video"}));
    h.ok(1, "mute", json!({"muted": true}));
    let sent = h.ok(1, "callTransfer", json!({"toAgentId": "a2"}));
    assert_eq!(
        data_of(&sent, 2, "callState"),
        &json!({
            "roomId": "r",
            "muted": {"audio": false, "video": false},
            "peerMuted": {"audio": false, "video": true}
        })
    );
    assert_eq!(
        data_of(&sent, 10, "callState"),
        &json!({
            "roomId": "r",
            "muted": {"audio": false, "video": true},
            "peerMuted": {"audio": false, "video": false}
        })
    );
    // Signals now go between the user and the new agent.
    let sent = h.ok(10, "signal", json!({"data": {"type": "offer"}}));
    assert_eq!(signals_to(&sent, 2), vec![json!({"type": "offer"})]);
}

#[test]
fn the_user_cannot_set_the_call_settings_of_call_agent() {
    let mut h = H::new(config());
    h.agent(1, "a1");
    h.user(10, "u1");
    let sent = h.ok(
        10,
        "callAgent",
        json!({"roomId": "r", "iceServers": [{"urls": ["turn:evil.example"]}], "polite": true, "x": 1}),
    );
    let d = data_of(&sent, 1, "callAgent");
    assert!(
        d.get("iceServers").is_none() && d.get("polite").is_none(),
        "{d}"
    );
    assert_eq!(d["x"], 1);
}
