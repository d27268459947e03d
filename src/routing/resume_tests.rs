//! Holds and resumes on a virtual clock: what each party hears, in which order, and what is
//! replayed.
use super::*;
use crate::routing::config::{ResumeConfig, RoutingConfig};
use crate::routing::testkit::{data_of, events, Sent, H};
use crate::routing::AgentState;
use serde_json::{json, Value};

const GRACE_MS: u64 = 30_000;

fn config(max_events: usize) -> RoutingConfig {
    RoutingConfig {
        resume: ResumeConfig {
            grace: std::time::Duration::from_millis(GRACE_MS),
            max_events,
            max_bytes: 1 << 20,
            keep_sent: max_events,
            window_bytes: 1 << 20,
        },
        ..RoutingConfig::default()
    }
}

/// Agent a1 on conn 1 (token "ta"), user u1 on conn 10 (token "tu"), in call room "r".
fn in_call(max_events: usize) -> H {
    let mut h = H::new(config(max_events));
    let sent = h.register(1, Role::Agent, "a1", "ta", json!({})).unwrap();
    assert_eq!(
        data_of(&sent, 1, "registered"),
        &json!({"role":"agent","id":"a1","resumeToken":"ta","resumed":false,"capacity":1})
    );
    h.register(10, Role::User, "u1", "tu", json!({})).unwrap();
    h.call(10, "r");
    h
}

fn messages_to(sent: &Sent, conn: u64) -> Vec<Value> {
    sent.iter()
        .filter(|(c, n, _)| *c == conn && n.ends_with("Message"))
        .map(|(_, _, d)| d["messageInput"].clone())
        .collect()
}

#[test]
fn user_resumes_mid_call_and_gets_all_fifty_messages_in_order_once() {
    let mut h = in_call(1000);
    h.ok(1, "agentMessage", json!({"messageInput": "before"}));
    let seen = h.last_seq(10);
    let sent = h.lose(10);
    assert_eq!(events(&sent), vec![(1, "peerDisconnected")]);
    assert_eq!(
        data_of(&sent, 1, "peerDisconnected"),
        &json!({"roomId":"r"})
    );
    assert_eq!(h.r.held(), 1);
    for i in 0..50 {
        let out = h.ok(1, "agentMessage", json!({ "messageInput": i }));
        assert!(out.is_empty(), "nothing goes out to a held user");
    }
    h.wait(GRACE_MS - 1);
    let sent = h.resume(20, Role::User, "u1", "fresh", "tu", seen).unwrap();
    let to_user: Vec<&str> = sent
        .iter()
        .filter(|(c, _, _)| *c == 20)
        .map(|(_, n, _)| n.as_str())
        .collect();
    assert_eq!(to_user[0], "registered");
    assert_eq!(
        data_of(&sent, 20, "registered"),
        &json!({"role":"user","id":"u1","resumeToken":"tu","resumed":true})
    );
    assert_eq!(
        messages_to(&sent, 20),
        (0..50).map(|i| json!(i)).collect::<Vec<_>>()
    );
    assert_eq!(*to_user.last().unwrap(), "getAvailableAgents");
    assert_eq!(data_of(&sent, 1, "peerReconnected"), &json!({"roomId":"r"}));
    // The replay kept its numbers: seen+1 .. seen+50, then the count.
    let seqs: Vec<u64> = h
        .seqs
        .iter()
        .filter(|(c, _, _)| *c == 20)
        .filter_map(|(_, _, s)| *s)
        .collect();
    assert_eq!(seqs, ((seen + 1)..=(seen + 51)).collect::<Vec<_>>());
    assert_eq!(h.r.held(), 0);
    // Live traffic goes to the new connection, numbered on.
    let out = h.ok(1, "agentMessage", json!({"messageInput": "live"}));
    assert_eq!(messages_to(&out, 20), vec![json!("live")]);
    assert_eq!(h.last_seq(20), seen + 52);
    // The old connection is nobody.
    assert_eq!(h.r.handle_disconnect(h.now, ConnId(10)), ());
    assert_eq!(h.r.stats().active_calls, 1);
}

