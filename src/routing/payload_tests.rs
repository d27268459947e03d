//! Unit tests for `payload`.
use super::*;

/// `json` read as event data.
fn obj(json: &str) -> Map<String, Value> {
    let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
    object(Some(&raw)).unwrap()
}

#[test]
fn missing_or_null_data_is_an_empty_object() {
    assert!(object(None).unwrap().is_empty());
    assert!(obj("null").is_empty());
    let raw: Box<RawValue> = serde_json::from_str("[1]").unwrap();
    assert_eq!(object(Some(&raw)).unwrap_err().code, ErrorCode::BadPayload);
}

#[test]
fn ids_are_read_or_refused() {
    let o = obj(r#"{"a":"x","b":7,"c":null,"d":"","e":1.5}"#);
    assert_eq!(optional_id(&o, "a"), Ok(Some(PeerId::from("x"))));
    assert_eq!(optional_id(&o, "b"), Ok(Some(PeerId::Int(7))));
    assert_eq!(optional_id(&o, "c"), Ok(None));
    assert_eq!(optional_id(&o, "z"), Ok(None));
    for bad in ["d", "e"] {
        assert_eq!(
            optional_id(&o, bad).unwrap_err().code,
            ErrorCode::BadPayload
        );
    }
    assert_eq!(
        required_id(&o, "c").unwrap_err().code,
        ErrorCode::BadPayload
    );
    assert_eq!(required_id(&o, "a"), Ok(PeerId::from("x")));
}

#[test]
fn self_naming_fields_must_be_ones_own() {
    let o = obj(r#"{"userId":"u"}"#);
    assert_eq!(check_own_id(&o, "userId", &"u".into()), Ok(()));
    assert_eq!(check_own_id(&o, "agentId", &"u".into()), Ok(()), "absent");
    assert_eq!(
        check_own_id(&o, "userId", &"v".into()).unwrap_err().code,
        ErrorCode::Forbidden
    );
}
