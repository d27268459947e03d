//! HTTP request heads and chunked bodies, as the loop reads them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supportd::net::http;

fuzz_target!(|data: &[u8]| {
    if let http::Parsed::Complete(head) = http::parse_head(data) {
        let used = head.len;
        let _ = head.path();
        let _ = head.keep_alive();
        let _ = head.body_length();
        let _ = head.websocket_key();
        let _ = head.header("x-forwarded-for");
        let body = &data[used.min(data.len())..];
        let mut chunked = http::Chunked::default();
        let _ = chunked.feed(body, 1 << 16);
        let _ = chunked.consumed();
    }
});
