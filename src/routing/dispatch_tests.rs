//! Unit tests for `dispatch` on a virtual clock: offers, re-routing, wrap-up, reject delay,
//! each strategy's order, the count and a reload.
use crate::routing::config::{RoutingConfig, Strategy};
use crate::routing::event::ErrorCode;
use crate::routing::ids::ConnId;
use crate::routing::report::{AgentState, OfferResult};
use crate::routing::router::{Output, Stats};
use crate::routing::testkit::{data_of, events, offers, H};
use serde_json::json;
use std::time::Duration;

#[test]
fn an_offer_is_accepted() {
    let mut h = H::new(offers());
    h.agent(1, "a");
    h.user(10, "u");
    let out = h.ok(10, "callAgent", json!({"roomId": "r", "topic": "x"}));
    assert_eq!(
        data_of(&out, 1, "callOffered"),
        &json!({"roomId":"r","userId":"u","expiresInMs":5000,"topic":"x"})
    );
    assert_eq!(
        data_of(&out, 10, "queued"),
        &json!({"roomId":"r","position":1,"queueLength":1})
    );
    assert_eq!(h.state_count(AgentState::Offered), 1);
    assert_eq!(h.r.stats().available_agents, 0);
    assert_eq!(
        h.feed(1, "acceptCall", json!({"roomId": "x"})),
        Err(ErrorCode::Forbidden)
    );
    let out = h.ok(1, "acceptCall", json!({"roomId": "r"}));
    assert_eq!(events(&out), vec![(1, "callAgent"), (10, "callAgent")]);
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "a");
    assert_eq!(h.state_count(AgentState::Busy), 1);
    assert_eq!(
        h.feed(1, "acceptCall", json!({})),
        Err(ErrorCode::NotInCall)
    );
    assert!(h.wait(10_000).is_empty(), "the expiry was cancelled");
}

#[test]
fn a_rejected_offer_goes_to_another_agent_never_back() {
    let mut h = H::new(offers());
    h.agent(1, "a");
    h.agent(2, "b");
    h.user(10, "u");
    h.call(10, "r");
    let out = h.ok(1, "rejectCall", json!({"roomId": "r"}));
    assert_eq!(events(&out), vec![(1, "callEnded"), (2, "callOffered")]);
    let out = h.ok(2, "rejectCall", json!({}));
    assert_eq!(events(&out), vec![(2, "callEnded"), (10, "queued")]);
    assert_eq!(data_of(&out, 10, "queued")["reason"], "rejected");
    // Both ready, but both rejected it: nobody gets it. A new agent does.
    assert_eq!(h.r.stats().available_agents, 2);
    let out = h.agent(3, "c");
    assert_eq!(events(&out), vec![(3, "callOffered")]);
}

