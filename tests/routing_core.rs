//! The routing core without sockets: inputs in, outputs drained, time passed in by the test.
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use supportd::routing::{
    ClientEvent, ConnId, EndReason, ErrorCode, EventData, Output, Router, RoutingConfig,
    ServerEvent, Stats,
};

/// A router on a virtual clock, with helpers that drain every output.
struct Harness {
    router: Router,
    now: Instant,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(RoutingConfig::default())
    }

    fn with(config: RoutingConfig) -> Harness {
        Harness {
            router: Router::with_config(config, 0),
            now: Instant::now(),
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Feeds one event; returns the rejection code or the sends, as (conn, name, data).
    fn feed(
        &mut self,
        conn: u64,
        event: &str,
        data: Value,
    ) -> Result<Vec<(u64, String, Value)>, ErrorCode> {
        let raw: Box<RawValue> = serde_json::from_str(&data.to_string()).unwrap();
        let ev = ClientEvent::from_name(event).unwrap();
        let r = self
            .router
            .handle_event(self.now, ConnId(conn), ev, EventData::Raw(Some(&raw)));
        let out = self.drain();
        match r {
            Ok(()) => Ok(out),
            Err(rej) => {
                assert!(out.is_empty(), "a rejection produced output");
                Err(rej.code)
            }
        }
    }

    fn drain(&mut self) -> Vec<(u64, String, Value)> {
        let mut v = Vec::new();
        while let Some(o) = self.router.poll_output() {
            if let Output::Send { to, event, .. } = o {
                v.push((to.0, event.name().to_owned(), data(&event)));
            }
        }
        v
    }

    fn finished(&mut self) -> Vec<(EndReason, Duration)> {
        let mut v = Vec::new();
        while let Some(o) = self.router.poll_output() {
            if let Output::CallFinished {
                reason, duration, ..
            } = o
            {
                v.push((reason, duration));
            }
        }
        v
    }
}

fn data(e: &ServerEvent) -> Value {
    let mut v = Vec::new();
    e.write_data(&mut v);
    serde_json::from_slice(&v).unwrap()
}

#[test]
fn rejections_change_nothing() {
    let mut h = Harness::new();
    h.feed(1, "connectAgent", json!({"id": "a"})).unwrap();
    h.feed(2, "connectUser", json!({"id": "u"})).unwrap();
    let before = h.router.stats();
    let bad: &[(u64, &str, Value)] = &[
        (2, "callAgent", json!({"userId": "x"})),
        (2, "callAgent", json!({"roomId": []})),
        (1, "callAgent", json!({})),
        (3, "callAgent", json!({})),
        (2, "connectUser", json!({"id": "v"})),
        (3, "connectAgent", json!({"id": "a"})),
        (1, "toggleAvailability", json!({"available": 1})),
        (2, "leaveCall", json!({})),
        (1, "rejectCall", json!({})),
        (2, "mute", json!({})),
    ];
    for (conn, ev, d) in bad {
        assert!(h.feed(*conn, ev, d.clone()).is_err(), "{ev} {d}");
    }
    assert_eq!(h.router.stats(), before);
    assert_eq!(h.router.poll_available_agents(h.now), Some(1));
}

#[test]
fn count_is_coalesced_per_poll() {
    let mut h = Harness::new();
    assert_eq!(h.router.poll_available_agents(h.now), None);
    h.feed(1, "connectAgent", json!({"id": "a"})).unwrap();
    h.feed(2, "connectAgent", json!({"id": "b"})).unwrap();
    h.feed(1, "toggleAvailability", json!({"available": false}))
        .unwrap();
    assert_eq!(h.router.poll_available_agents(h.now), Some(1));
    assert_eq!(h.router.poll_available_agents(h.now), None);
    h.feed(1, "toggleAvailability", json!({"available": true}))
        .unwrap();
    h.feed(1, "toggleAvailability", json!({"available": false}))
        .unwrap();
    assert_eq!(
        h.router.poll_available_agents(h.now),
        None,
        "net change is zero"
    );
}

#[test]
fn call_duration_follows_the_virtual_clock() {
    let mut h = Harness::new();
    h.feed(1, "connectAgent", json!({"id": "a"})).unwrap();
    h.feed(2, "connectUser", json!({"id": "u"})).unwrap();
    h.feed(2, "callAgent", json!({})).unwrap();
    h.advance(Duration::from_secs(90));
    let r = h.router.handle_event(
        h.now,
        ConnId(2),
        ClientEvent::LeaveCall,
        EventData::Raw(None),
    );
    assert!(r.is_ok());
    assert_eq!(
        h.finished(),
        vec![(EndReason::Left, Duration::from_secs(90))]
    );
}

#[test]
fn disconnect_frees_ids_and_ends_calls() {
    // Today's end of the call (no re-routing of the user).
    let mut h = Harness::with(RoutingConfig {
        requeue_on_agent_loss: false,
        ..RoutingConfig::default()
    });
    h.feed(1, "connectAgent", json!({"id": "a"})).unwrap();
    h.feed(2, "connectUser", json!({"id": "u"})).unwrap();
    h.feed(2, "callAgent", json!({"roomId": "r"})).unwrap();
    h.router.handle_disconnect(h.now, ConnId(1));
    let out = h.drain();
    assert_eq!(
        out,
        vec![(
            2,
            "callEnded".into(),
            json!({"roomId": "r", "reason": "disconnected"})
        )]
    );
    assert_eq!(
        h.router.stats(),
        Stats {
            users: 1,
            agents: 0,
            available_agents: 0,
            active_calls: 0,
            ..Stats::default()
        }
    );
    // Twice is harmless; unknown connections too.
    h.router.handle_disconnect(h.now, ConnId(1));
    h.router.handle_disconnect(h.now, ConnId(99));
    assert!(h.drain().is_empty());
    h.feed(3, "connectAgent", json!({"id": "a"})).unwrap();
    h.feed(2, "callAgent", json!({"roomId": "r"})).unwrap();
}

#[test]
fn fair_rotation_over_many_agents() {
    let mut h = Harness::new();
    for i in 0..5u64 {
        h.feed(100 + i, "connectAgent", json!({ "id": i })).unwrap();
    }
    h.feed(1, "connectUser", json!({"id": "u"})).unwrap();
    let mut order = Vec::new();
    for _ in 0..10 {
        let out = h.feed(1, "callAgent", json!({})).unwrap();
        order.push(out[0].2["agentId"].as_u64().unwrap());
        h.feed(1, "leaveCall", json!({})).unwrap();
    }
    assert_eq!(order, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
}

#[test]
fn ids_are_json_values() {
    let mut h = Harness::new();
    h.feed(1, "connectUser", json!({"id": 7})).unwrap();
    h.feed(2, "connectUser", json!({"id": "7"})).unwrap();
    assert_eq!(
        h.feed(3, "connectUser", json!({"id": 7})),
        Err(ErrorCode::IdInUse)
    );
}

#[test]
fn generated_rooms_never_clash_with_chosen_ones() {
    let mut h = Harness::new();
    h.feed(1, "connectAgent", json!({"id": "a"})).unwrap();
    h.feed(2, "connectAgent", json!({"id": "b"})).unwrap();
    h.feed(3, "connectUser", json!({"id": "u"})).unwrap();
    h.feed(4, "connectUser", json!({"id": "v"})).unwrap();
    h.feed(3, "callAgent", json!({"roomId": "room-1"})).unwrap();
    let out = h.feed(4, "callAgent", json!({})).unwrap();
    assert_ne!(out[0].2["roomId"], "room-1");
}
