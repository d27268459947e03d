//! Properties over arbitrary client input: no byte string or event sequence panics the
//! codecs or the router, the router's invariants hold after every step, and data read with
//! the frame (one JSON pass) routes exactly as the same data parsed on its own.
use proptest::prelude::*;
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use supportd::net::http;
use supportd::protocol::{engineio, native, socketio};
use supportd::routing::{
    ClientEvent, ConnId, IdRef, MessageData, Output, Role, Router, RoutingConfig, ServerEvent,
};

fn id_json() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..4).prop_map(|i| i.to_string()),
        (0u8..4).prop_map(|i| format!("\"{i}\"")),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("1.5".to_owned()),
        Just("\"\"".to_owned()),
    ]
}

/// Event data: objects with the fields the router reads, built from small id pools.
fn data_json() -> impl Strategy<Value = Option<String>> {
    let fields = (
        proptest::option::of(id_json()),
        proptest::option::of(id_json()),
        proptest::option::of(id_json()),
        proptest::option::of(id_json()),
        proptest::option::of(id_json()),
        proptest::option::of(prop_oneof![Just("true"), Just("false"), Just("1")]),
        proptest::option::of(prop_oneof![
            Just("\"hi\""),
            Just("{\"a\":[1]}"),
            Just("null")
        ]),
    )
        .prop_map(|(id, user, agent, room, to, avail, msg)| {
            let mut parts = Vec::new();
            for (k, v) in [
                ("id", id),
                ("userId", user),
                ("agentId", agent),
                ("roomId", room),
                ("toAgentId", to),
                ("available", avail.map(str::to_owned)),
                ("messageInput", msg.map(str::to_owned)),
            ] {
                if let Some(v) = v {
                    parts.push(format!("\"{k}\":{v}"));
                }
            }
            format!("{{{}}}", parts.join(","))
        });
    prop_oneof![
        8 => fields.prop_map(Some),
        1 => Just(None),
        1 => Just(Some("[1,2]".to_owned())),
        1 => Just(Some("\"x\"".to_owned())),
        1 => Just(Some(r#"{"messageInput":"a","messageInput":"b"}"#.to_owned())),
        1 => Just(Some(r#"{"room\u0049d":"0","messageInput":1,"x":{"y":[]}}"#.to_owned())),
        1 => Just(Some(r#"{"roomId":"\ud800","messageInput":"x"}"#.to_owned())),
        1 => Just(Some(r#"{"\udc00":1,"messageInput":"x"}"#.to_owned())),
        1 => Just(Some("1e400".to_owned())),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Event(u64, usize, Option<String>),
    Disconnect(u64),
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (0u64..6, 0usize..ClientEvent::ALL.len(), data_json())
            .prop_map(|(c, e, d)| Step::Event(c, e, d)),
        1 => (0u64..6).prop_map(Step::Disconnect),
        1 => (0u64..5000).prop_map(Step::Wait),
    ]
}

/// A step of the call-queue properties: well-formed requests (so that calls, offers and
/// queues actually happen), disconnects and time jumps.
#[derive(Debug, Clone)]
enum QStep {
    Event(u64, &'static str, String),
    Disconnect(u64),
    /// The connection drops (the party is held for a resume).
    Lost(u64),
    /// A new connection (same number) resumes the party registered there with its token.
    Resume(u64),
    Wait(u64),
}

/// Conns 0..3 tend to be agents, 3..8 users; any conn may send anything.
fn queue_step() -> impl Strategy<Value = QStep> {
    let agent = 0u64..3;
    let user = 3u64..8;
    let conn = 0u64..8;
    prop_oneof![
        2 => (agent.clone(), 1u64..4).prop_map(|(c, n)| {
            QStep::Event(c, "connectAgent", format!(r#"{{"id":{c},"capacity":{n}}}"#))
        }),
        2 => user.clone().prop_map(|c| QStep::Event(c, "connectUser", format!(r#"{{"id":{c}}}"#))),
        4 => user.clone().prop_map(|c| QStep::Event(c, "callAgent", "{}".into())),
        // Skills and priorities: agents with skill levels, calls requiring some or through
        // the public entry point (priority 5, skill a at 2).
        2 => (agent.clone(), 0usize..4).prop_map(|(c, k)| {
            let skills = [r#"{"a":3,"b":1}"#, r#"{"b":5}"#, r#"["a"]"#, "{}"][k];
            QStep::Event(c, "connectAgent", format!(r#"{{"id":{c},"skills":{skills}}}"#))
        }),
        2 => (user.clone(), 0usize..4).prop_map(|(c, k)| {
            let data = [r#"{"skills":["a"]}"#, r#"{"skills":{"b":4}}"#, r#"{"entry":"vip"}"#,
                r#"{"skills":{"a":3,"b":1}}"#][k];
            QStep::Event(c, "callAgent", data.into())
        }),
        2 => user.clone().prop_map(|c| QStep::Event(c, "leaveCall", "{}".into())),
        1 => user.prop_map(|c| QStep::Event(c, "userMessage", r#"{"messageInput":"x"}"#.into())),
        3 => agent.clone().prop_map(|c| QStep::Event(c, "acceptCall", "{}".into())),
        2 => agent.clone().prop_map(|c| QStep::Event(c, "rejectCall", "{}".into())),
        1 => agent.clone().prop_map(|c| QStep::Event(c, "leaveCall", "{}".into())),
        1 => agent.clone().prop_map(|c| QStep::Event(c, "callTransfer", r#"{"toQueue":true}"#.into())),
        1 => agent.clone().prop_map(|c| QStep::Event(c, "callTransfer", "{}".into())),
        2 => (agent, any::<bool>()).prop_map(|(c, b)| {
            QStep::Event(c, "toggleAvailability", format!(r#"{{"available":{b}}}"#))
        }),
        2 => conn.clone().prop_map(QStep::Disconnect),
        2 => conn.clone().prop_map(QStep::Lost),
        2 => conn.prop_map(QStep::Resume),
        4 => prop_oneof![0u64..200, 0u64..8000].prop_map(QStep::Wait),
    ]
}

/// A routing config with every knob drawn (small durations, so timers fire).
fn routing_config() -> impl Strategy<Value = RoutingConfig> {
    let ms = |max: u64| prop_oneof![Just(0u64), 1..max].prop_map(Duration::from_millis);
    let opt = |max: u64| proptest::option::of((1..max).prop_map(Duration::from_millis));
    (
        (any::<bool>(), 0usize..4, opt(20_000), ms(2000)),
        (
            0usize..supportd::routing::Strategy::ALL.len(),
            opt(6000),
            0u32..3,
            ms(5000),
        ),
        (any::<bool>(), ms(5000), ms(300)),
    )
        .prop_map(
            |(
                (queue, max_len, max_wait, upd),
                (st, offer, no_answer, reject),
                (requeue, wrap, avail),
            )| {
                RoutingConfig {
                    queue,
                    max_queue_length: max_len,
                    max_wait,
                    queue_update_interval: upd,
                    strategy: supportd::routing::Strategy::ALL[st],
                    offer_timeout: offer,
                    max_no_answer: no_answer,
                    reject_delay: reject,
                    requeue_on_agent_loss: requeue,
                    wrap_up: wrap,
                    availability_interval: avail,
                    resume: supportd::routing::ResumeConfig::default(),
                    // Agents ask for 1 to 3 chats: some get 2, some are lowered to it.
                    max_capacity: 2,
                    default_capacity: 1,
                    max_signal_bytes: supportd::routing::DEFAULT_MAX_SIGNAL_BYTES,
                    ..RoutingConfig::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// On random configs and sequences with time jumps: an agent holds at most its capacity
    /// in calls and offers, a user is in at most one of call, offer, queue, no ready agent is idle while
    /// a user it may take waits, the count matches the states (and the broadcast ends on
    /// it), and every user who asked is in exactly one place until it hears callEnded or
    /// disconnects.
    #[test]
    fn the_call_queue_keeps_its_invariants(
        config in routing_config(),
        reload in proptest::option::of(routing_config()),
        steps in proptest::collection::vec(queue_step(), 1..80),
    ) {
        // Short holds with small outboxes, so that graces run out and holds overflow.
        let resume = supportd::routing::ResumeConfig {
            grace: Duration::from_millis(5000),
            max_events: 3,
            max_bytes: 1 << 20,
            keep_sent: 2,
            window_bytes: 4096,
        };
        // Skill steps short enough to fire within a run, a public entry, aging on reload.
        let entries = vec![supportd::routing::Entry {
            name: "vip".into(),
            priority: 5,
            public: true,
            skills: supportd::routing::Skills::of([("a", 2)]).expect("skills"),
            ..Default::default()
        }];
        let skill_steps = vec![supportd::routing::SkillStep {
            after: Duration::from_millis(300),
            lower: supportd::routing::Skills::of([("b", 1)]).expect("skills"),
            ..Default::default()
        }];
        let config = RoutingConfig {
            resume,
            entries: entries.clone(),
            skill_steps: skill_steps.clone(),
            skill_wait: Duration::from_millis(2000),
            ..config
        };
        let reload = reload.map(|c| RoutingConfig {
            resume,
            entries,
            skill_steps,
            priority_aging: Some(Duration::from_secs(1)),
            ..c
        });
        let mut router = Router::with_config(config, 9);
        let mut now = Instant::now();
        let mut asked: HashSet<u64> = HashSet::new();
        // Users whose connection dropped or came back: where they stand is not tracked.
        let mut exempt: HashSet<u64> = HashSet::new();
        let mut announced = Some(0);
        let half = steps.len() / 2;
        for (i, s) in steps.into_iter().enumerate() {
            if i == half {
                if let Some(c) = reload.clone() {
                    router.set_config(now, c);
                }
            }
            match &s {
                QStep::Event(conn, name, data) => {
                    let raw: Box<RawValue> = serde_json::from_str(data).expect("JSON");
                    let ev = ClientEvent::from_name(name).expect("known event");
                    let token = format!("t{conn}");
                    let r = match ev {
                        ClientEvent::ConnectUser => router.handle_register(now, ConnId(*conn), Role::User, Some(&*raw), &token),
                        ClientEvent::ConnectAgent => router.handle_register(now, ConnId(*conn), Role::Agent, Some(&*raw), &token),
                        _ => router.handle_event(now, ConnId(*conn), ev, Some(&*raw).into()),
                    };
                    if ev == ClientEvent::CallAgent && r.is_ok() {
                        asked.insert(*conn);
                    }
                }
                QStep::Disconnect(conn) => {
                    router.handle_disconnect(now, ConnId(*conn));
                    asked.remove(conn);
                }
                QStep::Lost(conn) => {
                    router.handle_connection_lost(now, ConnId(*conn));
                    asked.remove(conn);
                    exempt.insert(*conn);
                }
                QStep::Resume(conn) => {
                    let role = if *conn < 3 { Role::Agent } else { Role::User };
                    let raw: Box<RawValue> = serde_json::from_str(&format!(
                        r#"{{"id":{conn},"resumeToken":"t{conn}","lastSeq":0}}"#
                    ))
                    .expect("JSON");
                    let _ = router.handle_register(now, ConnId(*conn), role, Some(&*raw), &format!("t{conn}"));
                    exempt.insert(*conn);
                }
                QStep::Wait(ms) => {
                    now += Duration::from_millis(*ms);
                    router.handle_timeout(now);
                }
            }
            let mut ended = HashSet::new();
            while let Some(o) = router.poll_output() {
                if let Output::Send {
                    to,
                    event: ServerEvent::CallEnded { .. },
                    ..
                } = o
                {
                    ended.insert(to.0);
                }
            }
            if let Some(n) = router.poll_available_agents(now) {
                announced = Some(n);
            }
            if let Err(e) = router.check_invariants() {
                return Err(TestCaseError::fail(format!("after {s:?}: {e}")));
            }
            for c in 0..8 {
                let place = router.user_place(ConnId(c));
                if exempt.contains(&c) {
                    continue;
                }
                if place.is_some() {
                    prop_assert!(asked.contains(&c), "user {} placed without asking", c);
                } else if asked.remove(&c) {
                    prop_assert!(ended.contains(&c), "user {} vanished after {:?}", c, s);
                }
            }
        }
        // The broadcast count ends on the current value once the interval has passed.
        now += Duration::from_secs(1);
        if let Some(n) = router.poll_available_agents(now) {
            announced = Some(n);
        }
        prop_assert_eq!(announced, Some(router.stats().available_agents));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = native::decode(&text);
        let _ = socketio::decode(&text);
        let _ = engineio::decode_packet(&text);
        let _ = engineio::payload_packets(&text).count();
        let _ = engineio::parse_query(&text);
        let _ = http::parse_head(&bytes);
    }

    #[test]
    fn json_like_input_never_panics(s in "[\\[\\]{}\",:0-9a-z\\\\ ]{0,80}") {
        let _ = native::decode(&s);
        let _ = socketio::decode(&format!("2{s}"));
        let _ = socketio::decode(&format!("0{s}"));
        let _ = socketio::decode(&format!("3/x,12{s}"));
    }

    #[test]
    fn any_event_sequence_keeps_the_router_consistent(steps in proptest::collection::vec(step(), 1..60)) {
        let mut router = Router::new();
        let mut now = Instant::now();
        for s in steps {
            match s {
                Step::Event(conn, e, data) => {
                    let raw: Option<Box<RawValue>> =
                        data.map(|d| serde_json::from_str(&d).expect("strategy makes JSON"));
                    let before = router.stats();
                    let r = router.handle_event(now, ConnId(conn), ClientEvent::ALL[e], raw.as_deref().into());
                    let mut outputs = 0;
                    while let Some(o) = router.poll_output() {
                        outputs += 1;
                        if let Output::Send { event, .. } = o {
                            let mut v = Vec::new();
                            native::encode(&event, None, &mut v);
                            prop_assert!(serde_json::from_slice::<serde_json::Value>(&v).is_ok(), "output is JSON");
                            prop_assert!(!matches!(event, ServerEvent::Error { .. }), "the router reports errors by result");
                        }
                    }
                    if r.is_err() {
                        prop_assert_eq!(outputs, 0, "a rejection produced output");
                        prop_assert_eq!(router.stats(), before, "a rejection changed state");
                    }
                }
                Step::Disconnect(conn) => {
                    router.handle_disconnect(now, ConnId(conn));
                    while router.poll_output().is_some() {}
                }
                Step::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    router.handle_timeout(now);
                }
            }
            let st = router.stats();
            prop_assert!(st.available_agents <= st.agents, "{:?}", st);
            prop_assert!(st.active_calls <= st.users && st.active_calls <= st.agents, "{:?}", st);
        }
        // Everyone leaves: nothing is left behind.
        for c in 0..6 {
            router.handle_disconnect(now, ConnId(c));
        }
        while router.poll_output().is_some() {}
        prop_assert_eq!(router.stats(), Default::default());
    }

    #[test]
    fn data_read_with_the_frame_routes_like_raw_data(steps in proptest::collection::vec(step(), 1..60)) {
        let (mut raw_router, mut frame_router) = (Router::new(), Router::new());
        let now = Instant::now();
        let drain = |router: &mut Router| {
            let mut sent = Vec::new();
            while let Some(o) = router.poll_output() {
                if let Output::Send { to, event, .. } = o {
                    let mut v = Vec::new();
                    native::encode(&event, None, &mut v);
                    sent.push((to, v));
                }
            }
            sent
        };
        for s in steps {
            let Step::Event(conn, e, data) = s else { continue };
            let event = ClientEvent::ALL[e];
            let raw: Option<Box<RawValue>> =
                data.as_ref().map(|d| serde_json::from_str(d).expect("strategy makes JSON"));
            let a = raw_router.handle_event(now, ConnId(conn), event, raw.as_deref().into());
            let frame = match &data {
                Some(d) => format!(r#"{{"event":"{}","data":{d}}}"#, event.name()),
                None => format!(r#"{{"event":"{}"}}"#, event.name()),
            };
            let env = native::decode(&frame).expect("a well-formed envelope");
            let b = frame_router.handle_event(now, ConnId(conn), event, env.data);
            prop_assert_eq!(a, b, "{}", frame);
            prop_assert_eq!(drain(&mut raw_router), drain(&mut frame_router), "{}", frame);
        }
    }

    #[test]
    fn message_data_agrees_with_a_derived_parser(data in data_json()) {
        // The oracle: serde's derived struct, as the router parsed message data before it was
        // read with the frame (unknown keys ignored, a repeated key an error).
        #[derive(serde::Deserialize)]
        struct Msg<'a> {
            #[serde(rename = "roomId", borrow, default)]
            room_id: Option<IdRef<'a>>,
            #[serde(rename = "userId", borrow, default)]
            user_id: Option<IdRef<'a>>,
            #[serde(rename = "agentId", borrow, default)]
            agent_id: Option<IdRef<'a>>,
            #[serde(rename = "messageInput", borrow)]
            message_input: Option<&'a RawValue>,
        }
        let Some(d) = data else { return Ok(()) };
        let oracle = serde_json::from_str::<Msg>(&d).ok().filter(|_| d.starts_with('{'));
        let Ok(m) = serde_json::from_str::<MessageData>(&d) else {
            // JSON it cannot hold (the decoders then keep the data raw): the oracle fails too.
            prop_assert!(oracle.is_none(), "{}", d);
            return Ok(());
        };
        prop_assert_eq!(m.well_formed, oracle.is_some(), "{}", d);
        if let Some(o) = oracle {
            prop_assert_eq!(&m.room_id, &o.room_id);
            prop_assert_eq!(&m.user_id, &o.user_id);
            prop_assert_eq!(&m.agent_id, &o.agent_id);
            prop_assert_eq!(m.message_input.map(RawValue::get), o.message_input.map(RawValue::get));
        }
    }
}
