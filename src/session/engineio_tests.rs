//! Unit tests for the Engine.IO session, on a virtual clock: no sockets, no sleeps.
use super::*;
use crate::routing::ErrorCode;
use crate::session::placeholders_valid;

const MS: Duration = Duration::from_millis(1);

fn config() -> SessionConfig {
    SessionConfig {
        ping_interval: 300 * MS,
        ping_timeout: 200 * MS,
        connect_timeout: 1000 * MS,
        max_payload_bytes: 1000,
        max_queued_bytes: 100,
        max_binary_bytes: 1000,
    }
}

fn session(now: Instant, transport: Transport) -> EioSession {
    EioSession::new(now, "eio-sid".into(), "sio-sid".into(), transport, config())
}

fn drain(s: &mut EioSession) -> Vec<SessionOutput> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn text(o: &SessionOutput) -> String {
    match o {
        SessionOutput::ToCarrier(t) | SessionOutput::ToProbe(t) => t.as_str().to_owned(),
        SessionOutput::AnswerHeld(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

/// A polling session that has CONNECTed.
fn connected_polling(now: Instant) -> EioSession {
    let mut s = session(now, Transport::Polling);
    assert!(s.handle_packet(now, Via::Carrier, "40").is_none());
    assert_eq!(
        s.handle_poll(now),
        Some(b"40{\"sid\":\"sio-sid\"}".to_vec())
    );
    s
}

#[test]
fn open_packet_carries_sid_heartbeat_and_upgrades() {
    let s = session(Instant::now(), Transport::Polling);
    let open = String::from_utf8(s.open_packet(&["websocket"])).unwrap();
    assert_eq!(
        open,
        "0{\"sid\":\"eio-sid\",\"upgrades\":[\"websocket\"],\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000}"
    );
}

#[test]
fn ping_goes_out_at_the_interval_and_a_missing_pong_closes() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 300 * MS));
    s.handle_timeout(t0 + 299 * MS); // early: nothing
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(t0 + 300 * MS);
    assert_eq!(s.handle_poll(t0 + 300 * MS), Some(b"2".to_vec()));
    assert_eq!(s.poll_timeout(), Some(t0 + 500 * MS));
    s.handle_timeout(t0 + 500 * MS);
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::PingTimeout)]
    );
    assert!(s.is_closed());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_pong_keeps_the_session_alive() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(t0, Via::Carrier, "40");
    drain(&mut s);
    for i in 1..=5u32 {
        let t = t0 + 300 * MS * i;
        s.handle_timeout(t);
        let out = drain(&mut s);
        assert_eq!(out.iter().map(text).collect::<Vec<_>>(), vec!["2"]);
        s.handle_packet(t + 10 * MS, Via::Carrier, "3");
        s.handle_timeout(t + 250 * MS);
        assert!(drain(&mut s).is_empty());
    }
    assert!(!s.is_closed());
}

#[test]
fn no_connect_in_time_closes() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    // Keep the heartbeat answered so that only the CONNECT deadline can fire.
    for i in 1..=3u32 {
        s.handle_timeout(t0 + 300 * MS * i);
        s.handle_packet(t0 + 300 * MS * i, Via::Carrier, "3");
    }
    drain(&mut s);
    s.handle_timeout(t0 + 1000 * MS);
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::ConnectTimeout)]
    );
}

#[test]
fn connect_answers_with_the_socketio_sid_and_stops_the_connect_timer() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(t0, Via::Carrier, "40");
    assert_eq!(
        drain(&mut s).iter().map(text).collect::<Vec<_>>(),
        vec!["40{\"sid\":\"sio-sid\"}"]
    );
    assert!(s.is_connected());
    assert_eq!(s.poll_timeout(), Some(t0 + 300 * MS));
}

#[test]
fn an_event_before_connect_closes_the_session() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    assert!(s
        .handle_packet(t0, Via::Carrier, "42[\"connectUser\",{\"id\":\"u1\"}]")
        .is_none());
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::EventBeforeConnect)]
    );
}

