//! The Engine.IO/Socket.IO session state machine on a client's packets, binary attachments
//! included: each input line is a text packet, a line starting with `\x00` a binary one.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use supportd::session::{EioSession, SessionConfig, Transport, Via};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let config = SessionConfig {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(45),
        max_payload_bytes: 100_000,
        max_queued_bytes: 1 << 20,
        max_binary_bytes: 50_000,
    };
    let mut s = EioSession::new(
        now,
        "sid".into(),
        "sio".into(),
        Transport::WebSocket,
        config,
    );
    s.set_pid("pid".into());
    for line in data.split(|b| *b == b'\n') {
        match line.split_first() {
            Some((0, rest)) => {
                let _ = s.handle_binary(now, Via::Carrier, rest.to_vec());
            }
            _ => {
                if let Ok(text) = std::str::from_utf8(line) {
                    let _ = s.handle_packet(now, Via::Carrier, text);
                }
            }
        }
        while s.poll_output().is_some() {}
    }
});
