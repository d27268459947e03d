//! Priorities and skills over the wire (the real binary on loopback): a priority user
//! overtakes the queue through an entry point its origin may use (native and Socket.IO), an
//! entry not open to the origin is refused, and a skill-matched agent is chosen over an idle
//! unmatched one until the requirement's step expires.
mod common;
use common::sio::Sio;
use common::{Client, Daemon};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const VIP: &str = "https://vip.example";
const WWW: &str = "https://www.example";

/// A daemon on loopback allowing both origins, with the `vip` entry point and `extra` in
/// `[routing]` (a line starting with a table header after it ends the table).
fn daemon(extra: &str) -> Daemon {
    let (routing, rest) = extra.split_once("\n[auth]").unwrap_or((extra, ""));
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!("[auth]{rest}")
    };
    Daemon::start_with(&format!(
        "[server]\nbind = \"127.0.0.1\"\nport = 0\ncors_origins = [\"{VIP}\", \"{WWW}\"]\n\
         [routing]\n{routing}\n\
         [[routing.entry]]\nname = \"vip\"\npriority = 10\norigins = [\"{VIP}\"]\n{rest}"
    ))
}

/// A native user registered as `id` from `origin`.
fn user_from(d: &Daemon, id: &str, origin: &str) -> Client {
    let mut c = Client::connect(d.addr, "/ws", Some(origin)).expect("connect");
    c.send("connectUser", json!({ "id": id }));
    c.expect("registered");
    c
}

/// A native agent registered as `id` with `skills`.
fn agent_with(d: &Daemon, id: &str, skills: Value) -> Client {
    let mut c = d.client();
    c.send("connectAgent", json!({ "id": id, "skills": skills }));
    c.expect("registered");
    c
}

/// One agent busy with user `u0`, and a plain user queued at position 1: (agent, u0, u1).
fn busy_line(d: &Daemon) -> (Client, Client, Client) {
    let mut a = Client::agent(d, json!("a1"));
    let mut u0 = user_from(d, "u0", WWW);
    u0.send("callAgent", json!({}));
    u0.expect("callAgent");
    a.expect("callAgent");
    let mut u1 = user_from(d, "u1", WWW);
    // A priority a client asserts itself is ignored.
    u1.send("callAgent", json!({"roomId": "r1", "priority": 1000}));
    assert_eq!(u1.expect("queued")["position"], 1);
    (a, u0, u1)
}

/// After the priority user `v` queued: `u1` hears it was overtaken, and when `u0`'s call
/// ends the agent takes `v`.
fn served_before(a: &mut Client, u0: &mut Client, u1: &mut Client) {
    assert_eq!(u1.expect("queued")["position"], 2, "u1 was overtaken");
    u0.send("leaveCall", json!({}));
    a.expect("callEnded");
    assert_eq!(a.expect("callAgent")["userId"], "v");
}

#[test]
fn a_priority_user_overtakes_the_queue_native() {
    let d = daemon("");
    let (mut a, mut u0, mut u1) = busy_line(&d);
    let mut plain = user_from(&d, "u2", WWW);
    plain.send("callAgent", json!({"entry": "vip"}));
    plain.expect_error("forbidden");
    plain.send("callAgent", json!({"entry": "gold"}));
    plain.expect_error("bad_payload");
    let mut vip = user_from(&d, "v", VIP);
    vip.send("callAgent", json!({"roomId": "rv", "entry": "vip"}));
    let q = vip.expect("queued");
    assert_eq!(
        (&q["position"], &q["queueLength"]),
        (&json!(1), &json!(2)),
        "{q}"
    );
    served_before(&mut a, &mut u0, &mut u1);
    assert_eq!(vip.expect("callAgent")["agentId"], "a1");
}

#[test]
fn a_priority_user_overtakes_the_queue_socketio() {
    let d = daemon("");
    let (mut a, mut u0, mut u1) = busy_line(&d);
    let mut plain = Sio::connect_from(&d, Some(WWW));
    plain.emit("connectUser", json!({"id": "u2"}));
    plain.expect("registered");
    plain.emit("callAgent", json!({"entry": "vip"}));
    assert_eq!(plain.expect("error")["code"], "forbidden");
    let mut vip = Sio::connect_from(&d, Some(VIP));
    vip.emit("connectUser", json!({"id": "v"}));
    vip.expect("registered");
    vip.emit("callAgent", json!({"roomId": "rv", "entry": "vip"}));
    assert_eq!(vip.expect("queued")["position"], 1);
    served_before(&mut a, &mut u0, &mut u1);
    assert_eq!(vip.expect("callAgent")["agentId"], "a1");
}