#[test]
fn events_on_root_come_back_with_their_ack_id() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    match s.handle_packet(t0, Via::Carrier, "427[\"mute\",{\"muted\":true}]") {
        Some(Inbound::Event { name, ack, .. }) => {
            assert_eq!(name, "mute");
            assert_eq!(ack, Some(7));
        }
        other => panic!("expected an event, got {other:?}"),
    }
    s.ack(7, Ok(()));
    let refused = Rejection::new(ErrorCode::NotInCall, "no call");
    s.ack(8, Err(&refused));
    assert_eq!(
        String::from_utf8(s.handle_poll(t0).unwrap()).unwrap(),
        "437[{\"ok\":true}]\x1e438[{\"ok\":false,\"error\":{\"code\":\"not_in_call\",\"message\":\"no call\"}}]"
    );
}

#[test]
fn other_namespaces_get_connect_error_and_anything_else_for_them_closes() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert!(s.handle_packet(t0, Via::Carrier, "40/admin,").is_none());
    assert_eq!(
        s.handle_poll(t0),
        Some(b"44/admin,{\"message\":\"Invalid namespace\"}".to_vec())
    );
    assert!(!s.is_closed());
    // As the reference server: a packet for a namespace not joined closes the session.
    assert!(s
        .handle_packet(t0, Via::Carrier, "42/admin,[\"mute\",{}]")
        .is_none());
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::EventBeforeConnect)]
    );
}

#[test]
fn a_second_connect_or_a_disconnect_before_connect_closes() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    s.handle_packet(t0, Via::Carrier, "40");
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::Malformed)]
    );
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(t0, Via::Carrier, "41");
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::Malformed)]
    );
}

#[test]
fn disconnect_leaves_the_namespace_but_keeps_the_session() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    s.handle_packet(t0, Via::Carrier, "41");
    assert_eq!(drain(&mut s), vec![SessionOutput::Left]);
    assert!(!s.is_connected());
    assert!(!s.is_closed());
}

#[test]
fn a_held_poll_is_answered_once_per_turn_with_everything_pushed() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.handle_poll(t0), None); // held
    assert_eq!(s.push("42[\"a\"]".into()), Push::Queued { answer: true });
    assert_eq!(s.push("42[\"b\"]".into()), Push::Queued { answer: true });
    assert_eq!(
        s.take_held_answer(),
        Some(b"42[\"a\"]\x1e42[\"b\"]".to_vec())
    );
    assert_eq!(s.take_held_answer(), None);
    assert_eq!(s.push("42[\"c\"]".into()), Push::Queued { answer: false });
}

#[test]
fn an_undelivered_answer_waits_for_the_next_poll_in_order() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.handle_poll(t0), None);
    let _ = s.push("42[\"a\"]".into());
    let body = s.take_held_answer().unwrap();
    let _ = s.push("42[\"b\"]".into());
    s.handle_answer_undelivered(body);
    assert_eq!(s.handle_poll(t0), Some(b"42[\"a\"]\x1e42[\"b\"]".to_vec()));
}

#[test]
fn two_gets_at_once_end_the_session() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.handle_poll(t0), None);
    assert_eq!(s.handle_poll(t0), None);
    assert_eq!(
        drain(&mut s),
        vec![
            SessionOutput::AnswerHeld(b"1".to_vec()),
            SessionOutput::Closed(CloseReason::OverlappingPolls)
        ]
    );
}

#[test]
fn a_client_close_answers_the_held_poll_with_a_noop() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.handle_poll(t0), None);
    s.handle_packet(t0, Via::Carrier, "1");
    assert_eq!(
        drain(&mut s),
        vec![
            SessionOutput::AnswerHeld(b"6".to_vec()),
            SessionOutput::Closed(CloseReason::ClientClosed)
        ]
    );
}

