//! Unit tests for `router`: unknown and stale ids, party bindings, timers.
use super::*;
use crate::routing::config::RoutingConfig;
use crate::routing::event::ErrorCode;
use crate::routing::party::Agent;
use crate::routing::testkit::epoch;
use serde_json::value::RawValue;

/// Feeds one event with JSON `data` (or none); returns the result and the sends it queued.
fn feed(
    r: &mut Router,
    now: Instant,
    conn: u64,
    event: ClientEvent,
    data: Option<&str>,
) -> (Handled, Vec<(ConnId, &'static str)>) {
    let raw: Option<Box<RawValue>> = data.map(|d| serde_json::from_str(d).unwrap());
    let res = r.handle_event(now, ConnId(conn), event, EventData::Raw(raw.as_deref()));
    (res, sends(r))
}

/// Drains every output; returns the sends as (connection, event name).
fn sends(r: &mut Router) -> Vec<(ConnId, &'static str)> {
    std::iter::from_fn(|| r.poll_output())
        .filter_map(|o| match o {
            Output::Send { to, event, .. } => Some((to, event.name())),
            _ => None,
        })
        .collect()
}

/// Agent "a" on conn 1 and user "u" on conn 2 in a call in room "r", plus a free agent "b"
/// on conn 3; every output drained.
fn busy_router(now: Instant) -> Router {
    busy_router_with(now, RoutingConfig::default())
}

/// `busy_router` with `config`.
fn busy_router_with(now: Instant, config: RoutingConfig) -> Router {
    let mut r = Router::with_config(config, 0);
    for (conn, event, data) in [
        (1, ClientEvent::ConnectAgent, r#"{"id":"a"}"#),
        (2, ClientEvent::ConnectUser, r#"{"id":"u"}"#),
        (2, ClientEvent::CallAgent, r#"{"roomId":"r"}"#),
        (3, ClientEvent::ConnectAgent, r#"{"id":"b"}"#),
    ] {
        assert!(feed(&mut r, now, conn, event, Some(data)).0.is_ok());
    }
    let _ = r.poll_available_agents(now);
    r
}

/// Everything an observer of the router can see, polled without changing it.
fn observable(r: &Router) -> (Stats, Option<Instant>, Option<usize>) {
    (r.stats(), r.poll_timeout(), r.announced_available)
}

#[test]
fn events_from_unknown_connections_are_refused_and_change_nothing() {
    let now = epoch();
    let mut r = busy_router(now);
    let before = observable(&r);
    let payloads = [
        None,
        Some("null"),
        Some("{}"),
        Some(r#"{"roomId":"r","messageInput":"hi"}"#),
        Some(r#"{"userId":"u","agentId":"a","roomId":"r"}"#),
        Some(r#"{"available":true}"#),
        Some(r#"{"toAgentId":"b","roomId":"r"}"#),
        Some("[1,2]"),
    ];
    for event in ClientEvent::ALL {
        if matches!(event, ClientEvent::ConnectUser | ClientEvent::ConnectAgent) {
            continue;
        }
        for data in payloads {
            for conn in [0, 4, 99, u64::MAX] {
                let (res, out) = feed(&mut r, now, conn, event, data);
                assert!(res.is_err(), "{event:?} {data:?} from {conn}");
                assert!(out.is_empty());
                assert_eq!(observable(&r), before);
            }
        }
    }
    assert_eq!(r.poll_available_agents(now), None);
    // The call still relays.
    let (res, out) = feed(
        &mut r,
        now,
        2,
        ClientEvent::UserMessage,
        Some(r#"{"messageInput":"hi"}"#),
    );
    assert!(res.is_ok());
    assert_eq!(out, vec![(ConnId(1), "userMessage")]);
}

#[test]
fn disconnects_of_unknown_connections_change_nothing() {
    let now = epoch();
    let mut r = busy_router(now);
    let before = observable(&r);
    for conn in [0, 4, 99, u64::MAX] {
        r.handle_disconnect(now, ConnId(conn));
    }
    assert!(r.poll_output().is_none());
    assert_eq!(observable(&r), before);
}

#[test]
fn a_disconnected_connection_is_unknown_afterwards() {
    let now = epoch();
    let config = RoutingConfig {
        requeue_on_agent_loss: false,
        ..RoutingConfig::default()
    };
    let mut r = busy_router_with(now, config);
    r.handle_disconnect(now, ConnId(1));
    assert_eq!(sends(&mut r), vec![(ConnId(2), "callEnded")]);
    let before = observable(&r);
    r.handle_disconnect(now, ConnId(1));
    let (res, out) = feed(
        &mut r,
        now,
        1,
        ClientEvent::AgentMessage,
        Some(r#"{"messageInput":"hi"}"#),
    );
    assert_eq!(res.unwrap_err().code, ErrorCode::NotRegistered);
    assert!(out.is_empty());
    assert_eq!(observable(&r), before);
}

#[test]
fn parties_are_bound_to_their_connections() {
    let now = epoch();
    let r = busy_router(now);
    let a = r.parties.party_of(ConnId(1)).unwrap();
    let u = r.parties.party_of(ConnId(2)).unwrap();
    let b = r.parties.party_of(ConnId(3)).unwrap();
    assert!(a != u && u != b && a != b);
    assert_eq!(r.parties.conn_of(a), Some(ConnId(1)));
    assert_eq!(r.parties.conn_of(u), Some(ConnId(2)));
    let call = r.parties.user(u).unwrap().call.unwrap();
    let call = r.calls.get(call).unwrap();
    assert_eq!((call.user, call.agent), (u, a), "calls name parties");
}

#[test]
fn sends_to_a_party_without_connection_are_dropped() {
    let now = epoch();
    let mut r = busy_router(now);
    // As a resumable session will: the agent's party stays, its connection is gone.
    let a = r.parties.unbind(ConnId(1)).unwrap();
    let (res, out) = feed(
        &mut r,
        now,
        2,
        ClientEvent::UserMessage,
        Some(r#"{"messageInput":"hi"}"#),
    );
    assert!(res.is_ok());
    assert!(out.is_empty(), "nothing goes to the unbound agent");
    let (res, out) = feed(&mut r, now, 2, ClientEvent::LeaveCall, None);
    assert!(res.is_ok());
    assert_eq!(
        out,
        vec![(ConnId(2), "callEnded")],
        "only the user hears it"
    );
    assert!(r.parties.agent(a).is_some_and(|a| a.calls.is_empty()));
}

#[test]
fn a_stale_agent_in_the_free_queue_is_refused_not_followed() {
    let now = epoch();
    let mut r = Router::new();
    assert!(feed(
        &mut r,
        now,
        2,
        ClientEvent::ConnectUser,
        Some(r#"{"id":"u"}"#)
    )
    .0
    .is_ok());
    // Break the invariant on purpose: queue an agent the registry does not know.
    let mut ghost = Agent::new("ghost".into(), 0);
    r.free
        .insert(crate::routing::party::PartyId::made_up(77), &mut ghost);
    let stats = r.stats();
    let (res, out) = feed(&mut r, now, 2, ClientEvent::CallAgent, None);
    assert_eq!(res.unwrap_err().code, ErrorCode::NoAgentAvailable);
    assert!(out.is_empty());
    assert_eq!(r.stats(), stats);
}

#[test]
fn ending_an_unknown_call_does_nothing() {
    let now = epoch();
    let mut r = busy_router(now);
    let before = observable(&r);
    assert!(r.end_call(now, CallId(12345), EndReason::Left).is_none());
    assert!(r.poll_output().is_none());
    assert_eq!(observable(&r), before);
}

#[test]
fn poll_timeout_is_the_earliest_live_deadline() {
    let now = epoch();
    let mut r = Router::new();
    assert_eq!(r.poll_timeout(), None);
    let later = now + Duration::from_secs(30);
    r.timers.schedule(Timer::OfferExpiry(CallId(1)), later);
    r.timers
        .schedule(Timer::OfferExpiry(CallId(2)), now + Duration::from_secs(10));
    assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(10)));
    r.timers.cancel(Timer::OfferExpiry(CallId(2)));
    assert_eq!(
        r.poll_timeout(),
        Some(later),
        "a cancelled timer is not waited for"
    );
}

#[test]
fn handle_timeout_fires_due_timers_once() {
    let now = epoch();
    let mut r = busy_router(now);
    let at = now + Duration::from_secs(5);
    r.timers.schedule(Timer::OfferExpiry(CallId(1)), at);
    r.timers
        .schedule(Timer::OfferExpiry(CallId(2)), at + Duration::from_secs(5));
    let stats = r.stats();
    r.handle_timeout(now);
    assert_eq!(r.poll_timeout(), Some(at), "early: nothing fires");
    r.handle_timeout(at);
    assert_eq!(r.poll_timeout(), Some(at + Duration::from_secs(5)));
    r.handle_timeout(at);
    assert_eq!(
        r.poll_timeout(),
        Some(at + Duration::from_secs(5)),
        "twice: nothing more fires"
    );
    r.handle_timeout(at + Duration::from_secs(60));
    assert_eq!(r.poll_timeout(), None);
    assert!(r.poll_output().is_none(), "no rule uses timers yet");
    assert_eq!(r.stats(), stats);
}

/// A verified name goes to the user as `agentName` with the call, never a client's own.
#[test]
fn a_named_agent_is_shown_to_the_user_by_its_verified_name() {
    let now = epoch();
    let mut r = Router::new();
    let (res, _) = feed(
        &mut r,
        now,
        1,
        ClientEvent::ConnectAgent,
        Some(r#"{"id":"a","name":"Mallory"}"#),
    );
    res.unwrap();
    r.set_agent_name(ConnId(1), "Ada");
    r.set_agent_name(ConnId(9), "nobody"); // no agent there: ignored
    let (res, _) = feed(
        &mut r,
        now,
        2,
        ClientEvent::ConnectUser,
        Some(r#"{"id":"u"}"#),
    );
    res.unwrap();
    r.handle_event(
        now,
        ConnId(2),
        ClientEvent::CallAgent,
        EventData::Raw(Some(
            &serde_json::from_str::<Box<RawValue>>(r#"{"roomId":"r"}"#).unwrap(),
        )),
    )
    .unwrap();
    let to_user = std::iter::from_fn(|| r.poll_output())
        .find_map(|o| match o {
            Output::Send {
                to: ConnId(2),
                event: ServerEvent::CallAgent(m),
                ..
            } => Some(m),
            _ => None,
        })
        .expect("the user's callAgent");
    assert_eq!(to_user.get("agentName"), Some(&serde_json::json!("Ada")));
    assert_eq!(to_user.get("agentId"), Some(&serde_json::json!("a")));
}

/// A user cannot name its agent: an `agentName` in its own callAgent data is dropped.
#[test]
fn a_users_own_agent_name_is_never_relayed() {
    let now = epoch();
    let mut r = Router::new();
    let (res, _) = feed(
        &mut r,
        now,
        1,
        ClientEvent::ConnectAgent,
        Some(r#"{"id":"a"}"#),
    );
    res.unwrap();
    let (res, _) = feed(
        &mut r,
        now,
        2,
        ClientEvent::ConnectUser,
        Some(r#"{"id":"u"}"#),
    );
    res.unwrap();
    let raw: Box<RawValue> =
        serde_json::from_str(r#"{"roomId":"r","agentName":"Official Bank Support"}"#).unwrap();
    r.handle_event(
        now,
        ConnId(2),
        ClientEvent::CallAgent,
        EventData::Raw(Some(&raw)),
    )
    .unwrap();
    let calls: Vec<_> = std::iter::from_fn(|| r.poll_output())
        .filter_map(|o| match o {
            Output::Send {
                event: ServerEvent::CallAgent(m),
                ..
            } => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2);
    assert!(
        calls.iter().all(|m| m.get("agentName").is_none()),
        "{calls:?}"
    );
}

/// A user (conn 10, "u") in a call with an agent (conn 1, "a").
fn pair() -> crate::routing::testkit::H {
    let mut h = crate::routing::testkit::H::new(RoutingConfig::default());
    h.agent(1, "a");
    h.user(10, "u");
    h.call(10, "r");
    h
}

#[test]
fn a_self_naming_message_id_of_the_wrong_type_is_a_bad_payload() {
    use serde_json::json;
    let mut h = pair();
    for bad in [
        json!(true),
        json!(1.5),
        json!([]),
        json!({"id": "u"}),
        json!(""),
    ] {
        let data = json!({"userId": bad, "messageInput": "hi"});
        assert_eq!(
            h.feed(10, "userMessage", data.clone()),
            Err(ErrorCode::BadPayload),
            "{data}"
        );
        let data = json!({"agentId": bad, "messageInput": "hi"});
        assert_eq!(
            h.feed(1, "agentMessage", data.clone()),
            Err(ErrorCode::BadPayload),
            "{data}"
        );
    }
    // Another's id of the right type is still forbidden; the own one is relayed.
    assert_eq!(
        h.feed(
            10,
            "userMessage",
            json!({"userId": "v", "messageInput": "hi"})
        ),
        Err(ErrorCode::Forbidden)
    );
    assert_eq!(
        h.feed(
            1,
            "agentMessage",
            json!({"agentId": 7, "messageInput": "hi"})
        ),
        Err(ErrorCode::Forbidden)
    );
    h.ok(
        10,
        "userMessage",
        json!({"userId": "u", "messageInput": "hi"}),
    );
}

#[test]
fn message_input_nested_past_the_limit_is_refused_and_the_call_goes_on() {
    use serde_json::json;
    let mut h = pair();
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // (Raw text: serde_json's Value stops at 127 levels, so the testkit cannot build these.)
    let send = |h: &mut crate::routing::testkit::H, n: usize| {
        let text = format!(r#"{{"messageInput":{}}}"#, nested(n));
        let raw = RawValue::from_string(text).unwrap();
        let ev = ClientEvent::AgentMessage;
        let res =
            h.r.handle_event(h.now, ConnId(1), ev, EventData::Raw(Some(&raw)));
        // (Read raw: the testkit's drain parses into a Value, which stops at 127 levels.)
        let mut to = Vec::new();
        while let Some(out) = h.r.poll_output() {
            if let Output::Send { to: t, .. } = out {
                to.push(t);
            }
        }
        (res, to)
    };
    let (res, to) = send(&mut h, 128);
    assert!(res.is_ok());
    assert_eq!(to, [ConnId(10)]);
    for n in [129, 30_000] {
        let (res, to) = send(&mut h, n);
        let e = res.unwrap_err();
        assert_eq!(e.code, ErrorCode::BadPayload);
        assert!(e.message.contains("messageInput") && e.message.contains("128"));
        assert!(to.is_empty(), "nothing relayed");
    }
    // Other events' data the same way (their data is relayed to the other party).
    let raw = RawValue::from_string(format!(r#"{{"x":{}}}"#, nested(128))).unwrap();
    let res = h.r.handle_event(
        h.now,
        ConnId(1),
        ClientEvent::Mute,
        EventData::Raw(Some(&raw)),
    );
    assert_eq!(res.unwrap_err().code, ErrorCode::BadPayload);
    h.ok(1, "agentMessage", json!({"messageInput": "still here"}));
}
