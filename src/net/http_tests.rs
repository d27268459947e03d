//! Unit tests for `http`.
use super::*;

const UPGRADE: &[u8] = b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://a.example\r\n\r\nrest";

#[test]
fn parses_upgrade() {
    let Parsed::Complete(h) = parse_head(UPGRADE) else {
        panic!()
    };
    assert_eq!(h.path(), "/ws");
    assert_eq!(h.query(), "x=1");
    assert_eq!(h.header("ORIGIN"), Some("http://a.example"));
    assert_eq!(h.websocket_key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(&UPGRADE[h.len..], b"rest");
}

#[test]
fn rfc_accept_key() {
    let r = String::from_utf8(switching_protocols("dGhlIHNhbXBsZSBub25jZQ==")).unwrap();
    assert!(r.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
}

#[test]
fn partial_and_invalid() {
    assert!(matches!(parse_head(b"GET / HT"), Parsed::Partial));
    assert!(matches!(
        parse_head(b"\x00\x01 nonsense\r\n\r\n"),
        Parsed::Invalid
    ));
    let huge = vec![b'a'; MAX_HEAD_BYTES + 1];
    assert!(matches!(parse_head(&huge), Parsed::Invalid));
}

#[test]
fn plain_get_is_not_an_upgrade() {
    let Parsed::Complete(h) = parse_head(b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n") else {
        panic!()
    };
    assert_eq!(h.websocket_key(), None);
}
