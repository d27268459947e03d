//! The native envelope and message data (the one-pass decoder), then the router on what
//! decoded: no input may panic, and the router's invariants must hold after it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use supportd::protocol::native;
use supportd::routing::{ClientEvent, ConnId, Role, Router};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = Instant::now();
    let mut router = Router::new();
    let reg = serde_json::value::RawValue::from_string(r#"{"id":"u"}"#.into()).unwrap();
    let _ = router.handle_register(now, ConnId(1), Role::User, Some(&reg), "t");
    // Each line is one frame from the same registered connection.
    for frame in text.split('\n') {
        if let Ok(env) = native::decode(frame) {
            if let Some(event) = ClientEvent::from_name(&env.event) {
                let _ = router.handle_event(now, ConnId(1), event, env.data);
            }
        }
    }
    while router.poll_output().is_some() {}
    router.check_invariants().unwrap();
});
