//! Unit tests for `http`.
use super::*;

const UPGRADE: &[u8] = b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://a.example\r\n\r\nrest";

#[test]
fn parses_upgrade() {
    let Parsed::Complete(h) = parse_head(UPGRADE) else {
        panic!()
    };
    assert_eq!(h.path(), "/ws");
    assert_eq!(h.target, "/ws?x=1");
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

fn head(raw: &str) -> Head {
    match parse_head(raw.as_bytes()) {
        Parsed::Complete(h) => h,
        other => panic!("{other:?}"),
    }
}

#[test]
fn keep_alive_follows_the_version_and_the_connection_header() {
    assert!(head("GET / HTTP/1.1\r\n\r\n").keep_alive());
    assert!(!head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive());
    assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive());
    assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
}

#[test]
fn body_length_from_content_length_or_chunked() {
    let h = |extra: &str| head(&format!("POST / HTTP/1.1\r\n{extra}\r\n"));
    assert_eq!(
        h("Content-Length: 12\r\n").body_length(),
        BodyLength::Fixed(12)
    );
    assert_eq!(
        h("Content-Length: x\r\n").body_length(),
        BodyLength::Invalid
    );
    assert_eq!(h("").body_length(), BodyLength::Missing);
    assert_eq!(
        h("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n").body_length(),
        BodyLength::Chunked
    );
    assert_eq!(
        h("Transfer-Encoding: gzip, chunked\r\n").body_length(),
        BodyLength::Invalid
    );
}

#[test]
fn chunked_bodies_decode_across_reads_and_stop_at_the_end() {
    let raw = b"4\r\n4hel\r\n3;ext=1\r\nlo!\r\n0\r\n\r\nGET / HTTP/1.1";
    let mut c = Chunked::default();
    for cut in [1, 5, 9, 12, 20, 26] {
        assert_eq!(c.feed(&raw[..cut], 100), ChunkStatus::Partial, "cut {cut}");
    }
    assert_eq!(c.feed(raw, 100), ChunkStatus::Complete(raw.len() - 14));
    assert_eq!(c.body, b"4hello!");
    let mut t = Chunked::default();
    assert_eq!(
        t.feed(b"1\r\na\r\n0\r\nX-Trailer: 1\r\n\r\n", 100),
        ChunkStatus::Complete(25)
    );
    assert_eq!(t.body, b"a");
}

#[test]
fn chunked_bodies_are_bounded_and_checked() {
    assert_eq!(
        Chunked::default().feed(b"ffffffff\r\n", 1000),
        ChunkStatus::TooLarge
    );
    let mut c = Chunked::default();
    assert_eq!(
        c.feed(b"3\r\nabc\r\n3\r\ndef\r\n", 5),
        ChunkStatus::TooLarge
    );
    assert_eq!(Chunked::default().feed(b"zz\r\n", 10), ChunkStatus::Invalid);
    assert_eq!(
        Chunked::default().feed(b"2\r\nabc\r\n", 10),
        ChunkStatus::Invalid
    );
}

#[test]
fn chunk_framing_cannot_cost_more_than_the_body() {
    // An extension line past 256 bytes is refused.
    let long = format!("1;{}\r\nx\r\n", "e".repeat(300));
    assert_eq!(
        Chunked::default().feed(long.as_bytes(), 1000),
        ChunkStatus::Invalid
    );
    // One-byte chunks: decoded and dropped as they come, until the raw bytes of the body
    // pass twice the limit plus the margin.
    let mut c = Chunked::default();
    let piece = b"1;ext\r\nx\r\n";
    let mut status = ChunkStatus::Partial;
    for _ in 0..20_000 {
        status = c.feed(piece, 1000);
        if status != ChunkStatus::Partial {
            break;
        }
        assert_eq!(c.consumed(), piece.len());
    }
    assert_eq!(status, ChunkStatus::TooLarge);
    assert!(c.body.len() <= 1000);
}

#[test]
fn content_length_is_strict_and_both_framings_close() {
    let h = |extra: &str| head(&format!("POST / HTTP/1.1\r\n{extra}\r\n"));
    assert_eq!(
        h("Content-Length: +5\r\n").body_length(),
        BodyLength::Invalid
    );
    assert_eq!(
        h("Content-Length: 5\r\nContent-Length: 6\r\n").body_length(),
        BodyLength::Invalid
    );
    assert_eq!(
        h("Content-Length: 5\r\nContent-Length: 5\r\n").body_length(),
        BodyLength::Fixed(5)
    );
    assert_eq!(
        h("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n").body_length(),
        BodyLength::Invalid
    );
    let both = h("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n");
    assert_eq!(both.body_length(), BodyLength::Chunked);
    assert!(
        !both.keep_alive(),
        "a request with both framings is answered, then closed"
    );
    let old = head("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(old.body_length(), BodyLength::Invalid);
}
