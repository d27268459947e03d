//! Unit tests for `event`.
use super::*;

fn data(e: &ServerEvent) -> String {
    let mut v = Vec::new();
    e.write_data(&mut v);
    String::from_utf8(v).unwrap()
}

#[test]
fn names_round_trip() {
    for e in ClientEvent::ALL {
        assert_eq!(ClientEvent::from_name(e.name()), Some(e));
    }
    assert_eq!(ClientEvent::from_name("disconnect"), None);
}

#[test]
fn data_shapes() {
    assert_eq!(
        data(&ServerEvent::Registered {
            role: Role::Agent,
            id: PeerId::Int(7),
            resume_token: None,
            resumed: false,
            capacity: Some(3),
        }),
        r#"{"role":"agent","id":7,"capacity":3}"#
    );
    assert_eq!(
        data(&ServerEvent::Registered {
            role: Role::User,
            id: PeerId::Int(7),
            resume_token: Some("t".into()),
            resumed: true,
            capacity: None,
        }),
        r#"{"role":"user","id":7,"resumeToken":"t","resumed":true}"#
    );
    assert_eq!(
        data(&ServerEvent::PeerDisconnected {
            room: PeerId::Int(1)
        }),
        r#"{"roomId":1}"#
    );
    assert_eq!(data(&ServerEvent::Ack { seq: 4 }), r#"{"seq":4}"#);
    assert_eq!(
        data(&ServerEvent::AvailableAgents { count: 3 }),
        r#"{"availableAgents":3}"#
    );
    assert_eq!(
        data(&ServerEvent::CallEnded {
            room: "r".into(),
            reason: EndReason::Left,
            by: Some(Role::User)
        }),
        r#"{"roomId":"r","reason":"left","by":"user"}"#
    );
    let raw: Box<RawValue> = serde_json::from_str(r#"{"a":[1,2]}"#).unwrap();
    assert_eq!(
        data(&ServerEvent::UserMessage {
            room: "r".into(),
            message: raw,
            attachments: None,
        }),
        r#"{"roomId":"r","messageInput":{"a":[1,2]}}"#
    );
    let raw: Box<RawValue> = serde_json::from_str(r#""hi""#).unwrap();
    assert_eq!(
        data(&ServerEvent::AgentMessage {
            room: PeerId::Int(-7),
            message: raw.clone(),
            attachments: None,
        }),
        r#"{"roomId":-7,"messageInput":"hi"}"#
    );
    assert_eq!(
        data(&ServerEvent::AgentMessage {
            room: "q\"\\\u{1}é".into(),
            message: raw,
            attachments: None,
        }),
        r#"{"roomId":"q\"\\\u0001é","messageInput":"hi"}"#
    );
    assert_eq!(
        data(&ServerEvent::error(
            Rejection::new(ErrorCode::NotInCall, "x"),
            None
        )),
        r#"{"code":"not_in_call","message":"x","event":null}"#
    );
}

#[test]
fn long_event_names_are_cut_on_char_boundary() {
    let name = "é".repeat(100);
    let e = ServerEvent::error(Rejection::new(ErrorCode::UnknownEvent, "x"), Some(&name));
    match e {
        ServerEvent::Error { event: Some(n), .. } => assert!(n.len() <= 64),
        _ => panic!(),
    }
}

#[test]
fn attachments_go_inline_as_base64_for_native_receivers_only() {
    let raw: Box<RawValue> =
        serde_json::from_str(r#"{"file":{"_placeholder":true,"num":0}}"#).unwrap();
    let e = ServerEvent::UserMessage {
        room: "r".into(),
        message: raw,
        attachments: Some(vec![bytes::Bytes::from_static(&[1, 2, 3, 4])].into()),
    };
    assert_eq!(e.attachments().map(|a| a.len()), Some(1));
    // The Socket.IO header keeps only the placeholders; the bytes follow as attachments.
    assert_eq!(
        data(&e),
        r#"{"roomId":"r","messageInput":{"file":{"_placeholder":true,"num":0}}}"#
    );
    let mut inline = Vec::new();
    e.write_data_inline(&mut inline);
    assert_eq!(
        String::from_utf8(inline).unwrap(),
        r#"{"roomId":"r","messageInput":{"file":{"_placeholder":true,"num":0}},"attachments":["AQIDBA=="]}"#
    );
    let plain = ServerEvent::AgentMessage {
        room: "r".into(),
        message: serde_json::from_str("1").unwrap(),
        attachments: Some(Vec::new().into()),
    };
    let mut inline = Vec::new();
    plain.write_data_inline(&mut inline);
    assert_eq!(
        inline,
        data(&plain).into_bytes(),
        "no empty attachments key"
    );
}
