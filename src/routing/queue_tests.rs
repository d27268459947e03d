//! Unit tests for `queue`, through the router on a virtual clock: order, positions and their
//! rate, the estimate, a full queue, cancel, disconnect and max wait while queued.
use crate::routing::config::RoutingConfig;
use crate::routing::event::ErrorCode;
use crate::routing::ids::ConnId;
use crate::routing::report::QueueOutcome;
use crate::routing::router::Output;
use crate::routing::testkit::{data_of, epoch, events, H};
use serde_json::json;
use std::time::Duration;

#[test]
fn no_agent_queues_the_user_and_the_next_agent_takes_it() {
    let mut h = H::new(RoutingConfig::default());
    h.user(10, "u");
    let out = h.ok(10, "callAgent", json!({"roomId": "r", "topic": "billing"}));
    assert_eq!(
        out,
        vec![(
            10,
            "queued".into(),
            json!({"roomId":"r","position":1,"queueLength":1})
        )]
    );
    assert_eq!(h.r.stats().queue_length, 1);
    let out = h.agent(1, "a");
    let want = json!({"roomId":"r","userId":"u","agentId":"a","topic":"billing"});
    assert_eq!(data_of(&out, 1, "callAgent"), &want);
    assert_eq!(data_of(&out, 10, "callAgent"), &want);
    assert_eq!(h.r.stats().queue_length, 0);
    assert!(h.reports.iter().any(|o| matches!(
        o,
        Output::QueueLeft {
            outcome: QueueOutcome::Answered,
            ..
        }
    )));
}

#[test]
fn queue_off_refuses_as_the_original() {
    let mut h = H::new(RoutingConfig {
        queue: false,
        ..RoutingConfig::default()
    });
    h.user(10, "u");
    assert_eq!(
        h.feed(10, "callAgent", json!({})),
        Err(ErrorCode::NoAgentAvailable)
    );
}

#[test]
fn first_come_first_served_and_a_rejected_user_goes_back_first() {
    let mut h = H::new(RoutingConfig::default());
    for (c, u) in [(10, "u1"), (11, "u2"), (12, "u3")] {
        h.user(c, u);
        h.call(c, u);
    }
    let out = h.agent(1, "a");
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "u1");
    // a rejects u1: u1 goes back first (a may not take it again), a takes u2 at once.
    let out = h.ok(1, "rejectCall", json!({}));
    assert_eq!(
        events(&out),
        vec![
            (1, "callEnded"),
            (10, "queued"),
            (1, "callAgent"),
            (11, "callAgent")
        ]
    );
    assert_eq!(data_of(&out, 1, "callEnded")["reason"], "rejected");
    assert_eq!(
        data_of(&out, 10, "queued"),
        &json!({"roomId":"u1","position":1,"queueLength":3,"reason":"rejected"})
    );
    // The next agent takes u1 (first in line), then u3.
    let out = h.agent(2, "b");
    assert_eq!(data_of(&out, 2, "callAgent")["userId"], "u1");
    // u2 leaves: a is free again and takes u3.
    let out = h.ok(11, "leaveCall", json!({}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "u3");
}

#[test]
fn positions_are_sent_at_most_once_per_interval_and_turn() {
    let mut h = H::new(RoutingConfig::default());
    for c in 10..14 {
        h.user(c, &format!("u{c}"));
        h.call(c, &format!("r{c}"));
    }
    h.agent(1, "a");
    // Same turn as the first queued: nothing yet.
    assert!(h.wait(0).is_empty());
    let out = h.wait(999);
    assert!(out.is_empty(), "{out:?}");
    let out = h.wait(1);
    assert_eq!(
        out,
        vec![
            (
                11,
                "queued".into(),
                json!({"roomId":"r11","position":1,"queueLength":3})
            ),
            (
                12,
                "queued".into(),
                json!({"roomId":"r12","position":2,"queueLength":3})
            ),
            (
                13,
                "queued".into(),
                json!({"roomId":"r13","position":3,"queueLength":3})
            ),
        ]
    );
    // Another change: held until a full interval after the last update.
    h.ok(10, "leaveCall", json!({}));
    assert!(h.wait(500).is_empty());
    let out = h.wait(500);
    assert_eq!(events(&out), vec![(12, "queued"), (13, "queued")]);
    assert!(h.wait(5000).is_empty(), "no change, no update");
    assert_eq!(h.r.poll_timeout(), None);
}

