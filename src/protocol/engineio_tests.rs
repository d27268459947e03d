//! Unit tests for `engineio`.
use super::*;

fn p(kind: PacketType, data: &str) -> Packet<'_> {
    Packet { kind, data }
}

/// Every record of a polling payload, decoded one by one (as the transport reads them).
fn payload(s: &str) -> Vec<Result<Packet<'_>, EioError>> {
    payload_packets(s).collect()
}

#[test]
fn decodes_spec_packets() {
    assert_eq!(
        decode_packet("4hello").unwrap(),
        p(PacketType::Message, "hello")
    );
    assert_eq!(decode_packet("2").unwrap(), p(PacketType::Ping, ""));
    assert_eq!(decode_packet("3").unwrap(), p(PacketType::Pong, ""));
    assert_eq!(
        decode_packet("2probe").unwrap(),
        p(PacketType::Ping, "probe")
    );
    assert_eq!(
        decode_packet("3probe").unwrap(),
        p(PacketType::Pong, "probe")
    );
    assert_eq!(decode_packet("5").unwrap(), p(PacketType::Upgrade, ""));
    assert_eq!(decode_packet("6").unwrap(), p(PacketType::Noop, ""));
    assert_eq!(decode_packet("1").unwrap(), p(PacketType::Close, ""));
    let open = decode_packet(r#"0{"sid":"x"}"#).unwrap();
    assert_eq!(open, p(PacketType::Open, r#"{"sid":"x"}"#));
}

#[test]
fn decodes_unicode_message() {
    let d = decode_packet("4€ héllo 😀").unwrap();
    assert_eq!(d, p(PacketType::Message, "€ héllo 😀"));
}

#[test]
fn rejects_bad_packets() {
    assert_eq!(decode_packet(""), Err(EioError::Empty));
    assert_eq!(decode_packet("7"), Err(EioError::UnknownType));
    assert_eq!(decode_packet("9x"), Err(EioError::UnknownType));
    assert_eq!(decode_packet("x"), Err(EioError::UnknownType));
    assert_eq!(decode_packet("é"), Err(EioError::UnknownType));
    assert_eq!(decode_packet("bAQIDBA=="), Err(EioError::Binary));
    assert_eq!(decode_packet("b"), Err(EioError::Binary));
}

#[test]
fn decodes_spec_payload() {
    // engine.io-protocol v4: "4hello\x1e4€\x1e2" and with a binary record.
    assert_eq!(
        payload("4hello\x1e4€\x1e2"),
        vec![
            Ok(p(PacketType::Message, "hello")),
            Ok(p(PacketType::Message, "€")),
            Ok(p(PacketType::Ping, ""))
        ]
    );
    let mut it = payload_packets("4€\x1ebAQIDBA==");
    assert_eq!(it.next(), Some(Ok(p(PacketType::Message, "€"))));
    assert_eq!(it.next(), Some(Err(EioError::Binary)));
    assert_eq!(it.next(), None);
}

#[test]
fn binary_packets_round_trip_through_base64() {
    // engine.io-protocol v4: the binary packet [1, 2, 3, 4] over polling is "bAQIDBA==".
    assert_eq!(decode_binary("bAQIDBA=="), Ok(vec![1, 2, 3, 4]));
    assert_eq!(decode_binary("b"), Ok(vec![]));
    assert_eq!(decode_binary("b%%%"), Err(EioError::BadBase64));
    assert_eq!(decode_binary("4AQID"), Err(EioError::UnknownType));
    let mut out = String::new();
    encode_binary(&mut out, &[1, 2, 3, 4]);
    assert_eq!(out, "bAQIDBA==");
}

#[test]
fn payload_edge_cases() {
    let a = Ok(p(PacketType::Message, "a"));
    assert_eq!(payload(""), vec![Err(EioError::Empty)]);
    assert_eq!(payload("4a\x1e"), vec![a, Err(EioError::Empty)]);
    assert_eq!(payload("\x1e4a"), vec![Err(EioError::Empty), a]);
    assert_eq!(payload("4a\x1e8"), vec![a, Err(EioError::UnknownType)]);
    assert_eq!(payload("1"), vec![Ok(p(PacketType::Close, ""))]);
}

#[test]
fn encodes_payload_round_trip() {
    // As the polling queue is built: packets appended, a separator before all but the first.
    fn queue<S: Sink + Default>(packets: &[Packet<'_>]) -> S {
        let mut out = S::default();
        for (i, pk) in packets.iter().enumerate() {
            if i > 0 {
                encode_separator(&mut out);
            }
            encode_packet(&mut out, pk.kind, pk.data);
        }
        out
    }
    let packets = [
        p(PacketType::Message, "hello"),
        p(PacketType::Message, "€"),
        p(PacketType::Ping, ""),
    ];
    let s: String = queue(&packets);
    assert_eq!(s, "4hello\x1e4€\x1e2");
    assert_eq!(payload(&s), packets.map(Ok).to_vec());
    let v: Vec<u8> = queue(&packets);
    assert_eq!(v, s.as_bytes());
    let one: String = queue(&[p(PacketType::Noop, "")]);
    assert_eq!(one, "6");
    let none: String = queue(&[]);
    assert_eq!(none, "");
}

#[test]
fn encodes_simple_packets() {
    let mut s = String::new();
    encode_ping(&mut s);
    encode_separator(&mut s);
    encode_pong(&mut s, "");
    encode_separator(&mut s);
    encode_pong_probe(&mut s);
    encode_separator(&mut s);
    encode_noop(&mut s);
    encode_separator(&mut s);
    encode_packet(&mut s, PacketType::Message, r#"2["a",1]"#);
    encode_separator(&mut s);
    encode_close(&mut s);
    encode_separator(&mut s);
    encode_packet(&mut s, PacketType::Upgrade, "");
    assert_eq!(s, "2\x1e3\x1e3probe\x1e6\x1e42[\"a\",1]\x1e1\x1e5");
}

#[test]
fn encodes_open_like_reference() {
    let mut s = String::new();
    encode_open(
        &mut s,
        &OpenInfo {
            sid: "lv_VI97HAXpY6yYWAAAC",
            upgrades: &["websocket"],
            ping_interval_ms: 25000,
            ping_timeout_ms: 20000,
            max_payload: 1_000_000,
        },
    );
    assert_eq!(
        s,
        r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
    );
    let v: serde_json::Value = serde_json::from_str(&s[1..]).unwrap();
    assert_eq!(v["maxPayload"], 1_000_000);
    let mut e = Vec::new();
    encode_open(
        &mut e,
        &OpenInfo {
            sid: "a\"b",
            upgrades: &[],
            ping_interval_ms: 0,
            ping_timeout_ms: u64::MAX,
            max_payload: 7,
        },
    );
    assert_eq!(
        std::str::from_utf8(&e).unwrap(),
        r#"0{"sid":"a\"b","upgrades":[],"pingInterval":0,"pingTimeout":18446744073709551615,"maxPayload":7}"#
    );
}

#[test]
fn json_strings_match_serde() {
    let cases = [
        "",
        "plain",
        "quote\"back\\slash",
        "ctl\u{0}\u{1}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f}\u{7f}",
        "unicode € 😀 \u{2028}",
        "</script>",
    ];
    for c in cases {
        let mut s = String::new();
        write_json_str(&mut s, c);
        assert_eq!(s, serde_json::to_string(c).unwrap(), "{c:?}");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, c);
    }
}

#[test]
fn writes_numbers() {
    for n in [0u64, 1, 9, 10, 99, 100, 12345, u64::MAX] {
        let mut s = String::new();
        write_u64(&mut s, n);
        assert_eq!(s, n.to_string());
    }
}

#[test]
fn parses_handshake_query() {
    let q = parse_query("/socket.io/?EIO=4&transport=polling&t=N8hyd6w").unwrap();
    assert_eq!(q.transport, Transport::Polling);
    assert_eq!(q.sid, None);
    let q = parse_query("/socket.io/?EIO=4&transport=websocket").unwrap();
    assert_eq!(q.transport, Transport::Websocket);
    let q = parse_query("/socket.io/?EIO=4&transport=polling&sid=abc&t=N8hyd6w").unwrap();
    assert_eq!(q.sid.as_deref(), Some("abc"));
    assert!(matches!(q.sid, Some(Cow::Borrowed(_))));
    let q = parse_query("/socket.io/?sid=ab%2Fc%3D+d&transport=websocket&EIO=4").unwrap();
    assert_eq!(q.sid.as_deref(), Some("ab/c= d"));
    let q = parse_query("/socket.io/?EIO=4&transport=polling&sid=").unwrap();
    assert_eq!(q.sid, None);
    let q = parse_query("?EIO=4&transport=pol%6cing&x&=y").unwrap();
    assert_eq!(q.transport, Transport::Polling);
    let q = parse_query("/?EIO=4&transport=polling&transport=bogus").unwrap();
    assert_eq!(q.transport, Transport::Polling);
}

#[test]
fn query_errors_in_reference_order() {
    use ErrorCode::*;
    let cases = [
        ("/socket.io/", UnknownTransport),
        ("/socket.io/?EIO=4", UnknownTransport),
        ("/socket.io/?EIO=4&transport=flash", UnknownTransport),
        ("/socket.io/?EIO=4&transport=webtransport", UnknownTransport),
        ("/socket.io/?EIO=4&transport=Polling", UnknownTransport),
        ("/socket.io/?EIO=3&transport=flash", UnknownTransport),
        ("/socket.io/?transport=polling", UnsupportedProtocolVersion),
        (
            "/socket.io/?EIO=3&transport=polling",
            UnsupportedProtocolVersion,
        ),
        (
            "/socket.io/?EIO=5&transport=websocket",
            UnsupportedProtocolVersion,
        ),
        (
            "/socket.io/?EIO=&transport=websocket",
            UnsupportedProtocolVersion,
        ),
        ("/socket.io/?EIO=4&transport=polling&sid=%zz", BadRequest),
        ("/socket.io/?EIO=4&transport=polling&sid=%4", BadRequest),
        ("/socket.io/?EIO=4&transport=polling&sid=%ff", BadRequest),
    ];
    for (target, want) in cases {
        assert_eq!(parse_query(target), Err(want), "{target}");
    }
}

#[test]
fn error_responses_match_engine_io() {
    use ErrorCode::*;
    for (code, n, status, msg) in [
        (UnknownTransport, 0, 400, "Transport unknown"),
        (UnknownSid, 1, 400, "Session ID unknown"),
        (BadHandshakeMethod, 2, 400, "Bad handshake method"),
        (BadRequest, 3, 400, "Bad request"),
        (Forbidden, 4, 403, "Forbidden"),
        (
            UnsupportedProtocolVersion,
            5,
            400,
            "Unsupported protocol version",
        ),
    ] {
        let (st, body) = error_response(code);
        assert_eq!(st, status);
        assert_eq!(code.code(), n);
        assert_eq!(code.to_string(), msg);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v, serde_json::json!({"code": n, "message": msg}));
    }
}

#[test]
fn percent_decoding() {
    assert!(matches!(percent_decode("abc"), Ok(Cow::Borrowed("abc"))));
    assert_eq!(percent_decode("%E2%82%AC").unwrap(), "€");
    assert_eq!(percent_decode("a+b").unwrap(), "a b");
    assert_eq!(percent_decode("%"), Err(ErrorCode::BadRequest));
    assert_eq!(percent_decode("%C3"), Err(ErrorCode::BadRequest));
}

#[test]
fn splits_targets() {
    assert_eq!(split_target("/socket.io/?EIO=4"), ("/socket.io/", "EIO=4"));
    assert_eq!(split_target("/socket.io/"), ("/socket.io/", ""));
    assert_eq!(split_target("/a?b?c"), ("/a", "b?c"));
}

#[test]
fn packet_type_digits() {
    for b in b'0'..=b'6' {
        assert_eq!(PacketType::from_byte(b).unwrap().digit(), b);
    }
    assert_eq!(PacketType::from_byte(b'7'), None);
}