#[test]
fn agent_resumes_mid_call_and_is_not_offered_calls_while_held() {
    let mut h = in_call(1000);
    h.agent(2, "a2");
    let seen = h.last_seq(1);
    h.lose(1);
    assert_eq!(h.state_count(AgentState::Held), 1);
    for i in 0..50 {
        h.ok(10, "userMessage", json!({ "messageInput": i }));
    }
    // A new user goes to a2, never to the held a1.
    h.user(11, "u2");
    let out = h.call(11, "r2");
    assert!(events(&out).contains(&(2, "callAgent")));
    let sent = h.resume(3, Role::Agent, "a1", "x", "ta", seen).unwrap();
    assert_eq!(
        messages_to(&sent, 3),
        (0..50).map(|i| json!(i)).collect::<Vec<_>>()
    );
    assert_eq!(
        data_of(&sent, 10, "peerReconnected"),
        &json!({"roomId":"r"})
    );
    assert_eq!(h.state_count(AgentState::Held), 0);
    assert_eq!(h.state_count(AgentState::Busy), 2);
}

#[test]
fn queued_user_keeps_its_place_while_held() {
    let mut h = H::new(config(1000));
    h.register(10, Role::User, "u1", "t1", json!({})).unwrap();
    h.register(11, Role::User, "u2", "t2", json!({})).unwrap();
    h.call(10, "r1");
    h.call(11, "r2");
    h.lose(10);
    h.wait(1000);
    h.resume(20, Role::User, "u1", "z", "t1", 0).unwrap();
    let out = h.agent(1, "a1");
    // u1 was first and still is.
    assert_eq!(data_of(&out, 20, "callAgent")["roomId"], json!("r1"));
    assert!(!events(&out).contains(&(11, "callAgent")));
}

#[test]
fn a_held_user_reached_in_the_queue_gets_its_call_and_the_agent_knows() {
    let mut h = H::new(config(1000));
    h.register(10, Role::User, "u1", "t1", json!({})).unwrap();
    h.call(10, "r1");
    h.lose(10);
    let out = h.agent(1, "a1");
    assert_eq!(
        events(&out),
        vec![(1, "callAgent"), (1, "peerDisconnected")]
    );
    let sent = h.resume(20, Role::User, "u1", "z", "t1", 0).unwrap();
    assert_eq!(data_of(&sent, 20, "callAgent")["roomId"], json!("r1"));
}

#[test]
fn grace_expiry_ends_the_hold_as_a_disconnect() {
    let mut h = in_call(1000);
    h.lose(10);
    assert!(h.wait(GRACE_MS - 1).is_empty());
    let out = h.wait(1);
    assert_eq!(events(&out), vec![(1, "callEnded")]);
    assert_eq!(
        data_of(&out, 1, "callEnded")["reason"],
        json!("disconnected")
    );
    assert_eq!(h.r.held(), 0);
    assert_eq!(h.r.stats().users, 0);
    assert!(h.reports.iter().any(|o| matches!(
        o,
        Output::Hold {
            result: HoldResult::Expired
        }
    )));
    // Too late: a fresh registration, with the new token.
    let sent = h.resume(20, Role::User, "u1", "new", "tu", 9).unwrap();
    assert_eq!(
        data_of(&sent, 20, "registered"),
        &json!({"role":"user","id":"u1","resumeToken":"new","resumed":false})
    );
}