#[test]
fn a_server_close_answers_the_held_poll_with_the_close_packet() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.handle_poll(t0), None);
    s.close(CloseReason::Shutdown);
    assert_eq!(
        drain(&mut s),
        vec![
            SessionOutput::AnswerHeld(b"1".to_vec()),
            SessionOutput::Closed(CloseReason::Shutdown)
        ]
    );
    // Closed once: nothing more comes out.
    s.close(CloseReason::PingTimeout);
    assert_eq!(s.push("42[\"a\"]".into()), Push::Done);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn the_held_poll_connection_closing_ends_the_session_at_once() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    s.handle_poll_gone(); // nothing held: nothing happens
    assert!(!s.is_closed());
    assert_eq!(s.handle_poll(t0), None);
    s.handle_poll_gone();
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::PollClosed)]
    );
}

#[test]
fn a_polling_queue_over_the_limit_is_a_slow_consumer() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    let big = format!("42[\"{}\"]", "x".repeat(60));
    assert_eq!(s.push(big.clone().into()), Push::Queued { answer: false });
    assert_eq!(s.push(big.into()), Push::Overflow);
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::SlowConsumer)]
    );
}

#[test]
fn probe_then_upgrade_moves_queued_packets_to_the_websocket() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert_eq!(s.handle_poll(t0), None); // held
    assert!(s.handle_probe_open());
    assert!(!s.handle_probe_open(), "a second probe is refused");
    s.handle_packet(t0, Via::Probe, "2probe");
    assert_eq!(
        drain(&mut s).iter().map(text).collect::<Vec<_>>(),
        vec!["3probe", "6"]
    );
    // Probed: a poll returns at once with a noop.
    assert_eq!(s.handle_poll(t0), Some(b"6".to_vec()));
    let _ = s.push("42[\"a\"]".into());
    let _ = s.push("42[\"b\"]".into());
    let _ = s.push_binary(bytes::Bytes::from_static(&[7, 8]));
    s.handle_packet(t0, Via::Probe, "5");
    assert_eq!(s.transport(), Transport::WebSocket);
    assert_eq!(
        drain(&mut s).iter().map(text).collect::<Vec<_>>(),
        vec![
            "Upgraded",
            "42[\"a\"]",
            "42[\"b\"]",
            "ToCarrierBinary(b\"\\x07\\x08\")"
        ]
    );
    assert_eq!(
        s.push("42[\"c\"]".into()),
        Push::Carrier("42[\"c\"]".into())
    );
    assert!(!s.handle_probe_open(), "an upgraded session takes no probe");
}

#[test]
fn an_upgrade_before_the_probe_ping_or_a_bad_probe_packet_closes_the_probe_only() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert!(s.handle_probe_open());
    s.handle_packet(t0, Via::Probe, "5");
    assert_eq!(drain(&mut s), vec![SessionOutput::CloseProbe]);
    assert_eq!(s.transport(), Transport::Polling);
    assert!(s.handle_probe_open(), "the client may probe again");
    s.handle_packet(t0, Via::Probe, "x");
    assert_eq!(drain(&mut s), vec![SessionOutput::CloseProbe]);
    assert!(!s.is_closed());
}

#[test]
fn a_probe_that_goes_away_leaves_polling_as_it_was() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert!(s.handle_probe_open());
    s.handle_packet(t0, Via::Probe, "2probe");
    drain(&mut s);
    s.handle_probe_gone();
    assert_eq!(s.handle_poll(t0), None, "polls are held again");
}

#[test]
fn malformed_packets_on_the_carrier_close_the_session() {
    for bad in ["", "9", "4", "4{", "0", "5"] {
        let t0 = Instant::now();
        let mut s = session(t0, Transport::WebSocket);
        s.handle_packet(t0, Via::Carrier, "40");
        drain(&mut s);
        s.handle_packet(t0, Via::Carrier, bad);
        assert_eq!(
            drain(&mut s),
            vec![SessionOutput::Closed(CloseReason::Malformed)],
            "{bad:?}"
        );
    }
}