#[test]
fn a_skilled_agent_is_chosen_over_an_idle_unmatched_one_until_the_step_expires() {
    let d = daemon(
        "skill_wait_ms = 300\n\
         [[routing.skill_steps]]\nafter_ms = 300\nlower = { billing = 2 }\n",
    );
    // Idle longest, but without the skills.
    let mut plain = Client::agent(&d, json!("plain"));
    let mut es = agent_with(&d, "es", json!({"es": 5, "billing": 5}));
    let mut u = user_from(&d, "u", WWW);
    u.send("callAgent", json!({"skills": ["es"]}));
    assert_eq!(u.expect("callAgent")["agentId"], "es");
    es.expect("callAgent");
    // Nobody qualifies for billing 4: the user waits, then billing 2 is enough (at 300 ms).
    let mut b2 = agent_with(&d, "b2", json!({"billing": 2}));
    let mut v = user_from(&d, "v", WWW);
    let asked = Instant::now();
    v.send("callAgent", json!({"skills": {"billing": 4}}));
    assert_eq!(v.expect("queued")["position"], 1);
    assert_eq!(b2.expect("callAgent")["userId"], "v");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(280) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // After the last step and skill_wait_ms (600 ms in all), any agent may take it.
    let mut w = user_from(&d, "w", WWW);
    let asked = Instant::now();
    w.send("callAgent", json!({"skills": {"fr": 5}}));
    w.expect("queued");
    assert_eq!(plain.expect("callAgent")["userId"], "w");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(580) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn bad_skills_are_refused_with_bad_payload() {
    let d = daemon("");
    let mut a = d.client();
    a.send("connectAgent", json!({"id": "a", "skills": {"es": 7}}));
    let e = a.expect_error("bad_payload");
    assert_eq!(e["event"], "connectAgent", "{e}");
    let mut u = user_from(&d, "u", WWW);
    u.send("callAgent", json!({"skills": "es"}));
    u.expect_error("bad_payload");
}

/// `max_skill_sets`: a new skill requirement past it is refused with `queue_full` (and its
/// user may ask again without it); requirements already waiting still queue, and an agent
/// with the skill takes its user.
#[test]
fn distinct_skill_requirements_waiting_are_capped() {
    let d = daemon("max_skill_sets = 1");
    let mut es = user_from(&d, "es1", WWW);
    es.send("callAgent", json!({"roomId": "r-es1", "skills": ["es"]}));
    assert_eq!(es.expect("queued")["position"], 1);
    let mut fr = user_from(&d, "fr1", WWW);
    fr.send("callAgent", json!({"roomId": "r-fr1", "skills": ["fr"]}));
    let e = fr.expect_error("queue_full");
    assert_eq!(e["event"], "callAgent", "{e}");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("skill")),
        "{e}"
    );
    // The same requirement as one waiting queues; so does a call for any agent.
    let mut es2 = user_from(&d, "es2", WWW);
    es2.send("callAgent", json!({"roomId": "r-es2", "skills": ["es"]}));
    assert_eq!(es2.expect("queued")["position"], 2);
    fr.send("callAgent", json!({"roomId": "r-fr1"}));
    assert_eq!(fr.expect("queued")["position"], 3);
    let mut a = agent_with(&d, "a-es", json!(["es"]));
    assert_eq!(a.expect("callAgent")["userId"], "es1");
    assert_eq!(es.expect("callAgent")["agentId"], "a-es");
}

const SECRET: &[u8] = b"a-test-secret-of-more-than-32-bytes-for-hs256";

/// An HS256 token for `sub` with `claims` added, valid for an hour.
fn token(sub: &str, claims: Value) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let mut c = json!({"sub": sub, "exp": exp});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), claims) {
        c.extend(extra);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &c,
        &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

#[test]
fn token_claims_give_priority_and_skills_and_override_the_client() {
    let dir = common::TempDir::new();
    let secret = dir.0.join("secret");
    std::fs::write(&secret, [SECRET, b"\n"].concat()).unwrap();
    let path = secret.display().to_string();
    let d = daemon(&format!(
        "\n[auth]\nagent_secret_file = {path:?}\nuser_secret_file = {path:?}\nleeway_secs = 0\n"
    ));
    let register = |role: &str, id: &str, claims: Value, extra: Value| {
        let mut c = Client::connect(d.addr, "/ws", Some(WWW)).expect("connect");
        let mut data = json!({"id": id, "token": token(id, claims)});
        if let (Some(d), Value::Object(extra)) = (data.as_object_mut(), extra) {
            d.extend(extra);
        }
        c.send(role, data);
        c.expect("registered");
        c
    };
    // The token says es; the client's own billing is not believed.
    let mut a = register(
        "connectAgent",
        "a1",
        json!({"skills": {"es": 5}}),
        json!({"skills": {"billing": 5}}),
    );
    let mut u0 = register("connectUser", "u0", json!({}), json!({}));
    u0.send("callAgent", json!({"skills": ["billing"]}));
    u0.expect("queued");
    // (Had the agent taken u0, u1 would be queued behind it.)
    let mut u1 = register("connectUser", "u1", json!({}), json!({}));
    u1.send("callAgent", json!({"skills": {"es": 5}}));
    assert_eq!(u1.expect("callAgent")["agentId"], "a1");
    a.expect("callAgent");
    // A user whose token says priority 20 goes ahead of one who asked first.
    let mut u2 = register("connectUser", "u2", json!({}), json!({}));
    u2.send("callAgent", json!({}));
    assert_eq!(u2.expect("queued")["position"], 2);
    let mut u3 = register("connectUser", "u3", json!({"priority": 20}), json!({}));
    u3.send("callAgent", json!({}));
    assert_eq!(u3.expect("queued")["position"], 1);
    u1.send("leaveCall", json!({}));
    a.expect("callEnded");
    assert_eq!(a.expect("callAgent")["userId"], "u3");
}

/// The `priority` scenario of tests/js/queue.js with the stock socket.io-client over
/// `transports`.
fn stock_client_priority(transports: &str) {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/socket.io-client").exists() {
        let ok = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&js)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "npm ci in tests/js failed: node and npm are required");
    }
    let d = daemon("");
    let out = std::process::Command::new("timeout")
        .args(["60", "node", "queue.js"])
        .current_dir(&js)
        .env("SERVER_URL", format!("http://{}", d.addr))
        .env("TRANSPORTS", transports)
        .env("SCENARIO", "priority")
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("ok queue"), "{text}");
}

#[test]
fn stock_client_priority_and_skills_websocket() {
    stock_client_priority("websocket");
}

#[test]
fn stock_client_priority_and_skills_polling() {
    stock_client_priority("polling");
}
