use super::*;

fn read(json: &str) -> MessageData<'_> {
    serde_json::from_str(json).expect("valid JSON never fails to read")
}

#[test]
fn objects_are_read_field_by_field() {
    let m = read(r#"{"roomId":"r1","userId":7,"x":[1,{"y":2}],"messageInput":{"t":"hi"}}"#);
    assert!(m.well_formed);
    assert_eq!(m.room_id, Some(IdRef::Str("r1".into())));
    assert_eq!(m.user_id, Some(IdRef::Int(7)));
    assert_eq!(m.agent_id, None);
    assert_eq!(m.message_input.map(RawValue::get), Some(r#"{"t":"hi"}"#));
}

#[test]
fn null_fields_count_as_absent_and_escaped_keys_are_recognised() {
    let m = read(r#"{"room\u0049d":null,"messageInput":null,"agentId":"a"}"#);
    assert!(m.well_formed);
    assert_eq!(m.room_id, None);
    assert!(m.message_input.is_none());
    assert_eq!(m.agent_id, Some(IdRef::Str("a".into())));
}

#[test]
fn wrong_shapes_are_marked_not_failed() {
    for json in [
        "null",
        "true",
        "12",
        "-1.5",
        r#""text""#,
        r#"[1,[2],{"a":3}]"#,
        r#"{"messageInput":"a","messageInput":"b"}"#,
        r#"{"roomId":"a","roomId":"a","messageInput":"x"}"#,
    ] {
        assert!(!read(json).well_formed, "{json}");
    }
    let bad_id = read(r#"{"roomId":true,"messageInput":"x"}"#);
    assert!(bad_id.well_formed);
    assert_eq!(bad_id.room_id, Some(IdRef::Invalid));
}

#[test]
fn raw_data_is_read_the_same_way() {
    let raw: Box<RawValue> = serde_json::from_str(r#"{"roomId":"r","messageInput":1}"#).unwrap();
    let from_raw = EventData::Raw(Some(&raw)).into_message().unwrap();
    let direct = EventData::Message(read(raw.get()));
    assert!(EventData::Message(from_raw) == direct);
    assert!(EventData::Raw(None).into_message().is_none());
}