#[test]
fn a_ping_from_the_client_gets_a_pong_with_its_data() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(t0, Via::Carrier, "2hello");
    assert_eq!(
        drain(&mut s).iter().map(text).collect::<Vec<_>>(),
        vec!["3hello"]
    );
}

#[test]
fn the_carrier_websocket_going_away_ends_the_session() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    s.handle_carrier_gone();
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::TransportClosed)]
    );
}

fn binary_event(inbound: Option<Inbound<'_>>) -> BinaryEvent {
    match inbound {
        Some(Inbound::BinaryEvent(e)) => e,
        other => panic!("expected a binary event, got {other:?}"),
    }
}

#[test]
fn a_binary_event_comes_back_whole_once_its_attachments_arrived() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(t0, Via::Carrier, "40");
    drain(&mut s);
    let header = r#"452-["userMessage",{"a":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}]"#;
    assert!(s.handle_packet(t0, Via::Carrier, header).is_none());
    assert!(s.handle_binary(t0, Via::Carrier, vec![1, 2]).is_none());
    let e = binary_event(s.handle_binary(t0, Via::Carrier, vec![3]));
    assert_eq!(e.packet, &header[1..]);
    assert_eq!(e.attachments, vec![vec![1, 2], vec![3]]);
    assert!(!s.is_closed());
}

#[test]
fn over_polling_attachments_are_base64_packets_of_the_same_payload() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    assert!(s
        .handle_packet(
            t0,
            Via::Carrier,
            r#"451-["userMessage",{"_placeholder":true,"num":0}]"#
        )
        .is_none());
    let e = binary_event(s.handle_packet(t0, Via::Carrier, "bAQIDBA=="));
    assert_eq!(e.attachments, vec![vec![1, 2, 3, 4]]);
}

#[test]
fn binary_acks_are_read_to_the_end_and_dropped() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    s.handle_packet(
        t0,
        Via::Carrier,
        r#"462-0[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    assert!(s.handle_packet(t0, Via::Carrier, "bAQ==").is_none());
    assert!(s.handle_binary(t0, Via::Carrier, vec![1]).is_none());
    assert!(!s.is_closed());
    assert!(matches!(
        s.handle_packet(t0, Via::Carrier, "42[\"mute\",{}]"),
        Some(Inbound::Event { .. })
    ));
    // A binary event for a namespace not joined closes, like any packet for it.
    s.handle_packet(
        t0,
        Via::Carrier,
        r#"451-/admin,["x",{"_placeholder":true,"num":0}]"#,
    );
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::EventBeforeConnect)]
    );
}

#[test]
fn placeholders_must_name_an_attachment_that_exists() {
    let t0 = Instant::now();
    for bad in [
        r#"451-["userMessage",{"messageInput":{"_placeholder":true,"num":7}}]"#,
        r#"451-["userMessage",{"messageInput":{"_placeholder":true,"num":-1}}]"#,
        r#"451-["userMessage",{"messageInput":{"_placeholder":true,"num":"0"}}]"#,
        r#"451-["userMessage",{"messageInput":[{"_placeholder":true}]}]"#,
    ] {
        let mut s = connected_polling(t0);
        s.handle_packet(t0, Via::Carrier, bad);
        assert!(
            s.handle_binary(t0, Via::Carrier, vec![1]).is_none(),
            "{bad}"
        );
        assert_eq!(
            drain(&mut s),
            vec![SessionOutput::Closed(CloseReason::Malformed)],
            "{bad}"
        );
    }
    assert!(placeholders_valid(
        r#"51-["m",{"a":{"_placeholder":true,"num":0}},[]]"#,
        1
    ));
    assert!(placeholders_valid(
        r#"51-3["m",{"_placeholder":false,"num":9}]"#,
        1
    ));
}