#[test]
fn with_no_interval_still_one_update_per_turn() {
    let mut h = H::new(RoutingConfig {
        queue_update_interval: Duration::ZERO,
        ..RoutingConfig::default()
    });
    for c in 10..13 {
        h.user(c, &format!("u{c}"));
        h.call(c, &format!("r{c}"));
    }
    h.agent(1, "a");
    assert!(h.wait(0).is_empty(), "the turn of their first queued");
    h.ok(1, "leaveCall", json!({}));
    let out = h.wait(0);
    assert_eq!(events(&out), vec![(12, "queued")]);
    assert_eq!(data_of(&out, 12, "queued")["position"], 1);
    assert!(h.wait(0).is_empty());
}

#[test]
fn the_wait_is_estimated_from_the_last_assignments() {
    let mut h = H::new(RoutingConfig::default());
    h.agent(1, "a");
    h.user(10, "u");
    // Four assignments 10 s apart: a mean interval of 10 s.
    for i in 0..4 {
        if i > 0 {
            h.now += Duration::from_secs(10);
        }
        h.call(10, "r");
        if i < 3 {
            h.ok(10, "leaveCall", json!({}));
        }
    }
    h.user(11, "v");
    h.user(12, "w");
    let out = h.call(11, "r1");
    assert_eq!(data_of(&out, 11, "queued")["estimatedWaitSecs"], 10);
    let out = h.call(12, "r2");
    assert_eq!(data_of(&out, 12, "queued")["estimatedWaitSecs"], 20);
    assert_eq!(crate::routing::queue::HISTORY, 20);
}

#[test]
fn no_estimate_without_history() {
    let mut h = H::new(RoutingConfig::default());
    h.user(10, "u");
    let out = h.call(10, "r");
    assert!(data_of(&out, 10, "queued")
        .get("estimatedWaitSecs")
        .is_none());
}

#[test]
fn a_full_queue_refuses_but_never_a_user_put_back() {
    let mut h = H::new(RoutingConfig {
        max_queue_length: 1,
        ..RoutingConfig::default()
    });
    h.agent(1, "a");
    for c in 10..13 {
        h.user(c, &format!("u{c}"));
    }
    h.call(10, "r0");
    h.call(11, "r1");
    assert_eq!(
        h.feed(12, "callAgent", json!({})),
        Err(ErrorCode::QueueFull)
    );
    let out = h.ok(1, "rejectCall", json!({}));
    assert_eq!(data_of(&out, 10, "queued")["queueLength"], 2);
    assert_eq!(data_of(&out, 11, "callAgent")["agentId"], "a");
    h.ok(1, "rejectCall", json!({}));
    assert_eq!(h.r.stats().queue_length, 2, "over the limit: both put back");
}

#[test]
fn cancel_and_messages_while_queued() {
    let mut h = H::new(RoutingConfig::default());
    h.user(10, "u");
    h.call(10, "r");
    assert_eq!(
        h.feed(10, "userMessage", json!({"messageInput": "hi"})),
        Err(ErrorCode::NotInCall)
    );
    assert_eq!(
        h.feed(10, "callAgent", json!({})),
        Err(ErrorCode::AlreadyInCall)
    );
    assert_eq!(
        h.feed(10, "leaveCall", json!({"roomId": "other"})),
        Err(ErrorCode::Forbidden)
    );
    h.user(11, "v");
    assert_eq!(
        h.feed(11, "callAgent", json!({"roomId": "r"})),
        Err(ErrorCode::RoomInUse)
    );
    let out = h.ok(10, "leaveCall", json!({"roomId": "r"}));
    assert_eq!(
        out,
        vec![(
            10,
            "callEnded".into(),
            json!({"roomId":"r","reason":"cancelled"})
        )]
    );
    assert_eq!(h.r.stats().queue_length, 0);
    h.call(11, "r");
    assert!(h.reports.iter().any(|o| matches!(
        o,
        Output::QueueLeft {
            outcome: QueueOutcome::Cancelled,
            ..
        }
    )));
}

