//! Verified agents over the wire (the real binary on loopback): with `[auth]` keys, a
//! registration needs a JWT whose `sub` is its id, in the event data, in an
//! `Authorization: Bearer` header on the handshake or in Socket.IO's CONNECT `auth.token`;
//! refused ones get `unauthorized` and are closed (1008); a token's expiry ends the
//! registration unless `refreshToken` extends it; a reload with a bad key keeps the old keys.
mod common;
use common::{Client, Daemon, Got, TempDir};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use std::net::TcpStream;
use std::time::{Duration, SystemTime};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

const SECRET: &[u8] = b"a-test-secret-of-more-than-32-bytes-for-hs256";

fn unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token for `sub` that expires `secs` from now (negative: already expired).
fn token(secret: &[u8], sub: &str, secs: i64) -> String {
    let exp = (unix() as i64 + secs) as u64;
    encode(
        &Header::default(),
        &json!({"sub": sub, "exp": exp, "name": "Ada"}),
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

/// A daemon whose agents must prove their id with SECRET (no leeway).
fn daemon(dir: &TempDir) -> Daemon {
    let secret = dir.0.join("agent.secret");
    std::fs::write(&secret, [SECRET, b"\n"].concat()).unwrap();
    Daemon::start(&format!(
        "[auth]\nagent_secret_file = {:?}\nleeway_secs = 0\n",
        secret.display().to_string()
    ))
}

/// The next frame must close the connection with 1008 after an `unauthorized` error.
fn refused(c: &mut Client) {
    c.expect_error("unauthorized");
    match c.next() {
        Got::Close(code) => assert_eq!(code, Some(CloseCode::Policy)),
        Got::Event(e, d) => panic!("expected a close, got {e} {d}"),
    }
}

#[test]
fn agents_need_a_token_for_their_own_id_users_do_not() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let mut c = d.client();
    c.send("connectAgent", json!({"id": "a1"}));
    refused(&mut c);
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a2", 60)}),
    );
    refused(&mut c);
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "token": token(b"another-secret-of-more-than-32-bytes!!", "a1", 60)}),
    );
    refused(&mut c);
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a1", -5)}),
    );
    refused(&mut c);
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a1", 60)}),
    );
    common::assert_registered(&c.expect("registered"), "agent", &json!("a1"));
    // No user key: users register as before.
    Client::user(&d, json!("u1"));
}

#[test]
fn a_bearer_header_on_the_handshake_proves_the_id() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let tcp = TcpStream::connect(d.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("ws://{}/ws", d.addr).into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", token(SECRET, "a1", 60))
            .parse()
            .unwrap(),
    );
    let (ws, _) = tungstenite::client(req, tcp).unwrap();
    let mut c = Client {
        ws,
        last_count: None,
        last_seq: 0,
        resume_token: None,
    };
    c.send("connectAgent", json!({"id": "a1"}));
    assert_eq!(c.expect("registered")["id"], "a1");
}

#[test]
fn socketio_connect_auth_token_proves_the_id() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let mut c = Client::connect(d.addr, "/socket.io/?EIO=4&transport=websocket", None).unwrap();
    let read = |c: &mut Client| loop {
        match c.ws.read().unwrap() {
            Message::Text(t) if t.as_str() == "2" => c.ws.send(Message::text("3")).unwrap(),
            Message::Text(t) if t.contains("getAvailableAgents") => {}
            Message::Text(t) => return t.to_string(),
            m => panic!("unexpected {m:?}"),
        }
    };
    assert!(read(&mut c).starts_with('0'));
    let auth = json!({"token": token(SECRET, "sio-agent", 60)});
    c.ws.send(Message::text(format!("40{auth}"))).unwrap();
    let answer = read(&mut c);
    assert!(answer.starts_with("40{\"sid\""), "{answer}");
    let pid: serde_json::Value = serde_json::from_str(&answer[2..]).unwrap();
    let pid = pid["pid"]
        .as_str()
        .expect("a pid: recovery is on")
        .to_owned();
    c.ws.send(Message::text(r#"42["connectAgent",{"id":"sio-agent"}]"#))
        .unwrap();
    // The party's resume token is the session's pid.
    assert_eq!(
        read(&mut c),
        format!(
            r#"42["registered",{{"role":"agent","id":"sio-agent","resumeToken":"{pid}","resumed":false,"capacity":1}}]"#
        )
    );
}

#[test]
fn an_expired_token_ends_the_registration_unless_refreshed() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let mut short = d.client();
    short.send(
        "connectAgent",
        json!({"id": "short", "token": token(SECRET, "short", 2)}),
    );
    short.expect("registered");
    let mut kept = d.client();
    kept.send(
        "connectAgent",
        json!({"id": "kept", "token": token(SECRET, "kept", 2)}),
    );
    kept.expect("registered");
    kept.send("refreshToken", json!({"token": token(SECRET, "kept", 60)}));
    // A refresh for another id is refused and changes nothing.
    kept.send("refreshToken", json!({"token": token(SECRET, "short", 60)}));
    kept.expect_error("unauthorized");
    // The short one expires within its 2 s (+ up to 1 s of rounding).
    short.expect_error("token_expired");
    match short.next() {
        Got::Close(code) => assert_eq!(code, Some(CloseCode::Policy)),
        Got::Event(e, d) => panic!("expected a close, got {e} {d}"),
    }
    // The refreshed one is still registered: it can toggle its availability.
    kept.expect_quiet(1500);
    kept.send("toggleAvailability", json!({"available": false}));
    kept.expect_quiet(300);
}