#[test]
fn an_overflowing_hold_ends_and_the_other_party_is_told() {
    let mut h = in_call(10);
    h.lose(10);
    // Up to ten events may wait (what was sent before the drop makes room first).
    for i in 0..10 {
        assert!(h
            .ok(1, "agentMessage", json!({ "messageInput": i }))
            .is_empty());
    }
    let out = h.ok(1, "agentMessage", json!({"messageInput": 10}));
    assert_eq!(events(&out), vec![(1, "callEnded")]);
    assert_eq!(h.r.held(), 0);
    assert!(h.reports.iter().any(|o| matches!(
        o,
        Output::Hold {
            result: HoldResult::Overflowed
        }
    )));
}

#[test]
fn a_held_id_without_its_token_is_in_use() {
    let mut h = in_call(1000);
    h.lose(10);
    assert_eq!(
        h.register(20, Role::User, "u1", "z", json!({})),
        Err(ErrorCode::IdInUse)
    );
    assert_eq!(
        h.register(20, Role::User, "u1", "z", json!({"resumeToken": "ta"})),
        Err(ErrorCode::IdInUse),
        "the agent's token does not resume the user"
    );
    assert_eq!(
        h.resume(20, Role::User, "u1", "z", "tu", 999),
        Err(ErrorCode::BadPayload),
        "ahead of what was sent"
    );
    assert_eq!(
        h.register(20, Role::User, "u1", "z", json!({"resumeToken": 5})),
        Err(ErrorCode::BadPayload)
    );
    assert_eq!(h.r.held(), 1, "refusals change nothing");
}

#[test]
fn a_resume_while_connected_takes_over() {
    let mut h = in_call(1000);
    let sent = h.resume(20, Role::User, "u1", "z", "tu", 0).unwrap();
    assert_eq!(
        data_of(&sent, 10, "error")["code"],
        json!("session_replaced")
    );
    assert!(h
        .reports
        .iter()
        .any(|o| matches!(o, Output::Replaced { conn } if *conn == ConnId(10))));
    // Everything it was sent is replayed (lastSeq 0), the agent hears no reconnect.
    assert!(data_of(&sent, 20, "callAgent").is_object());
    assert!(!events(&sent).contains(&(1, "peerReconnected")));
    let out = h.ok(1, "agentMessage", json!({"messageInput": "hi"}));
    assert_eq!(messages_to(&out, 20), vec![json!("hi")]);
    assert!(messages_to(&out, 10).is_empty());
}

#[test]
fn socketio_style_resume_by_token_alone() {
    let mut h = in_call(1000);
    let seen = h.last_seq(10);
    h.lose(10);
    h.ok(1, "agentMessage", json!({"messageInput": "missed"}));
    assert_eq!(h.r.resumable("tu").map(|(r, _)| r), Some(Role::User));
    assert!(h.r.resumable("nope").is_none());
    let role = h.r.handle_resume(h.now, ConnId(30), "tu", seen).unwrap();
    assert_eq!(role, Role::User);
    let sent = h.drain();
    assert_eq!(messages_to(&sent, 30), vec![json!("missed")]);
    assert!(h.r.handle_resume(h.now, ConnId(31), "nope", 0).is_err());
}

#[test]
fn a_resume_that_cannot_be_replayed_starts_over() {
    // Two events kept: a client that saw none of the first three cannot be made whole.
    let mut h = in_call(2);
    for i in 0..3 {
        h.ok(1, "agentMessage", json!({ "messageInput": i }));
    }
    h.lose(10);
    let sent = h.resume(20, Role::User, "u1", "new", "tu", 1).unwrap();
    assert_eq!(data_of(&sent, 20, "registered")["resumed"], json!(false));
    assert_eq!(
        data_of(&sent, 1, "callEnded")["reason"],
        json!("disconnected")
    );
}

