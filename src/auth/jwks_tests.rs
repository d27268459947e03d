//! Unit tests for `jwks`: which key sets are read, and how each key pins its algorithm.
use super::*;
use serde_json::{json, Value};

const JWKS: &str = include_str!("../../tests/fixtures/auth/jwks.json");

fn fixture(kid: &str) -> Value {
    let set: Value = serde_json::from_str(JWKS).unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .clone()
}

fn set(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn with(mut key: Value, field: &str, value: Value) -> Value {
    key[field] = value;
    key
}

fn without(mut key: Value, field: &str) -> Value {
    key.as_object_mut().unwrap().remove(field);
    key
}

fn algs(text: &str) -> Vec<(Option<String>, Algorithm)> {
    parse(text)
        .unwrap()
        .into_iter()
        .map(|k| (k.kid.clone(), k.alg()))
        .collect()
}

#[test]
fn the_fixture_set_is_read_with_each_keys_algorithm() {
    assert_eq!(
        algs(JWKS),
        vec![
            (Some("ed-1".into()), Algorithm::EdDSA),
            (Some("ed-2".into()), Algorithm::EdDSA),
            (Some("rsa-1".into()), Algorithm::RS256),
            (Some("oct-1".into()), Algorithm::HS256),
        ]
    );
}

#[test]
fn without_alg_each_kind_has_its_default() {
    let keys = [
        without(fixture("ed-1"), "alg"),
        without(fixture("rsa-1"), "alg"),
        without(fixture("oct-1"), "alg"),
    ];
    let got: Vec<Algorithm> = algs(&set(&keys)).into_iter().map(|(_, a)| a).collect();
    assert_eq!(got, [Algorithm::EdDSA, Algorithm::RS256, Algorithm::HS256]);
    for (alg, want) in [("RS384", Algorithm::RS384), ("RS512", Algorithm::RS512)] {
        let key = with(fixture("rsa-1"), "alg", json!(alg));
        assert_eq!(algs(&set(&[key])), [(Some("rsa-1".into()), want)]);
    }
}

#[test]
fn a_key_claiming_another_algorithm_is_refused() {
    for key in [
        with(fixture("rsa-1"), "alg", json!("HS256")),
        with(fixture("rsa-1"), "alg", json!("PS256")),
        with(fixture("rsa-1"), "alg", json!("none")),
        with(fixture("ed-1"), "alg", json!("HS256")),
        with(fixture("oct-1"), "alg", json!("HS512")),
        with(fixture("oct-1"), "alg", json!("RS256")),
    ] {
        let e = parse(&set(&[key])).unwrap_err();
        assert!(e.contains("\"alg\" must be"), "{e}");
    }
}

#[test]
fn unsupported_or_broken_keys_are_refused() {
    let ec = json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"});
    let cases = [
        (ec, "not supported"),
        (without(fixture("ed-1"), "kty"), "no \"kty\""),
        (with(fixture("ed-1"), "crv", json!("X25519")), "Ed25519"),
        (without(fixture("ed-1"), "x"), "no \"x\""),
        (with(fixture("ed-1"), "x", json!("AAAA")), "32-byte"),
        (
            with(fixture("ed-1"), "x", json!("not base64!")),
            "base64url",
        ),
        (without(fixture("rsa-1"), "n"), "no \"n\""),
        (with(fixture("rsa-1"), "n", json!("AQAB")), "17 bits"),
        (with(fixture("rsa-1"), "e", json!("")), "exponent"),
        (with(fixture("rsa-1"), "e", json!("AQ")), "exponent"),
        (with(fixture("rsa-1"), "e", json!("AQAA")), "exponent"),
        (with(fixture("rsa-1"), "e", json!("AgAAAAE")), "exponent"),
        (
            with(fixture("rsa-1"), "n", json!(B64URL.encode([0xffu8; 1025]))),
            "2048 to 8192",
        ),
        (with(fixture("oct-1"), "k", json!("c2hvcnQ")), "at least 32"),
        (without(fixture("oct-1"), "k"), "no \"k\""),
    ];
    for (key, want) in cases {
        let e = parse(&set(std::slice::from_ref(&key))).unwrap_err();
        assert!(e.contains(want), "{key}: {e}");
    }
}

#[test]
fn an_invalid_ed25519_point_is_refused() {
    // y = 2 does not decode to a point on the curve.
    let mut x = [0u8; 32];
    x[0] = 2;
    let key = with(fixture("ed-1"), "x", json!(B64URL.encode(x)));
    let e = parse(&set(&[key])).unwrap_err();
    assert!(e.contains("not a valid Ed25519"), "{e}");
}

#[test]
fn several_keys_need_distinct_kids() {
    let e = parse(&set(&[fixture("ed-1"), without(fixture("ed-2"), "kid")])).unwrap_err();
    assert!(e.contains("key #2") && e.contains("kid"), "{e}");
    let e = parse(&set(&[
        fixture("ed-1"),
        with(fixture("ed-2"), "kid", json!("ed-1")),
    ]))
    .unwrap_err();
    assert!(e.contains("used twice"), "{e}");
    // One key alone needs none.
    assert_eq!(
        algs(&set(&[without(fixture("ed-1"), "kid")])),
        [(None, Algorithm::EdDSA)]
    );
}

#[test]
fn encryption_keys_are_skipped_and_an_empty_set_refused() {
    let enc = with(without(fixture("rsa-1"), "kid"), "use", json!("enc"));
    assert_eq!(algs(&set(&[enc.clone(), fixture("ed-1")])).len(), 1);
    assert!(parse(&set(&[enc]))
        .unwrap_err()
        .contains("no signature key"));
    assert!(parse(&set(&[])).unwrap_err().contains("no signature key"));
}

#[test]
fn a_document_that_is_not_a_key_set_is_refused() {
    for text in [
        "",
        "[]",
        "{\"keys\": 1}",
        "{\"keys\": [",
        "{\"key\": []}",
        "not json",
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.starts_with("not a JSON Web Key Set"), "{text}: {e}");
    }
}

#[test]
fn padded_base64url_is_accepted() {
    let key = fixture("ed-1");
    let x = format!("{}=", key["x"].as_str().unwrap());
    assert_eq!(algs(&set(&[with(key, "x", json!(x))])).len(), 1);
}

#[test]
fn errors_never_quote_key_material() {
    let oct = with(fixture("oct-1"), "k", json!("c2hvcnQtc2VjcmV0"));
    let e = parse(&set(&[oct])).unwrap_err();
    assert!(!e.contains("c2hvcnQtc2VjcmV0"), "{e}");
    let e = parse("{\"keys\": [{\"kty\": \"oct\", \"k\": 12345678}]}").unwrap_err();
    assert!(!e.contains("12345678"), "{e}");
}