#[test]
fn a_queued_user_who_disconnects_leaves_the_queue() {
    let mut h = H::new(RoutingConfig::default());
    h.user(10, "u");
    h.user(11, "v");
    h.call(10, "r0");
    h.call(11, "r1");
    h.r.handle_disconnect(h.now, ConnId(10));
    assert!(h.drain().is_empty());
    assert_eq!(h.r.stats().queue_length, 1);
    let out = h.agent(1, "a");
    assert_eq!(data_of(&out, 11, "callAgent")["agentId"], "a");
    assert!(h.reports.iter().any(|o| matches!(
        o,
        Output::QueueLeft {
            outcome: QueueOutcome::Disconnected,
            ..
        }
    )));
}

#[test]
fn max_wait_ends_the_wait_and_withdraws_an_offer() {
    let mut h = H::new(RoutingConfig {
        max_wait: Some(Duration::from_secs(30)),
        offer_timeout: Some(Duration::from_secs(20)),
        ..RoutingConfig::default()
    });
    h.user(10, "u");
    h.call(10, "r");
    h.now += Duration::from_secs(15);
    h.agent(1, "a");
    assert!(h.wait(14_999).is_empty());
    let out = h.wait(1);
    assert_eq!(
        out,
        vec![
            (1, "offerExpired".into(), json!({"roomId":"r"})),
            (
                10,
                "callEnded".into(),
                json!({"roomId":"r","reason":"timeout"})
            ),
        ]
    );
    assert_eq!(h.r.stats().queue_length, 0);
    assert_eq!(h.r.stats().available_agents, 1);
}

/// A queue with tickets for made-up users, keyed in order; returns their ids.
fn queue_of(n: u64, now: std::time::Instant) -> (super::Queue, Vec<crate::routing::ids::CallId>) {
    use super::{Queue, Request, Ticket};
    use crate::routing::ids::{CallId, PeerId};
    use crate::routing::party::PartyId;
    let mut q = Queue::default();
    let ids = (0..n)
        .map(|i| {
            let request = Request {
                key: q.new_key(),
                ..Request::default()
            };
            let id = CallId(i);
            q.insert(
                now,
                id,
                Ticket::new(PartyId::made_up(i), PeerId::Int(i as i64), request, now),
            );
            id
        })
        .collect();
    (q, ids)
}

#[test]
fn positions_count_offers_and_a_user_put_back_keeps_its_place() {
    let now = epoch();
    let (mut q, ids) = queue_of(4, now);
    assert_eq!(q.len(), 4);
    assert_eq!(q.position(ids[3]), 4);
    q.set_offer(ids[0], Some(crate::routing::party::PartyId::made_up(99)));
    assert_eq!(q.position(ids[1]), 2, "the offered user keeps its place");
    assert_eq!(q.first_waiting(&Default::default(), |_| true), Some(ids[1]));
    let t = q.remove(now, ids[1]).unwrap();
    assert_eq!(q.position(ids[2]), 2);
    q.insert(now, ids[1], t);
    assert_eq!(q.position(ids[1]), 2, "back at its first ask's place");
    assert_eq!(q.position(ids[2]), 3);
    assert_eq!(
        q.first_waiting(&Default::default(), |t| t.user != t.user),
        None
    );
}

#[test]
fn a_flush_skips_users_told_within_the_interval() {
    let now = epoch();
    let second = Duration::from_secs(1);
    let (mut q, ids) = queue_of(3, now);
    for (i, id) in ids.iter().enumerate() {
        q.mark_sent(*id, i + 1, now, 0);
    }
    q.remove(now, ids[0]);
    assert!(q.flush(now, second, 0).is_empty(), "same turn");
    assert_eq!(q.next_flush(second), Some(now + second));
    let later = now + second;
    let updates = q.flush(later, second, 1);
    assert_eq!(
        updates.iter().map(|u| u.position).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(q.next_flush(second), None);
}

#[test]
fn the_estimate_needs_history_and_rounds_up() {
    let now = epoch();
    let (mut q, _) = queue_of(0, now);
    q.record_assignment(now);
    q.record_assignment(now + Duration::from_millis(1500));
    assert_eq!(q.estimate(1), None);
    q.record_assignment(now + Duration::from_millis(3000));
    assert_eq!(q.estimate(1), Some(2), "1.5 s rounds up");
    assert_eq!(q.estimate(4), Some(6));
    for i in 0..40 {
        q.record_assignment(now + Duration::from_secs(10 + i));
    }
    assert_eq!(q.estimate(1), Some(1), "only the last 20 count");
}
