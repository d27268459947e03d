//! Engine.IO packets and polling payloads (text and base64 binary), and Socket.IO packets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supportd::protocol::{engineio, socketio};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = engineio::decode_packet(text);
    let _ = engineio::decode_binary(text);
    for p in engineio::payload_packets(text) {
        let _ = p;
    }
    let _ = socketio::decode(text);
    let _ = engineio::parse_query(text);
});
