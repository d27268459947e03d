//! Calls with audio and video, end to end on loopback over both protocols: the call settings
//! in `callAgent` (`iceServers` with coturn REST credentials, `polite`), two browsers' worth
//! of WebRTC signalling (tests/fixtures/webrtc_exchange.json: a Chrome-style offer with its
//! candidates, the answer, trickled candidates) relayed intact and in order, the size limit,
//! and the mute state a resumed party is told.
mod common;
use common::sio::Sio;
use common::{Client, Daemon};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// A STUN server and a TURN server with time-limited credentials (secret "north", 1 hour).
const CALLS: &str = "[calls]\nice_servers = [\n\
    { urls = \"stun:stun.example.com:3478\" },\n\
    { urls = [\"turn:turn.example.com:3478\", \"turns:turn.example.com:5349\"], shared_secret = \"north\", ttl_secs = 3600 },\n\
    ]\n";

/// The fixture's steps: (sent by the agent?, data).
fn exchange() -> Vec<(bool, Value)> {
    let text = std::fs::read_to_string("tests/fixtures/webrtc_exchange.json").unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let steps: Vec<(bool, Value)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["from"] == "agent", s["data"].clone()))
        .collect();
    // A real exchange: an offer of several KB with its candidates, then the answer.
    let offer = serde_json::to_string(&steps[0].1).unwrap();
    assert!(
        (4_000..=13_000).contains(&offer.len()) && offer.contains("typ relay"),
        "{}",
        offer.len()
    );
    assert_eq!(steps[1].1["type"], "answer");
    steps
}

/// Checks the `iceServers` and `polite` one side of the call received, for party `id`.
fn check_settings(call: &Value, id: &str, agent: bool) {
    assert_eq!(call["polite"], json!(agent), "{call}");
    let servers = call["iceServers"].as_array().expect("iceServers");
    assert_eq!(servers.len(), 2, "{call}");
    assert_eq!(servers[0], json!({"urls": ["stun:stun.example.com:3478"]}));
    let turn = &servers[1];
    assert_eq!(
        turn["urls"],
        json!(["turn:turn.example.com:3478", "turns:turn.example.com:5349"])
    );
    let username = turn["username"].as_str().unwrap();
    let (expiry, who) = username.split_once(':').unwrap();
    assert_eq!(who, id);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 3600 - 30..=now + 3600 + 5).contains(&expiry),
        "{expiry} vs {now}"
    );
    // The credential the TURN server computes (its vector is checked in the config tests).
    assert_eq!(
        turn["credential"],
        json!(supportd::config::turn_rest_credential("north", username))
    );
    assert_eq!(turn.as_object().unwrap().len(), 3, "{turn}");
}

#[test]
fn native_parties_get_the_call_settings_and_relay_a_real_exchange_intact() {
    let d = Daemon::start(CALLS);
    let mut a = Client::agent(&d, json!("a1"));
    let mut u = Client::user(&d, json!("u1"));
    // The user's own settings never reach anyone.
    u.send(
        "callAgent",
        json!({"roomId": "r", "iceServers": [{"urls": "turn:evil.example"}], "polite": true}),
    );
    check_settings(&a.expect("callAgent"), "a1", true);
    check_settings(&u.expect("callAgent"), "u1", false);

    let steps = exchange();
    // Both sides send everything at once, as browsers do: each side's order must hold.
    for (from_agent, data) in &steps {
        let c = if *from_agent { &mut a } else { &mut u };
        c.send("signal", json!({"roomId": "r", "data": data}));
    }
    for (from_agent, data) in &steps {
        let to = if *from_agent { &mut u } else { &mut a };
        assert_eq!(to.expect("signal"), json!({"roomId": "r", "data": data}));
    }

    // Over the limit (32768 bytes of data): refused, not relayed; the call goes on.
    let big = json!({"type": "offer", "sdp": "a=x\r\n".repeat(7000)});
    u.send("signal", json!({"roomId": "r", "data": big}));
    let e = u.expect_error("too_large");
    assert_eq!(e["event"], "signal");
    a.expect_quiet(200);
    u.send("signal", json!({"data": {"type": "rollback"}}));
    assert_eq!(
        a.expect("signal"),
        json!({"roomId": "r", "data": {"type": "rollback"}})
    );
    // Not in a call.
    let mut lone = Client::user(&d, json!("u2"));
    lone.send("signal", json!({"data": {"type": "offer"}}));
    lone.expect_error("not_in_call");
}

