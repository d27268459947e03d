//! Properties over arbitrary client input: no byte string or event sequence panics the
//! codecs or the router, the router's invariants hold after every step, and data read with
//! the frame (one JSON pass) routes exactly as the same data parsed on its own.
use proptest::prelude::*;
use serde_json::value::RawValue;
use std::time::{Duration, Instant};
use supportd::net::http;
use supportd::protocol::{engineio, native, socketio};
use supportd::routing::{ClientEvent, ConnId, IdRef, MessageData, Output, Router, ServerEvent};

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

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
                            native::encode(&event, &mut v);
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
                if let Output::Send { to, event } = o {
                    let mut v = Vec::new();
                    native::encode(&event, &mut v);
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