#[test]
fn a_reload_with_a_bad_key_file_keeps_the_old_keys() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    std::fs::write(dir.0.join("agent.secret"), b"short").unwrap();
    d.signal("HUP");
    d.wait_log("reload failed");
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a1", 60)}),
    );
    c.expect("registered");
}

#[test]
fn check_refuses_a_key_file_that_cannot_be_used() {
    let dir = TempDir::new();
    let secret = dir.0.join("agent.secret");
    std::fs::write(&secret, b"too short").unwrap();
    let config = dir.0.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nagent_secret_file = {:?}\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .args(["--check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("agent.secret"),
        "{out:?}"
    );
}

/// Every impersonation by a verified agent or a user is refused and changes nobody's state:
/// acting for another id, messaging, rejecting, transferring or leaving a call not yours,
/// toggling another agent, or registering with someone else's token.
#[test]
fn impersonation_is_refused_with_no_state_change() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let agent = |id: &str| {
        let mut c = d.client();
        c.send(
            "connectAgent",
            json!({"id": id, "token": token(SECRET, id, 60)}),
        );
        c.expect("registered");
        c
    };
    let mut a1 = agent("a1");
    let mut u1 = Client::user(&d, json!("u1"));
    u1.send("callAgent", json!({"roomId": "r1"}));
    u1.expect("callAgent");
    a1.expect("callAgent");
    let mut a2 = agent("a2");
    let mut u2 = Client::user(&d, json!("u2"));
    u2.send("callAgent", json!({"roomId": "r2"}));
    u2.expect("callAgent");
    a2.expect("callAgent");

    // a2 against a1's call and a1 itself.
    for (event, data) in [
        (
            "agentMessage",
            json!({"roomId": "r1", "messageInput": "psst"}),
        ),
        (
            "agentMessage",
            json!({"agentId": "a1", "messageInput": "psst"}),
        ),
        ("rejectCall", json!({"roomId": "r1"})),
        ("callTransfer", json!({"roomId": "r1"})),
        ("leaveCall", json!({"roomId": "r1"})),
        ("mute", json!({"roomId": "r1", "muted": true})),
        (
            "toggleAvailability",
            json!({"id": "a1", "available": false}),
        ),
    ] {
        a2.send(event, data.clone());
        let e = a2.expect("error");
        assert!(
            ["forbidden", "not_in_call"].contains(&e["code"].as_str().unwrap_or("")),
            "{event} {data}: {e}"
        );
    }
    // u2 against u1's call and u1 itself.
    for (event, data) in [
        (
            "userMessage",
            json!({"roomId": "r1", "messageInput": "psst"}),
        ),
        (
            "userMessage",
            json!({"userId": "u1", "messageInput": "psst"}),
        ),
        ("leaveCall", json!({"roomId": "r1"})),
        ("callAgent", json!({"userId": "u1"})),
        ("agentMessage", json!({"messageInput": "as an agent"})),
    ] {
        u2.send(event, data.clone());
        let e = u2.expect("error");
        assert!(
            ["forbidden", "not_in_call", "already_in_call"]
                .contains(&e["code"].as_str().unwrap_or("")),
            "{event} {data}: {e}"
        );
    }
    // Registering as a1 with a2's token, or as a2 again: refused.
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a2", 60)}),
    );
    refused(&mut c);
    // Nobody else heard of any of it, and both calls go on as before.
    u1.send("userMessage", json!({"messageInput": "still here"}));
    assert_eq!(a1.expect("userMessage")["messageInput"], "still here");
    a1.send("agentMessage", json!({"messageInput": "hello u1"}));
    assert_eq!(u1.expect("agentMessage")["messageInput"], "hello u1");
    u2.send("userMessage", json!({"messageInput": "and me"}));
    assert_eq!(a2.expect("userMessage")["messageInput"], "and me");
    a1.expect_quiet(200);
    u1.expect_quiet(200);
}

