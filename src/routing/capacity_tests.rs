//! Agents with several chats, on a virtual clock: capacity granted, slots filled least
//! loaded first, per-room events, wrap-up per slot, the free-slot figures.
use crate::routing::config::RoutingConfig;
use crate::routing::event::ErrorCode;
use crate::routing::event::Role;
use crate::routing::report::AgentState;
use crate::routing::skills::Identity;
use crate::routing::testkit::{data_of, events, H};
use serde_json::json;
use std::time::Duration;

fn config(max: usize) -> RoutingConfig {
    RoutingConfig {
        max_capacity: max,
        ..RoutingConfig::default()
    }
}

/// Agent `id` on `conn` asking for `capacity`; the capacity `registered` granted.
fn agent_with(h: &mut H, conn: u64, id: &str, capacity: u64) -> serde_json::Value {
    let out = h.ok(
        conn,
        "connectAgent",
        json!({"id": id, "capacity": capacity}),
    );
    data_of(&out, conn, "registered")["capacity"].clone()
}

#[test]
fn an_agent_with_capacity_three_holds_three_chats_and_relays_each_to_its_user() {
    let mut h = H::new(config(5));
    assert_eq!(agent_with(&mut h, 1, "a", 3), json!(3));
    for (conn, user) in [(10, "u1"), (11, "u2"), (12, "u3"), (13, "u4")] {
        h.user(conn, user);
        h.call(conn, &format!("r-{user}"));
    }
    assert_eq!(h.r.stats().active_calls, 3);
    assert_eq!(
        h.r.stats().queue_length,
        1,
        "the fourth waits: the agent is full"
    );
    assert_eq!(h.state_count(AgentState::Busy), 1);
    // Each room's message goes to that room's user only.
    for (conn, user) in [(10, "u1"), (11, "u2"), (12, "u3")] {
        let room = format!("r-{user}");
        let out = h.ok(
            1,
            "agentMessage",
            json!({"roomId": room, "messageInput": user}),
        );
        assert_eq!(events(&out), vec![(conn, "agentMessage")]);
        assert_eq!(
            data_of(&out, conn, "agentMessage")["messageInput"],
            json!(user)
        );
    }
    // In several calls, an event without its room says which field is missing.
    let e = h.feed(1, "agentMessage", json!({"messageInput": "?"}));
    assert_eq!(e, Err(ErrorCode::BadPayload));
    // One call ends: the waiting user gets the freed slot.
    let out = h.ok(11, "leaveCall", json!({"roomId": "r-u2"}));
    assert!(events(&out).contains(&(13, "callAgent")));
    assert_eq!(h.r.stats().active_calls, 3);
}

#[test]
fn capacity_is_checked_and_lowered_to_max_capacity() {
    let mut h = H::new(config(4));
    assert_eq!(
        agent_with(&mut h, 1, "a", 10),
        json!(4),
        "lowered to max_capacity"
    );
    for bad in [json!(0), json!(-1), json!(1.5), json!("2")] {
        let e = h.feed(2, "connectAgent", json!({"id": "b", "capacity": bad}));
        assert_eq!(e, Err(ErrorCode::BadPayload), "{bad}");
    }
    // No capacity: default_capacity.
    let out = h.agent(3, "c");
    assert_eq!(data_of(&out, 3, "registered")["capacity"], json!(1));
    // Users have none.
    let out = h.user(10, "u");
    assert!(data_of(&out, 10, "registered").get("capacity").is_none());
}

#[test]
fn a_tokens_capacity_wins_over_what_the_client_asks() {
    let mut h = H::new(config(5));
    let token = |capacity| Identity {
        verified: true,
        capacity,
        ..Identity::default()
    };
    let granted = |out: &crate::routing::testkit::Sent, conn| {
        data_of(out, conn, "registered")["capacity"].clone()
    };
    let data = |id: &str| json!({"id": id, "capacity": 5});
    let out = h
        .register_as(1, Role::Agent, data("a"), token(Some(2)))
        .unwrap();
    assert_eq!(granted(&out, 1), json!(2));
    // What the loop vouches for is for that registration only.
    assert_eq!(agent_with(&mut h, 2, "b", 5), json!(5));
    // A token without the claim: the default, whatever the client asks.
    let out = h
        .register_as(3, Role::Agent, data("c"), token(None))
        .unwrap();
    assert_eq!(granted(&out, 3), json!(1));
}

#[test]
fn the_least_loaded_agent_is_chosen_first() {
    let mut h = H::new(config(4));
    agent_with(&mut h, 1, "a", 4);
    agent_with(&mut h, 2, "b", 2);
    let mut chosen = Vec::new();
    for i in 0..6 {
        let conn = 10 + i;
        h.user(conn, &format!("u{i}"));
        let out = h.call(conn, &format!("r{i}"));
        chosen.push(data_of(&out, conn, "callAgent")["agentId"].clone());
    }
    // Load a/4 against b/2: a (0), b (0 < 1/4), a (1/4 < 1/2), then a (2/4 = b's 1/2, a
    // idle longer), b, a.
    assert_eq!(
        chosen,
        vec![
            json!("a"),
            json!("b"),
            json!("a"),
            json!("a"),
            json!("b"),
            json!("a")
        ]
    );
    assert_eq!(h.r.stats().active_calls, 6);
    assert_eq!(h.r.stats().free_slots, 0);
}

#[test]
fn wrap_up_holds_the_slot_of_the_call_that_ended_only() {
    let mut h = H::new(RoutingConfig {
        wrap_up: Duration::from_millis(1000),
        ..config(2)
    });
    agent_with(&mut h, 1, "a", 2);
    h.user(10, "u1");
    h.call(10, "r1");
    h.user(11, "u2");
    h.call(11, "r2");
    assert_eq!(h.r.stats().free_slots, 0);
    let out = h.ok(10, "leaveCall", json!({"roomId": "r1"}));
    assert_eq!(data_of(&out, 1, "wrapUp")["roomId"], json!("r1"));
    assert_eq!(
        h.state_count(AgentState::WrapUp),
        1,
        "one call, one slot in wrap-up"
    );
    h.user(12, "u3");
    assert_eq!(events(&h.call(12, "r3")), vec![(12, "queued")]);
    // The other call ends too: its slot wraps up from now; the first frees at 1000 ms.
    h.wait(400);
    h.ok(11, "leaveCall", json!({"roomId": "r2"}));
    let out = h.wait(600);
    assert!(events(&out).contains(&(12, "callAgent")), "{out:?}");
    assert_eq!(
        h.state_count(AgentState::WrapUp),
        1,
        "the second slot still wraps up"
    );
    h.wait(400);
    assert_eq!(h.state_count(AgentState::Ready), 1);
    assert_eq!(h.r.stats().free_slots, 1);
    assert_eq!(h.r.stats().available_agents, 1);
}
