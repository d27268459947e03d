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

/// `n` arrays, one inside the next.
fn nested(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn nesting_is_measured_outside_strings() {
    for (json, depth) in [
        ("1", 0),
        (r#""[[[[""#, 0),
        ("[]", 1),
        (r#"{"a":[1,{"b":[]}]}"#, 4),
        (r#"[[],[],[[]]]"#, 3),
        (r#"{"k":"]]]]\"[[[[[","v":[{"w":"\\"}]}"#, 3),
        ("  [[ ]]", 2),
    ] {
        assert!(!nested_deeper_than(json, depth), "{json} at {depth}");
        assert!(
            depth == 0 || nested_deeper_than(json, depth - 1),
            "{json} deeper than {}",
            depth - 1
        );
    }
    assert!(!nested_deeper_than(&nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH));
    assert!(nested_deeper_than(
        &nested(MAX_JSON_DEPTH + 1),
        MAX_JSON_DEPTH
    ));
    assert!(nested_deeper_than(&nested(30_000), MAX_JSON_DEPTH));
    // Truncated or odd text (never handed over, as it is not valid JSON) does not panic.
    for odd in ["", "[", "\"", "[\"\\", "]]]]", "{\"a\\"] {
        nested_deeper_than(odd, 1);
    }
}

#[test]
fn data_up_to_the_limit_is_read_and_deeper_is_refused_naming_it() {
    let at_limit = format!(r#"{{"a":{}}}"#, nested(MAX_JSON_DEPTH - 1));
    let raw: Box<RawValue> = serde_json::from_str(&at_limit).unwrap();
    assert!(object(Some(&raw)).is_ok());
    let over = format!(r#"{{"a":{}}}"#, nested(MAX_JSON_DEPTH));
    let raw = RawValue::from_string(over).unwrap();
    let e = object(Some(&raw)).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadPayload);
    assert!(e.message.contains("128"), "{}", e.message);
    // Far deeper (as a 30,000-level attack) costs a scan and no recursion.
    let raw = RawValue::from_string(format!(r#"{{"a":{}}}"#, nested(30_000))).unwrap();
    assert_eq!(object(Some(&raw)).unwrap_err().code, ErrorCode::BadPayload);
}