/// A token with a far-off `exp` (u64::MAX) registers without harm; a registration the
/// router refuses leaves the connection's proven identity as it was.
#[test]
fn far_off_expiry_is_capped_and_refused_registrations_change_no_identity() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let forever = encode(
        &Header::default(),
        &json!({"sub": "forever", "exp": u64::MAX}),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    let mut f = d.client();
    f.send("connectAgent", json!({"id": "forever", "token": forever}));
    f.expect("registered");
    let mut a1 = d.client();
    a1.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a1", 2)}),
    );
    a1.expect("registered");
    // Refused by the router (already registered): the 1 h token for a2 must not keep a1.
    a1.send(
        "connectAgent",
        json!({"id": "a2", "token": token(SECRET, "a2", 3600)}),
    );
    a1.expect_error("already_registered");
    a1.expect_error("token_expired");
    // The daemon is still serving (the u64::MAX agent included).
    f.send("toggleAvailability", json!({"available": false}));
    f.expect_quiet(200);
    Client::user(&d, json!("u"));
}

/// Keys added by a reload apply to those already registered: an agent that never proved
/// its id is refused and closed; a user (no user key) stays.
#[test]
fn a_reload_that_adds_agent_keys_closes_unproven_agents() {
    let dir = TempDir::new();
    let d = Daemon::start("");
    let mut a = Client::agent(&d, json!("a1"));
    let mut u = Client::user(&d, json!("u1"));
    let secret = dir.0.join("agent.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    std::fs::write(
        &d.config_path,
        format!(
            "{text}\n[auth]\nagent_secret_file = {:?}\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_log("configuration reloaded");
    refused(&mut a);
    u.send("callAgent", json!({"roomId": "r"}));
    u.expect("queued");
}

/// A verified agent that drops resumes only with its resume token and, as any
/// registration where proof is required, a token for its id; the resume token alone is not
/// proof of identity.
#[test]
fn a_resume_needs_the_identity_proof_too() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let mut a = d.client();
    a.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a1", 60)}),
    );
    a.expect("registered");
    let (resume_token, seen) = (a.resume_token.clone(), a.last_seq);
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a1", "resumeToken": resume_token, "lastSeq": seen}),
    );
    refused(&mut c);
    let mut c = d.client();
    c.last_seq = seen;
    c.send(
        "connectAgent",
        json!({"id": "a1", "resumeToken": resume_token, "lastSeq": seen, "token": token(SECRET, "a1", 60)}),
    );
    let r = c.expect("registered");
    assert_eq!(r["resumed"], true, "{r}");
}

/// Saying `connectAgent` again on a registered connection changes nothing, whatever token it
/// carries: no proof is checked (a bad one does not close the registration) or applied.
#[test]
fn a_repeated_registration_is_answered_without_touching_the_proof() {
    let dir = TempDir::new();
    let d = daemon(&dir);
    let mut a = d.client();
    a.send(
        "connectAgent",
        json!({"id": "a1", "token": token(SECRET, "a1", 60)}),
    );
    a.expect("registered");
    for _ in 0..3 {
        a.send("connectAgent", json!({"id": "a1", "token": "not-a-jwt"}));
        assert_eq!(
            a.expect("registered"),
            json!({"role": "agent", "id": "a1", "capacity": 1})
        );
    }
    a.send("toggleAvailability", json!({"available": false}));
    a.expect_quiet(200);
}

#[test]
fn a_tokens_capacity_claim_is_what_the_agent_gets() {
    let dir = TempDir::new();
    let secret = dir.0.join("agent.secret");
    std::fs::write(&secret, [SECRET, b"\n"].concat()).unwrap();
    let d = Daemon::start(&format!(
        "[auth]\nagent_secret_file = {:?}\n[routing]\nmax_capacity = 4\n",
        secret.display().to_string()
    ));
    let with_claim = |sub: &str, capacity: Option<u32>| {
        let mut claims = json!({"sub": sub, "exp": unix() + 60});
        if let Some(n) = capacity {
            claims["capacity"] = json!(n);
        }
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap()
    };
    // The claim wins over what the client asks; past max_capacity it is lowered.
    for (sub, claim, asked, granted) in [
        ("a1", Some(2), 4, 2),
        ("a2", Some(9), 1, 4),
        ("a3", None, 4, 1),
    ] {
        let mut c = d.client();
        c.send(
            "connectAgent",
            json!({"id": sub, "capacity": asked, "token": with_claim(sub, claim)}),
        );
        assert_eq!(c.expect("registered")["capacity"], json!(granted), "{sub}");
    }
    // A capacity claim of 0 is not a token to trust.
    let mut c = d.client();
    c.send(
        "connectAgent",
        json!({"id": "a4", "token": with_claim("a4", Some(0))}),
    );
    refused(&mut c);
}