#[test]
fn attachments_that_stop_coming_time_out() {
    let t0 = Instant::now();
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(t0, Via::Carrier, "40");
    drain(&mut s);
    s.handle_packet(
        t0,
        Via::Carrier,
        r#"452-["a",{"_placeholder":true,"num":0}]"#,
    );
    s.handle_binary(t0, Via::Carrier, vec![1]);
    // The heartbeat is answered; only the missing attachment can end the session.
    s.handle_timeout(t0 + 300 * MS);
    s.handle_packet(t0 + 300 * MS, Via::Carrier, "3");
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(t0 + 500 * MS));
    s.handle_timeout(t0 + 500 * MS);
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::Malformed)]
    );
}

#[test]
fn stray_or_missing_or_oversized_attachments_close_the_session() {
    let t0 = Instant::now();
    // An attachment nobody announced.
    let mut s = connected_polling(t0);
    s.handle_binary(t0, Via::Carrier, vec![1]);
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::Malformed)]
    );
    // Text where an attachment was due.
    let mut s = connected_polling(t0);
    s.handle_packet(
        t0,
        Via::Carrier,
        r#"451-["a",{"_placeholder":true,"num":0}]"#,
    );
    s.handle_packet(t0, Via::Carrier, "42[\"mute\",{}]");
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::Malformed)]
    );
    // Attachments over max_payload_bytes (1000 here) in all.
    let mut s = connected_polling(t0);
    s.handle_packet(
        t0,
        Via::Carrier,
        r#"452-["a",{"_placeholder":true,"num":0}]"#,
    );
    assert!(s.handle_binary(t0, Via::Carrier, vec![0; 600]).is_none());
    assert!(s.handle_binary(t0, Via::Carrier, vec![0; 600]).is_none());
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::PayloadTooLarge)]
    );
    // A binary event before CONNECT.
    let mut s = session(t0, Transport::WebSocket);
    s.handle_packet(
        t0,
        Via::Carrier,
        r#"451-["a",{"_placeholder":true,"num":0}]"#,
    );
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::EventBeforeConnect)]
    );
}

#[test]
fn pushed_attachments_go_as_binary_frames_or_base64_packets() {
    let t0 = Instant::now();
    let mut ws = session(t0, Transport::WebSocket);
    assert_eq!(
        ws.push_binary(bytes::Bytes::from_static(&[1, 2, 3, 4])),
        Push::CarrierBinary(bytes::Bytes::from_static(&[1, 2, 3, 4]))
    );
    let mut poll = connected_polling(t0);
    let _ = poll.push("451-[\"a\",{\"_placeholder\":true,\"num\":0}]".into());
    let _ = poll.push_binary(bytes::Bytes::from_static(&[1, 2, 3, 4]));
    assert_eq!(
        String::from_utf8(poll.handle_poll(t0).unwrap()).unwrap(),
        "451-[\"a\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA=="
    );
}

#[test]
fn a_late_turn_neither_delays_the_pong_deadline_nor_drifts_the_heartbeat() {
    let t0 = Instant::now();
    let mut s = connected_polling(t0);
    // The loop gets to the ping 40 ms late: the deadlines still count from t0 + 300.
    s.handle_timeout(t0 + 340 * MS);
    assert_eq!(s.poll_timeout(), Some(t0 + 500 * MS));
    s.handle_timeout(t0 + 500 * MS);
    assert_eq!(
        drain(&mut s),
        vec![SessionOutput::Closed(CloseReason::PingTimeout)]
    );
    // So late that the deadline has passed already: the client still gets its full time.
    let mut s = connected_polling(t0);
    s.handle_timeout(t0 + 900 * MS);
    assert!(!s.is_closed());
    assert_eq!(s.poll_timeout(), Some(t0 + 900 * MS));
    s.handle_timeout(t0 + 900 * MS);
    assert!(
        !s.is_closed(),
        "a ping is due again, the pong deadline is 1100 ms"
    );
    s.handle_timeout(t0 + 1100 * MS);
    assert!(s.is_closed());
}