#[test]
fn client_seq_repeats_are_recognised_per_party() {
    let mut h = in_call(1000);
    assert_eq!(h.r.client_seq(ConnId(10), 1), ClientSeq::New);
    h.r.client_seq_applied(ConnId(10), 1);
    assert_eq!(h.r.client_seq(ConnId(10), 1), ClientSeq::Repeat);
    assert_eq!(h.r.client_seq(ConnId(10), 2), ClientSeq::New);
    // The party keeps it across a resume.
    h.lose(10);
    h.resume(20, Role::User, "u1", "z", "tu", 0).unwrap();
    assert_eq!(h.r.client_seq(ConnId(20), 1), ClientSeq::Repeat);
    // Unregistered connections have nothing to repeat.
    assert_eq!(h.r.client_seq(ConnId(99), 1), ClientSeq::New);
}

#[test]
fn without_a_grace_a_lost_connection_ends_at_once() {
    let mut h = H::new(RoutingConfig {
        resume: ResumeConfig {
            grace: std::time::Duration::ZERO,
            ..ResumeConfig::default()
        },
        ..RoutingConfig::default()
    });
    let sent = h.register(1, Role::Agent, "a1", "ta", json!({})).unwrap();
    assert_eq!(
        data_of(&sent, 1, "registered"),
        &json!({"role":"agent","id":"a1","capacity":1})
    );
    h.register(10, Role::User, "u1", "tu", json!({})).unwrap();
    h.call(10, "r");
    let out = h.lose(10);
    assert_eq!(events(&out), vec![(1, "callEnded")]);
}

#[test]
fn an_overflow_from_a_queue_update_cannot_be_resumed_past() {
    // Position updates reach a held user from the loop turn itself (not from an input).
    let mut h = H::new(config(1));
    for (conn, id) in [(11, "u0"), (12, "u1"), (13, "u2")] {
        h.register(conn, Role::User, id, id, json!({})).unwrap();
        h.call(conn, id);
    }
    h.register(10, Role::User, "me", "tme", json!({})).unwrap();
    h.call(10, "mine");
    let seen = h.last_seq(10);
    h.lose(10);
    for conn in [11, 12, 13] {
        h.ok(conn, "leaveCall", json!({}));
        h.wait(2000);
    }
    assert_eq!(
        h.r.held(),
        0,
        "the second update overflowed: the hold ended"
    );
    let sent = h.resume(20, Role::User, "me", "new", "tme", seen).unwrap();
    assert_eq!(data_of(&sent, 20, "registered")["resumed"], json!(false));
}

#[test]
fn a_takeover_that_cannot_replay_tells_the_old_connection() {
    let mut h = in_call(2);
    for i in 0..3 {
        h.ok(1, "agentMessage", json!({ "messageInput": i }));
    }
    let sent = h.resume(20, Role::User, "u1", "new", "tu", 0).unwrap();
    assert_eq!(
        data_of(&sent, 10, "error")["code"],
        json!("session_replaced")
    );
    assert_eq!(data_of(&sent, 20, "registered")["resumed"], json!(false));
    assert!(h
        .reports
        .iter()
        .any(|o| matches!(o, Output::Replaced { conn } if *conn == ConnId(10))));
}

#[test]
fn a_transfer_of_a_held_users_call_tells_the_new_agent() {
    let mut h = in_call(1000);
    h.register(2, Role::Agent, "a2", "ta2", json!({})).unwrap();
    h.lose(10);
    let out = h.ok(1, "callTransfer", json!({}));
    assert!(events(&out).contains(&(2, "callTransfer")));
    assert_eq!(
        data_of(&out, 2, "peerDisconnected"),
        &json!({"roomId": "r"})
    );
}

#[test]
fn a_socketio_offset_ahead_of_what_was_sent_ends_the_hold() {
    let mut h = in_call(1000);
    h.lose(10);
    assert!(h.r.handle_resume(h.now, ConnId(30), "tu", 999).is_err());
    let out = h.drain();
    assert_eq!(
        data_of(&out, 1, "callEnded")["reason"],
        json!("disconnected")
    );
    // The id is free for a fresh registration at once.
    let sent = h.register(31, Role::User, "u1", "n", json!({})).unwrap();
    assert_eq!(data_of(&sent, 31, "registered")["resumed"], json!(false));
}

