//! Unit tests for `socketio`.
use super::*;

fn ev(p: &Packet<'_>) -> (Cow<'static, str>, Option<String>) {
    match &p.body {
        Body::Event { name, data } => (
            Cow::Owned(name.to_string()),
            match data {
                EventData::Raw(raw) => raw.map(|d| d.get().to_string()),
                EventData::Message(m) => Some(format!("{m:?}")),
            },
        ),
        other => panic!("not an event: {other:?}"),
    }
}

fn err(s: &str) -> SioError {
    decode(s).unwrap_err()
}

#[test]
fn spec_connect_examples() {
    // "0" (main namespace), "0/admin," and with auth.
    let p = decode("0").unwrap();
    assert_eq!(p.namespace, "/");
    assert_eq!(p.ack_id, None);
    assert_eq!(p.body, Body::Connect { auth: None });
    assert_eq!(p.kind(), PacketType::Connect);
    let p = decode("0/admin,").unwrap();
    assert_eq!(p.namespace, "/admin");
    assert_eq!(p.body, Body::Connect { auth: None });
    let p = decode(r#"0/admin,{"token":"123"}"#).unwrap();
    assert_eq!(p.namespace, "/admin");
    match p.body {
        Body::Connect { auth: Some(a) } => assert_eq!(a.get(), r#"{"token":"123"}"#),
        other => panic!("{other:?}"),
    }
    let p = decode(r#"0{"token":"123"}"#).unwrap();
    assert_eq!(p.namespace, "/");
    assert!(matches!(p.body, Body::Connect { auth: Some(_) }));
}

#[test]
fn spec_event_examples() {
    let p = decode(r#"2["foo"]"#).unwrap();
    assert_eq!(p.namespace, "/");
    let (name, data) = ev(&p);
    assert_eq!((name.as_ref(), data), ("foo", None));
    let p = decode(r#"2/admin,["bar"]"#).unwrap();
    assert_eq!(p.namespace, "/admin");
    assert_eq!(ev(&p).0, "bar");
    let p = decode(r#"212["foo"]"#).unwrap();
    assert_eq!(p.ack_id, Some(12));
    assert_eq!(ev(&p).0, "foo");
    let p = decode(r#"2/admin,13["bar"]"#).unwrap();
    assert_eq!((p.namespace, p.ack_id), ("/admin", Some(13)));
    let p = decode(r#"2["hello",1]"#).unwrap();
    assert_eq!(ev(&p).1.as_deref(), Some("1"));
}

#[test]
fn spec_ack_and_other_examples() {
    let p = decode(r#"312["bar"]"#).unwrap();
    assert_eq!(p.ack_id, Some(12));
    match p.body {
        Body::Ack { args } => assert_eq!(args.get(), r#"["bar"]"#),
        other => panic!("{other:?}"),
    }
    let p = decode(r#"3/admin,13["bar"]"#).unwrap();
    assert_eq!(
        (p.namespace, p.ack_id, p.kind()),
        ("/admin", Some(13), PacketType::Ack)
    );
    let p = decode("1/admin,").unwrap();
    assert_eq!((p.namespace, p.body), ("/admin", Body::Disconnect));
    let p = decode("1").unwrap();
    assert_eq!((p.namespace, p.body), ("/", Body::Disconnect));
    let p = decode(r#"4{"message":"Not authorized"}"#).unwrap();
    assert_eq!(p.kind(), PacketType::ConnectError);
    let p = decode(r#"4/admin,"nope""#).unwrap();
    match p.body {
        Body::ConnectError { data } => assert_eq!(data.get(), r#""nope""#),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hot_path_user_message() {
    let s = r#"2["userMessage",{"roomId":"r1","messageInput":"hi there"}]"#;
    let p = decode(s).unwrap();
    match &p.body {
        Body::Event {
            name,
            data: EventData::Message(m),
        } => {
            assert!(matches!(name, Cow::Borrowed("userMessage")));
            assert!(m.well_formed);
            assert_eq!(m.room_id, Some(crate::routing::IdRef::Str("r1".into())));
            assert_eq!(m.message_input.map(RawValue::get), Some(r#""hi there""#));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn event_args_beyond_first_are_dropped_but_validated() {
    let p = decode(r#"2["a",{"x":1},2,[3],"four"]"#).unwrap();
    assert_eq!(ev(&p), (Cow::Borrowed("a"), Some(r#"{"x":1}"#.to_string())));
    assert_eq!(err(r#"2["a",1,tru]"#), SioError::BadJson);
    let p = decode(r#"2["a",null]"#).unwrap();
    assert_eq!(ev(&p).1.as_deref(), Some("null"));
}

#[test]
fn whitespace_in_json_is_accepted() {
    let p = decode("2 [ \"a\" , {\"k\" : 1} ] ").unwrap();
    assert_eq!(
        ev(&p),
        (Cow::Borrowed("a"), Some("{\"k\" : 1}".to_string()))
    );
}

#[test]
fn unicode_and_escaped_names() {
    let p = decode(r#"2["héllo😀",{"m":"€"}]"#).unwrap();
    assert_eq!(
        ev(&p),
        (Cow::Borrowed("héllo😀"), Some(r#"{"m":"€"}"#.to_string()))
    );
    let p = decode(r#"2["mu\u0074e"]"#).unwrap();
    match &p.body {
        Body::Event { name, .. } => assert!(matches!(name, Cow::Owned(n) if n == "mute")),
        other => panic!("{other:?}"),
    }
    let p = decode(r#"2["a\"b\\c\ud83d\ude00"]"#).unwrap();
    assert_eq!(ev(&p).0, "a\"b\\c😀");
    let p = decode(r#"2/ñs,["x"]"#).unwrap();
    assert_eq!(p.namespace, "/ñs");
}

#[test]
fn rejects_malformed() {
    use SioError::*;
    let cases: &[(&str, SioError)] = &[
        ("", Empty),
        ("7", UnknownType),
        ("9[\"a\"]", UnknownType),
        ("x", UnknownType),
        ("é", UnknownType),
        ("[\"a\"]", UnknownType),
        ("2", MissingPayload),
        ("3", MissingPayload),
        ("312", MissingPayload),
        ("4", MissingPayload),
        ("2{\"a\":1}", NotArray),
        ("2\"foo\"", NotArray),
        ("21", MissingPayload),
        ("2 1", NotArray),
        ("2[]", BadEventName),
        ("2[1]", BadEventName),
        ("2[null,1]", BadEventName),
        ("2[[\"a\"]]", BadEventName),
        ("2[{\"a\":1}]", BadEventName),
        ("2[\"a\"", BadJson),
        ("2[\"a\"]x", BadJson),
        ("2[\"a\",]", BadJson),
        ("2['a']", BadJson),
        ("2[\"connect\"]", ReservedEventName),
        ("2[\"disconnect\",1]", ReservedEventName),
        ("2[\"removeListener\"]", ReservedEventName),
        ("3{}", NotArray),
        ("3\"x\"", NotArray),
        ("3[", BadJson),
        ("0[]", NotObject),
        ("0\"tok\"", NotObject),
        ("0{", BadJson),
        ("4[]", NotObject),
        ("41", MissingPayload),
        ("1{}", UnexpectedPayload),
        ("1/admin,x", UnexpectedPayload),
        // Binary packets need an `N-` attachment count.
        ("5", BadAttachments),
        ("5[\"a\"]", BadAttachments),
        ("51[\"a\"]", BadAttachments),
        ("599999-[\"a\"]", BadAttachments),
        ("6", BadAttachments),
        ("61-[", BadJson),
        // A namespace without a comma swallows the rest of the packet.
        ("2/admin[\"a\"]", MissingPayload),
        // Ack id overflow (u64::MAX + 1).
        ("218446744073709551616[\"a\"]", AckIdOverflow),
        ("399999999999999999999999[]", AckIdOverflow),
    ];
    for (s, want) in cases {
        assert_eq!(decode(s), Err(*want), "{s:?}");
    }
}

#[test]
fn namespace_without_comma_at_end() {
    let p = decode("0/admin").unwrap();
    assert_eq!(
        (p.namespace, p.body),
        ("/admin", Body::Connect { auth: None })
    );
    let p = decode("1/admin").unwrap();
    assert_eq!((p.namespace, p.body), ("/admin", Body::Disconnect));
}

#[test]
fn ack_id_limits() {
    let p = decode("218446744073709551615[\"a\"]").unwrap();
    assert_eq!(p.ack_id, Some(u64::MAX));
    let p = decode("2007[\"a\"]").unwrap();
    assert_eq!(p.ack_id, Some(7));
    let p = decode("10").unwrap();
    assert_eq!((p.ack_id, p.body), (Some(0), Body::Disconnect));
    let p = decode("0/x,5").unwrap();
    assert_eq!((p.namespace, p.ack_id), ("/x", Some(5)));
}

#[test]
fn encodes_connect_ok_and_error() {
    let mut s = String::new();
    encode_connect_ok(&mut s, "oSO0OpakmV1sBOpYAAAB", None);
    assert_eq!(s, r#"40{"sid":"oSO0OpakmV1sBOpYAAAB"}"#);
    s.clear();
    encode_connect_ok(&mut s, "sid", Some("p1"));
    assert_eq!(s, r#"40{"sid":"sid","pid":"p1"}"#);
    s.clear();
    encode_connect_error(&mut s, "/admin", "Invalid namespace");
    assert_eq!(s, r#"44/admin,{"message":"Invalid namespace"}"#);
    s.clear();
    encode_connect_error(&mut s, "/", "Not \"authorized\"");
    assert_eq!(s, r#"44{"message":"Not \"authorized\""}"#);
}

#[test]
fn encodes_events() {
    let mut v: Vec<u8> = Vec::new();
    encode(&ServerEvent::AvailableAgents { count: 2 }, None, &mut v);
    assert_eq!(
        std::str::from_utf8(&v).unwrap(),
        r#"42["getAvailableAgents",{"availableAgents":2}]"#
    );
    v.clear();
    encode(&ServerEvent::AvailableAgents { count: 2 }, Some(9), &mut v);
    assert_eq!(
        std::str::from_utf8(&v).unwrap(),
        r#"42["getAvailableAgents",{"availableAgents":2},"9"]"#,
        "the offset is the last argument, a string"
    );
    let mut s = String::new();
    begin_event(&mut s, "we\"ird\n€");
    s.push_str("null");
    end_packet(&mut s);
    assert_eq!(s, "42[\"we\\\"ird\\n€\",null]");
    v.clear();
    begin_event(&mut v, "userMessage");
    v.extend_from_slice(br#"{"roomId":"r1","messageInput":"x"}"#);
    end_packet(&mut v);
    assert_eq!(
        std::str::from_utf8(&v).unwrap(),
        r#"42["userMessage",{"roomId":"r1","messageInput":"x"}]"#
    );
}

#[test]
fn encodes_acks() {
    let mut s = String::new();
    encode_ack(&mut s, 12, r#"[{"ok":true}]"#);
    assert_eq!(s, r#"4312[{"ok":true}]"#);
    s.clear();
    begin_ack(&mut s, 0);
    s.push_str(r#"{"ok":false}"#);
    end_packet(&mut s);
    assert_eq!(s, r#"430[{"ok":false}]"#);
}

#[test]
fn message_data_of_any_shape_is_read_with_the_frame() {
    for (frame, well_formed) in [
        (r#"2["agentMessage",{"messageInput":1},"extra"]"#, true),
        (r#"2["agentMessage",[1,2]]"#, false),
        (r#"2["agentMessage",null]"#, false),
        (r#"2["userMessage","text"]"#, false),
    ] {
        match decode(frame).unwrap().body {
            Body::Event {
                data: EventData::Message(m),
                ..
            } => assert_eq!(m.well_formed, well_formed, "{frame}"),
            other => panic!("{frame}: {other:?}"),
        }
    }
    // Valid JSON the one-pass reader cannot hold goes to the router raw.
    assert_eq!(
        ev(&decode(r#"2["userMessage",{"roomId":"\ud800","messageInput":"x"}]"#).unwrap())
            .1
            .as_deref(),
        Some(r#"{"roomId":"\ud800","messageInput":"x"}"#)
    );
    assert_eq!(
        ev(&decode(r#"2["agentMessage",1e400]"#).unwrap())
            .1
            .as_deref(),
        Some("1e400")
    );
    // Without data, or named with escapes, the router gets what the frame had.
    assert_eq!(ev(&decode(r#"2["userMessage"]"#).unwrap()).1, None);
    assert_eq!(
        ev(&decode(r#"2["user\u004dessage",{"a":1}]"#).unwrap())
            .1
            .as_deref(),
        Some(r#"{"a":1}"#)
    );
}

#[test]
fn round_trips_through_decoder() {
    let names = ["a", "mute", "é😀", "q\"uote", "tab\there", "\u{1}"];
    for name in names {
        let mut s = String::new();
        begin_event(&mut s, name);
        s.push_str(r#"{"k":[1,2,{"x":"y"}]}"#);
        end_packet(&mut s);
        let p = decode(&s[1..]).unwrap();
        assert_eq!(ev(&p).0, name);
        assert_eq!(ev(&p).1.as_deref(), Some(r#"{"k":[1,2,{"x":"y"}]}"#));
    }
    let mut s = String::new();
    encode_ack(&mut s, 99, "[1]");
    let p = decode(&s[1..]).unwrap();
    assert_eq!((p.ack_id, p.kind()), (Some(99), PacketType::Ack));
    s.clear();
    encode_connect_error(&mut s, "/admin", "Invalid namespace");
    let p = decode(&s[1..]).unwrap();
    assert_eq!(
        (p.namespace, p.kind()),
        ("/admin", PacketType::ConnectError)
    );
}

#[test]
fn errors_display() {
    assert_eq!(
        SioError::BadAttachments.to_string(),
        "binary packet without a valid attachment count"
    );
}
