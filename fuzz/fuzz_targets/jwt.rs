//! Token verification on arbitrary tokens (jsonwebtoken parses them; supportd's checks run
//! on what verifies): never a panic, never an accepted token not signed with the key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use supportd::auth::{Keys, Role};
use supportd::config::AuthSettings;

fuzz_target!(|data: &[u8]| {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let path = std::env::temp_dir().join("supportd-fuzz-agent.secret");
        std::fs::write(&path, b"a-fuzzing-secret-of-more-than-32-bytes-long").unwrap();
        let settings = AuthSettings {
            agent_secret_file: Some(path),
            ..AuthSettings::default()
        };
        Keys::load(&settings).unwrap()
    });
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = keys.verify(Role::Agent, token, 1_700_000_000);
    let _ = supportd::auth::bearer(token);
});
