//! Contact-center routing over the wire (native protocol, the real binary on loopback): the
//! queue and assignment, reject and re-route, offers and their expiry, wrap-up, the limits
//! of the queue, and `queue = false` restoring the original's refusal.
mod common;
use common::{Client, Daemon};
use serde_json::json;
use std::time::{Duration, Instant};

/// A user registered as `id` that asked for a call in `room`.
fn caller(d: &Daemon, id: &str, room: &str) -> Client {
    let mut u = Client::user(d, json!(id));
    u.send("callAgent", json!({"userId": id, "roomId": room}));
    u
}

#[test]
fn a_caller_with_no_agent_is_queued_and_assigned_when_one_comes() {
    let d = Daemon::start("");
    let mut u1 = caller(&d, "u1", "r1");
    let q = u1.expect("queued");
    assert_eq!(
        (&q["roomId"], &q["position"], &q["queueLength"]),
        (&json!("r1"), &json!(1), &json!(1)),
        "{q}"
    );
    let mut u2 = caller(&d, "u2", "r2");
    let q = u2.expect("queued");
    assert_eq!(
        (&q["position"], &q["queueLength"]),
        (&json!(2), &json!(2)),
        "{q}"
    );
    // userMessage while queued: not in a call.
    u1.send(
        "userMessage",
        json!({"roomId": "r1", "messageInput": "hello?"}),
    );
    u1.expect_error("not_in_call");
    // An agent comes: the one who asked first is assigned, with the usual events.
    let mut a = Client::agent(&d, json!("a1"));
    let want = json!({"userId": "u1", "roomId": "r1", "agentId": "a1"});
    assert_eq!(a.expect("callAgent"), common::polite(&want, true));
    assert_eq!(u1.expect("callAgent"), common::polite(&want, false));
    // The second moves up.
    let q = u2.expect("queued");
    assert_eq!(
        (&q["position"], &q["queueLength"]),
        (&json!(1), &json!(1)),
        "{q}"
    );
    // The call ends: the agent takes the next one at once.
    u1.send("leaveCall", json!({"roomId": "r1"}));
    assert_eq!(u1.expect("callEnded")["reason"], "left");
    assert_eq!(a.expect("callEnded")["reason"], "left");
    let want = json!({"userId": "u2", "roomId": "r2", "agentId": "a1"});
    assert_eq!(a.expect("callAgent"), common::polite(&want, true));
    assert_eq!(u2.expect("callAgent"), common::polite(&want, false));
}

#[test]
fn leaving_or_timing_out_of_the_queue_and_a_full_queue() {
    let d = Daemon::start("[routing]\nmax_queue_length = 1\nmax_wait_ms = 300\n");
    let mut u1 = caller(&d, "u1", "r1");
    u1.expect("queued");
    let mut u2 = caller(&d, "u2", "r2");
    u2.expect_error("queue_full");
    // The first waits too long.
    let started = Instant::now();
    let e = u1.expect("callEnded");
    assert_eq!(e, json!({"roomId": "r1", "reason": "timeout"}));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Now there is room; the second cancels.
    u2.send("callAgent", json!({"userId": "u2", "roomId": "r2"}));
    u2.expect("queued");
    u2.send("leaveCall", json!({"roomId": "r2"}));
    assert_eq!(
        u2.expect("callEnded"),
        json!({"roomId": "r2", "reason": "cancelled"})
    );
    // Nobody waits: a new agent gets nothing.
    let mut a = Client::agent(&d, json!("a1"));
    a.expect_quiet(300);
}

#[test]
fn a_rejected_call_goes_to_the_next_agent() {
    let d = Daemon::start("");
    let mut a1 = Client::agent(&d, json!("a1"));
    std::thread::sleep(Duration::from_millis(20));
    let mut a2 = Client::agent(&d, json!("a2"));
    let mut u = caller(&d, "u", "r");
    // Longest idle first: a1.
    assert_eq!(a1.expect("callAgent")["agentId"], "a1");
    assert_eq!(u.expect("callAgent")["agentId"], "a1");
    a1.send("rejectCall", json!({"roomId": "r"}));
    assert_eq!(a1.expect("callEnded")["reason"], "rejected");
    let want = json!({"userId": "u", "roomId": "r", "agentId": "a2"});
    assert_eq!(a2.expect("callAgent"), common::polite(&want, true));
    assert_eq!(u.expect("callAgent"), common::polite(&want, false));
}