/// A second pair, a2 (conn 2) and u2 (conn 11) in room "r2", whose traffic shares the ring.
fn second_pair(h: &mut H) {
    h.register(2, Role::Agent, "a2", "ta2", json!({})).unwrap();
    h.register(11, Role::User, "u2", "tu2", json!({})).unwrap();
    h.call(11, "r2");
}

#[test]
fn what_was_in_flight_at_the_drop_survives_the_ring_moving_on() {
    // A window of 2 KiB: 16 entries in the shared ring.
    let mut h = H::new(RoutingConfig {
        resume: ResumeConfig {
            window_bytes: 2048,
            keep_sent: 8,
            ..config(1000).resume
        },
        ..RoutingConfig::default()
    });
    h.register(1, Role::Agent, "a1", "ta", json!({})).unwrap();
    h.register(10, Role::User, "u1", "tu", json!({})).unwrap();
    h.call(10, "r");
    second_pair(&mut h);
    for i in 0..5 {
        h.ok(1, "agentMessage", json!({ "messageInput": i }));
    }
    // The client saw up to message 1; 2, 3 and 4 were in flight when its connection dropped.
    let seen = h.last_seq(10) - 3;
    h.lose(10);
    for i in 0..40 {
        h.ok(2, "agentMessage", json!({ "messageInput": i }));
    }
    h.ok(1, "agentMessage", json!({"messageInput": "missed"}));
    let sent = h.resume(20, Role::User, "u1", "x", "tu", seen).unwrap();
    assert_eq!(data_of(&sent, 20, "registered")["resumed"], json!(true));
    assert_eq!(
        messages_to(&sent, 20),
        vec![json!(2), json!(3), json!(4), json!("missed")]
    );
}

#[test]
fn a_connected_partys_window_is_its_last_keep_sent_events() {
    let mut h = H::new(RoutingConfig {
        resume: ResumeConfig {
            keep_sent: 4,
            ..config(1000).resume
        },
        ..RoutingConfig::default()
    });
    h.register(1, Role::Agent, "a1", "ta", json!({})).unwrap();
    h.register(10, Role::User, "u1", "tu", json!({})).unwrap();
    h.call(10, "r");
    for i in 0..10 {
        h.ok(1, "agentMessage", json!({ "messageInput": i }));
    }
    let last = h.last_seq(10);
    assert!(h.r.replayable(h.r.parties.party_of(ConnId(10)).unwrap(), last - 4) == Ok(true));
    assert!(h.r.replayable(h.r.parties.party_of(ConnId(10)).unwrap(), last - 5) == Ok(false));
    h.lose(10);
    let sent = h.resume(20, Role::User, "u1", "x", "tu", last - 4).unwrap();
    assert_eq!(
        messages_to(&sent, 20),
        (6..10).map(|i| json!(i)).collect::<Vec<_>>()
    );
}

#[test]
fn a_replay_is_in_flight_again_if_the_new_connection_drops_at_once() {
    let mut h = in_call(1000);
    let seen = h.last_seq(10);
    h.lose(10);
    for i in 0..3 {
        h.ok(1, "agentMessage", json!({ "messageInput": i }));
    }
    let extra = json!({"resumeToken": "tu", "lastSeq": seen});
    let first = h
        .register(20, Role::User, "u1", "x", extra.clone())
        .unwrap();
    assert_eq!(messages_to(&first, 20).len(), 3);
    // The replay never reached the client: the same lastSeq gets the same three again.
    h.lose(20);
    let again = h.register(21, Role::User, "u1", "x", extra).unwrap();
    assert_eq!(data_of(&again, 21, "registered")["resumed"], json!(true));
    assert_eq!(
        messages_to(&again, 21),
        (0..3).map(|i| json!(i)).collect::<Vec<_>>()
    );
}