#[test]
fn socketio_parties_get_the_call_settings_and_relay_a_real_exchange_intact() {
    let d = Daemon::start(CALLS);
    let mut a = Sio::connect(&d);
    a.emit("connectAgent", json!({"id": "a1"}));
    a.expect("registered");
    let mut u = Sio::connect(&d);
    u.emit("connectUser", json!({"id": "u1"}));
    u.expect("registered");
    u.emit("callAgent", json!({"roomId": "r", "polite": true}));
    check_settings(&a.expect("callAgent"), "a1", true);
    check_settings(&u.expect("callAgent"), "u1", false);

    let steps = exchange();
    for (from_agent, data) in &steps {
        let c = if *from_agent { &mut a } else { &mut u };
        c.emit("signal", json!({"roomId": "r", "data": data}));
    }
    for (from_agent, data) in &steps {
        let to = if *from_agent { &mut u } else { &mut a };
        assert_eq!(to.expect("signal"), json!({"roomId": "r", "data": data}));
    }

    let big = json!({"type": "offer", "sdp": "a=x\r\n".repeat(7000)});
    a.emit("signal", json!({"data": big}));
    let e = a.expect("error");
    assert_eq!(
        (&e["code"], &e["event"]),
        (&json!("too_large"), &json!("signal"))
    );
    a.emit("mute", json!({"muted": true, "kind": "video"}));
    assert_eq!(
        u.expect("mute"),
        json!({"roomId": "r", "muted": true, "kind": "video"})
    );
}

#[test]
fn without_ice_servers_call_agent_carries_polite_only() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a1"));
    let mut u = Client::user(&d, json!("u1"));
    u.send(
        "callAgent",
        json!({"roomId": "r", "iceServers": [{"urls": "turn:evil.example"}]}),
    );
    let want = json!({"userId": "u1", "roomId": "r", "agentId": "a1"});
    assert_eq!(a.expect("callAgent"), common::polite(&want, true));
    assert_eq!(u.expect("callAgent"), common::polite(&want, false));
}

#[test]
fn a_resumed_user_is_told_the_mute_state_of_its_call() {
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a1"));
    let mut u = Client::user(&d, json!("u1"));
    u.send("callAgent", json!({"roomId": "r"}));
    a.expect("callAgent");
    u.expect("callAgent");
    a.send("mute", json!({"muted": true, "kind": "video"}));
    assert_eq!(
        u.expect("mute"),
        json!({"roomId": "r", "muted": true, "kind": "video"})
    );
    u.send("mute", json!({"muted": true}));
    a.expect("mute");
    // The user's tab reloads (its connection drops) and resumes from the last event it saw.
    let (token, seen) = (u.resume_token.clone(), u.last_seq);
    drop(u);
    a.expect("peerDisconnected");
    let mut u2 = Client::resume_user(&d, "u1", token, seen);
    assert_eq!(u2.expect("registered")["resumed"], true);
    assert_eq!(
        u2.expect("callState"),
        json!({
            "roomId": "r",
            "muted": {"audio": true, "video": false},
            "peerMuted": {"audio": false, "video": true}
        })
    );
    a.expect("peerReconnected");
}

/// Runs tests/js/signal.js (the stock socket.io-client; its packages installed by npm ci, as
/// tests/socketio.rs does) against a daemon with a STUN server; returns (success, output).
fn stock_client(transports: &str) -> (bool, String) {
    use std::process::Command;
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/socket.io-client").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&js)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "npm ci in tests/js failed: node and npm are required");
    }
    let d = Daemon::start("[calls]\nice_servers = [{ urls = \"stun:stun.example.com:3478\" }]\n");
    // The script bounds itself (TIMEOUT_MS, 15 s).
    let out = Command::new("node")
        .arg("signal.js")
        .current_dir(&js)
        .env("SERVER_URL", format!("http://{}", d.addr))
        .env("TRANSPORTS", transports)
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("ok signal"), text)
}

#[test]
fn the_stock_socketio_client_relays_the_exchange_on_websocket_and_polling() {
    for transports in ["websocket", "polling"] {
        let (ok, out) = stock_client(transports);
        assert!(ok, "{transports}: {out}");
    }
}