#[test]
fn an_agent_lost_mid_call_puts_the_user_back_first_in_line() {
    // The agent's connection drops: it is held for the grace, then the user is requeued.
    let d = Daemon::start("[sessions]\nresume_grace_ms = 300\n");
    let a1 = Client::agent(&d, json!("a1"));
    let mut u = caller(&d, "u", "r");
    assert_eq!(u.expect("callAgent")["agentId"], "a1");
    drop(a1);
    assert_eq!(u.expect("peerDisconnected"), json!({"roomId": "r"}));
    let q = u.expect("queued");
    assert_eq!(
        (&q["roomId"], &q["position"]),
        (&json!("r"), &json!(1)),
        "{q}"
    );
    assert_eq!(q["reason"], "agent_disconnected");
    let mut a2 = Client::agent(&d, json!("a2"));
    assert_eq!(a2.expect("callAgent")["userId"], "u");
    assert_eq!(u.expect("callAgent")["agentId"], "a2");
}

#[test]
fn an_offer_that_is_not_answered_expires_and_is_offered_again() {
    let d = Daemon::start("[routing]\noffer_timeout_ms = 300\n");
    let mut a = Client::agent(&d, json!("a1"));
    let mut u = caller(&d, "u", "r");
    let offer = a.expect("callOffered");
    assert_eq!(
        (&offer["roomId"], &offer["userId"], &offer["expiresInMs"]),
        (&json!("r"), &json!("u"), &json!(300)),
        "{offer}"
    );
    // Not answered: it expires, and the lone agent is offered it again.
    assert_eq!(a.expect("offerExpired"), json!({"roomId": "r"}));
    a.expect("callOffered");
    a.send("acceptCall", json!({"roomId": "r"}));
    let want = json!({"userId": "u", "roomId": "r", "agentId": "a1"});
    assert_eq!(a.expect("callAgent"), common::polite(&want, true));
    // The user waited in line (position 1) while its call was offered.
    let q = u.expect("queued");
    assert_eq!(
        (&q["roomId"], &q["position"]),
        (&json!("r"), &json!(1)),
        "{q}"
    );
    assert_eq!(u.expect("callAgent"), common::polite(&want, false));
}

#[test]
fn wrap_up_holds_calls_back_until_it_ends() {
    let d = Daemon::start("[routing]\nwrap_up_ms = 500\n");
    let mut a = Client::agent(&d, json!("a1"));
    let mut u1 = caller(&d, "u1", "r1");
    u1.expect("callAgent");
    a.expect("callAgent");
    u1.send("leaveCall", json!({"roomId": "r1"}));
    a.expect("callEnded");
    assert_eq!(
        a.expect("wrapUp"),
        json!({"roomId": "r1", "durationMs": 500})
    );
    // A caller during wrap-up waits; at its end the agent takes the call.
    let mut u2 = caller(&d, "u2", "r2");
    u2.expect("queued");
    let started = Instant::now();
    assert_eq!(a.expect("callAgent")["userId"], "u2");
    assert!(started.elapsed() >= Duration::from_millis(300));
    u2.expect("callAgent");
}

#[test]
fn queue_off_restores_the_immediate_refusal() {
    let d = Daemon::start("[routing]\nqueue = false\n");
    let mut u = caller(&d, "u", "r");
    u.expect_error("no_agent_available");
}

#[test]
fn a_reload_changes_routing_for_later_decisions() {
    let d = Daemon::start("");
    let mut u1 = caller(&d, "u1", "r1");
    u1.expect("queued");
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    std::fs::write(
        &d.config_path,
        format!("{text}\n[routing]\nqueue = false\n"),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_log("configuration reloaded");
    // A later callAgent is refused at once; the user already waiting keeps its place.
    let mut u2 = caller(&d, "u2", "r2");
    u2.expect_error("no_agent_available");
    let mut a = Client::agent(&d, json!("a1"));
    assert_eq!(a.expect("callAgent")["userId"], "u1");
    assert_eq!(u1.expect("callAgent")["agentId"], "a1");
}
