//! Unit tests for `ids`.
use super::*;

fn id(json: &str) -> IdRef<'_> {
    serde_json::from_str(json).unwrap()
}

#[test]
fn id_refs_compare_as_json_values() {
    assert!(id("\"r1\"").is(&PeerId::from("r1")));
    assert!(id("\"\\u00721\"").is(&PeerId::from("r1")), "escapes decode");
    assert!(id("7").is(&PeerId::Int(7)));
    assert!(!id("\"7\"").is(&PeerId::Int(7)));
    assert!(!id("7").is(&PeerId::from("7")));
}

#[test]
fn invalid_ids_are_marked() {
    for bad in [
        "\"\"",
        "1.5",
        "true",
        "[1]",
        "{\"a\":1}",
        "18446744073709551615",
    ] {
        assert_eq!(id(bad), IdRef::Invalid, "{bad}");
    }
    let long = format!("\"{}\"", "x".repeat(MAX_ID_BYTES + 1));
    assert_eq!(id(&long), IdRef::Invalid);
}