#[test]
fn a_reject_delay_keeps_the_agent_from_any_call() {
    let mut h = H::new(RoutingConfig {
        reject_delay: Duration::from_secs(10),
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    h.user(10, "u");
    h.user(11, "v");
    h.call(10, "r0");
    h.call(11, "r1");
    h.ok(1, "rejectCall", json!({}));
    assert_eq!(h.r.stats().available_agents, 0);
    assert_eq!(h.state_count(AgentState::Away), 1);
    assert!(h.wait(9_999).is_empty());
    let out = h.wait(1);
    assert_eq!(
        data_of(&out, 1, "callAgent")["userId"],
        "v",
        "not u, which it rejected"
    );
}

#[test]
fn an_expired_offer_moves_on_and_the_round_starts_again() {
    let mut h = H::new(offers());
    h.agent(1, "a");
    h.agent(2, "b");
    h.user(10, "u");
    h.call(10, "r");
    let out = h.wait(5000);
    assert_eq!(events(&out), vec![(1, "offerExpired"), (2, "callOffered")]);
    let out = h.wait(5000);
    assert_eq!(
        events(&out),
        vec![(2, "offerExpired"), (1, "callOffered")],
        "round 2"
    );
    assert!(
        h.reports
            .iter()
            .filter(|o| matches!(
                o,
                Output::Offer {
                    result: OfferResult::Expired
                }
            ))
            .count()
            == 2
    );
}

#[test]
fn a_lone_agent_is_offered_the_call_again() {
    let mut h = H::new(offers());
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    let out = h.wait(5000);
    assert_eq!(events(&out), vec![(1, "offerExpired"), (1, "callOffered")]);
}

#[test]
fn max_no_answer_makes_the_agent_unavailable_until_it_says_so() {
    let mut h = H::new(RoutingConfig {
        max_no_answer: 2,
        ..offers()
    });
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    h.wait(5000);
    let out = h.wait(5000);
    assert_eq!(
        out,
        vec![
            (1, "offerExpired".into(), json!({"roomId":"r"})),
            (
                1,
                "availabilityChanged".into(),
                json!({"available":false,"reason":"no_answer"})
            ),
            (
                10,
                "queued".into(),
                json!({"roomId":"r","position":1,"queueLength":1,"reason":"no_answer"})
            ),
        ]
    );
    assert_eq!(h.state_count(AgentState::Away), 1);
    let out = h.ok(1, "toggleAvailability", json!({"available": true}));
    assert_eq!(events(&out), vec![(1, "callOffered")]);
}

#[test]
fn an_accepted_offer_resets_the_no_answer_streak() {
    let mut h = H::new(RoutingConfig {
        max_no_answer: 2,
        ..offers()
    });
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    h.wait(5000);
    h.ok(1, "acceptCall", json!({}));
    h.ok(10, "leaveCall", json!({}));
    h.call(10, "r");
    let out = h.wait(5000);
    assert_eq!(events(&out), vec![(1, "offerExpired"), (1, "callOffered")]);
}

#[test]
fn wrap_up_after_every_call_and_its_early_end() {
    let mut h = H::new(RoutingConfig {
        wrap_up: Duration::from_secs(30),
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    h.user(10, "u");
    h.user(11, "v");
    h.call(10, "r");
    let out = h.ok(10, "leaveCall", json!({}));
    assert_eq!(
        events(&out),
        vec![(10, "callEnded"), (1, "callEnded"), (1, "wrapUp")]
    );
    assert_eq!(
        data_of(&out, 1, "wrapUp"),
        &json!({"roomId":"r","durationMs":30000})
    );
    assert_eq!(h.r.stats().available_agents, 0);
    assert_eq!(h.state_count(AgentState::WrapUp), 1);
    h.call(11, "r1");
    assert!(h.wait(29_999).is_empty());
    let out = h.wait(1);
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "v");
    // Rejected, too; and toggleAvailability true ends it early.
    let out = h.ok(1, "rejectCall", json!({}));
    assert!(events(&out).contains(&(1, "wrapUp")));
    let out = h.ok(1, "toggleAvailability", json!({"available": true}));
    assert!(events(&out).is_empty(), "v rejected a: not given back");
    assert_eq!(h.r.stats().available_agents, 1);
    assert!(h.wait(60_000).is_empty(), "the wrap-up timer was cancelled");
}

#[test]
fn wrap_up_when_the_user_disconnects_and_disconnect_in_wrap_up() {
    let mut h = H::new(RoutingConfig {
        wrap_up: Duration::from_secs(30),
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    h.r.handle_disconnect(h.now, ConnId(10));
    let out = h.drain();
    assert_eq!(events(&out), vec![(1, "callEnded"), (1, "wrapUp")]);
    h.r.handle_disconnect(h.now, ConnId(1));
    assert_eq!(h.r.stats(), Stats::default());
    assert!(h.wait(30_000).is_empty());
}

#[test]
fn an_agent_lost_mid_call_requeues_the_user() {
    let mut h = H::new(RoutingConfig::default());
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    h.r.handle_disconnect(h.now, ConnId(1));
    let out = h.drain();
    assert_eq!(
        out,
        vec![(
            10,
            "queued".into(),
            json!({"roomId":"r","position":1,"queueLength":1,"reason":"agent_disconnected"})
        )]
    );
    let out = h.agent(2, "b");
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "b");
    assert_eq!(data_of(&out, 10, "callAgent")["roomId"], "r");
}

#[test]
fn without_requeue_an_agent_lost_ends_the_call() {
    let mut h = H::new(RoutingConfig {
        requeue_on_agent_loss: false,
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    h.agent(2, "b");
    h.user(10, "u");
    h.call(10, "r");
    h.r.handle_disconnect(h.now, ConnId(1));
    let out = h.drain();
    assert_eq!(
        out,
        vec![(
            10,
            "callEnded".into(),
            json!({"roomId":"r","reason":"disconnected"})
        )]
    );
}

#[test]
fn disconnects_during_an_offer() {
    let mut h = H::new(offers());
    h.agent(1, "a");
    h.agent(2, "b");
    h.user(10, "u");
    h.call(10, "r");
    // The offered agent goes: the call is offered to the next.
    h.r.handle_disconnect(h.now, ConnId(1));
    let out = h.drain();
    assert_eq!(events(&out), vec![(2, "callOffered")]);
    // The user goes: the offer is withdrawn.
    h.r.handle_disconnect(h.now, ConnId(10));
    let out = h.drain();
    assert_eq!(out, vec![(2, "offerExpired".into(), json!({"roomId":"r"}))]);
    assert_eq!(h.r.stats().available_agents, 1);
    assert_eq!(h.r.stats().queue_length, 0);
    assert!(h.wait(10_000).is_empty());
}

#[test]
fn the_last_offered_agent_lost_queues_the_user() {
    let mut h = H::new(offers());
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    h.r.handle_disconnect(h.now, ConnId(1));
    let out = h.drain();
    assert_eq!(data_of(&out, 10, "queued")["reason"], "agent_disconnected");
}

#[test]
fn transfer_to_the_queue_is_for_any_agent_but_this_one() {
    let mut h = H::new(RoutingConfig::default());
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    let out = h.ok(1, "callTransfer", json!({"toQueue": true}));
    assert_eq!(events(&out), vec![(1, "callEnded"), (10, "queued")]);
    assert_eq!(data_of(&out, 1, "callEnded")["reason"], "transferred");
    assert_eq!(data_of(&out, 10, "queued")["reason"], "transferred");
    assert_eq!(h.r.stats().available_agents, 1, "a is ready but not for u");
    let out = h.agent(2, "b");
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "b");
}

#[test]
fn transfer_to_the_queue_with_queueing_off_needs_another_agent() {
    let mut h = H::new(RoutingConfig {
        queue: false,
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    assert_eq!(
        h.feed(1, "callTransfer", json!({"toQueue": true})),
        Err(ErrorCode::NoAgentAvailable)
    );
    h.agent(2, "b");
    let out = h.ok(1, "callTransfer", json!({"toQueue": true}));
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "b");
}

#[test]
fn a_reload_changes_the_strategy_for_later_decisions() {
    let mut h = H::new(RoutingConfig::default());
    h.agent(1, "a");
    h.agent(2, "b");
    h.user(10, "u");
    h.call(10, "r");
    h.ok(10, "leaveCall", json!({}));
    // Longest idle: b now (a just ended a call).
    let out = h.call(10, "r");
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "b");
    h.ok(10, "leaveCall", json!({}));
    h.r.set_config(
        h.now,
        RoutingConfig {
            strategy: Strategy::FirstAvailable,
            ..RoutingConfig::default()
        },
    );
    for _ in 0..2 {
        let out = h.call(10, "r");
        assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "a");
        h.ok(10, "leaveCall", json!({}));
    }
}

/// The agents `n` calls in a row go to, each ended after `talk[i]` ms by agent index.
fn order(strategy: Strategy, n: usize, talk: &[u64]) -> Vec<String> {
    let mut h = H::new(RoutingConfig {
        strategy,
        ..RoutingConfig::default()
    });
    for i in 0..3 {
        h.agent(1 + i, &format!("a{i}"));
    }
    h.user(10, "u");
    (0..n)
        .map(|_| {
            let out = h.call(10, "r");
            let agent = data_of(&out, 10, "callAgent")["agentId"]
                .as_str()
                .unwrap()
                .to_owned();
            let i: usize = agent[1..].parse().unwrap();
            h.now += Duration::from_millis(talk[i]);
            h.ok(10, "leaveCall", json!({}));
            agent
        })
        .collect()
}

#[test]
fn each_strategy_picks_in_its_order() {
    let same = [10, 10, 10];
    assert_eq!(
        order(Strategy::LongestIdle, 4, &same),
        ["a0", "a1", "a2", "a0"]
    );
    assert_eq!(
        order(Strategy::RoundRobin, 4, &same),
        ["a0", "a1", "a2", "a0"]
    );
    assert_eq!(
        order(Strategy::FirstAvailable, 3, &same),
        ["a0", "a0", "a0"]
    );
    assert_eq!(
        order(Strategy::FewestCalls, 4, &same),
        ["a0", "a1", "a2", "a0"]
    );
    // Least talk time: a0 talks long, so after one round it is picked last.
    assert_eq!(
        order(Strategy::LeastTalkTime, 5, &[1000, 10, 20]),
        ["a0", "a1", "a2", "a1", "a2"]
    );
    let random = order(Strategy::Random, 60, &same);
    for a in ["a0", "a1", "a2"] {
        assert!(random.iter().any(|r| r == a), "{a} never picked");
    }
}

#[test]
fn the_count_is_rate_limited_and_ends_on_the_current_value() {
    let mut h = H::new(RoutingConfig::default());
    h.agent(1, "a");
    assert_eq!(h.r.poll_available_agents(h.now), Some(1));
    h.agent(2, "b");
    assert_eq!(h.r.poll_available_agents(h.now), None, "held back");
    assert_eq!(h.r.poll_timeout(), Some(h.now + Duration::from_millis(100)));
    h.now += Duration::from_millis(100);
    assert_eq!(h.r.poll_available_agents(h.now), Some(2));
    assert_eq!(h.r.poll_timeout(), None);
}

#[test]
fn a_registration_that_changes_the_count_is_not_told_it_twice() {
    let mut h = H::new(RoutingConfig::default());
    h.user(1, "u");
    assert_eq!(
        h.r.poll_available_agents(h.now),
        None,
        "a user changes nothing"
    );
    h.agent(2, "a");
    assert_eq!(h.r.poll_available_agents(h.now), Some(1));
    // The agent got 1 with its registration: the broadcast of 1 skips it, not the user.
    assert_eq!(h.r.poll_told_count(1), [ConnId(2)]);
    assert_eq!(h.r.poll_told_count(1), [], "forgotten once broadcast");
    h.now += Duration::from_millis(100);
    h.agent(3, "b");
    h.r.handle_disconnect(h.now, ConnId(2));
    // Agent b was told 2, but the count fell to 1 before the broadcast: b hears 1.
    assert_eq!(h.r.poll_available_agents(h.now), Some(1));
    assert_eq!(h.r.poll_told_count(1), []);
}

#[test]
fn the_count_leaves_out_agents_in_wrap_up_offers_and_delays() {
    let mut h = H::new(RoutingConfig {
        wrap_up: Duration::from_secs(5),
        reject_delay: Duration::from_secs(5),
        ..offers()
    });
    for i in 0..4 {
        h.agent(1 + i, &format!("a{i}"));
    }
    h.user(10, "u");
    h.user(11, "v");
    h.call(10, "r0");
    assert_eq!(h.r.stats().available_agents, 3, "a0 offered");
    h.ok(1, "rejectCall", json!({}));
    assert_eq!(
        h.r.stats().available_agents,
        2,
        "a0 in its delay, a1 offered"
    );
    h.ok(2, "acceptCall", json!({}));
    h.ok(10, "leaveCall", json!({}));
    assert_eq!(h.r.stats().available_agents, 2, "a1 in wrap-up");
    let s = h.r.stats();
    assert_eq!(s.agents_by_state, [2, 0, 0, 1, 1, 0]);
    assert_eq!(s.agents_by_state.iter().sum::<usize>(), s.agents);
}

#[test]
fn a_plain_transfer_puts_the_old_agent_in_wrap_up() {
    let mut h = H::new(RoutingConfig {
        wrap_up: Duration::from_secs(10),
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    h.agent(2, "b");
    h.user(10, "u");
    h.call(10, "r");
    let out = h.ok(1, "callTransfer", json!({}));
    assert_eq!(
        events(&out),
        vec![
            (2, "callTransfer"),
            (10, "callTransfer"),
            (1, "callEnded"),
            (1, "wrapUp")
        ]
    );
    assert_eq!(h.state_count(AgentState::WrapUp), 1);
    assert_eq!(h.state_count(AgentState::Busy), 1);
    h.wait(10_000);
    assert_eq!(h.r.stats().available_agents, 1);
}

#[test]
fn a_reload_to_random_keeps_every_ready_agent() {
    let mut h = H::new(RoutingConfig::default());
    for i in 0..5 {
        h.agent(1 + i, &format!("a{i}"));
    }
    h.r.set_config(
        h.now,
        RoutingConfig {
            strategy: Strategy::Random,
            ..RoutingConfig::default()
        },
    );
    assert_eq!(h.r.stats().available_agents, 5);
    h.user(10, "u");
    h.call(10, "r");
    assert_eq!(h.r.stats().available_agents, 4);
    assert!(h.r.check_invariants().is_ok());
    h.r.set_config(h.now, RoutingConfig::default());
    h.ok(10, "leaveCall", json!({}));
    assert_eq!(h.r.stats().available_agents, 5);
    assert!(h.r.check_invariants().is_ok());
}

#[test]
fn a_count_told_on_registration_is_always_followed_by_a_broadcast() {
    let mut h = H::new(RoutingConfig::default());
    h.agent(1, "a");
    assert_eq!(h.r.poll_available_agents(h.now), Some(1));
    // b hears 2 on registering, then goes unavailable: back to the 1 everyone else heard,
    // but b must hear it too.
    let out = h.agent(2, "b");
    assert_eq!(data_of(&out, 2, "getAvailableAgents")["availableAgents"], 2);
    h.ok(2, "toggleAvailability", json!({"available": false}));
    assert_eq!(h.r.poll_available_agents(h.now), None, "held back");
    h.now += Duration::from_millis(100);
    assert_eq!(h.r.poll_available_agents(h.now), Some(1));
}

/// An agent that lets an offer expire goes to the back of the idle order: the next caller
/// is offered to an agent that answered nothing yet (and no pick keeps skipping it).
#[test]
fn an_expired_offer_sends_its_agent_to_the_back_of_the_idle_order() {
    let mut h = H::new(offers());
    h.agent(1, "a1");
    h.wait(1);
    h.agent(2, "a2");
    h.wait(1);
    h.agent(3, "a3");
    h.user(10, "u1");
    let out = h.ok(10, "callAgent", json!({"roomId": "r1"}));
    data_of(&out, 1, "callOffered");
    let out = h.wait(5000);
    data_of(&out, 1, "offerExpired");
    data_of(&out, 2, "callOffered");
    // u2's call: a1 was idle longest, but let an offer expire; a3 is next.
    h.user(11, "u2");
    let out = h.ok(11, "callAgent", json!({"roomId": "r2"}));
    data_of(&out, 3, "callOffered");
}
