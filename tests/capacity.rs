//! Agents with several chats (issue 14) against the real binary on loopback, on both
//! protocols: an agent with capacity 3 holds three calls at once and each room's messages
//! reach that room's user only; a fourth user waits for a free slot.
mod common;
use common::sio::Sio;
use common::{Client, Daemon};
use serde_json::{json, Value};

const CONFIG: &str = "[routing]\nmax_capacity = 3\n";

#[test]
fn a_native_agent_with_capacity_three_holds_three_chats() {
    let d = Daemon::start(CONFIG);
    let mut agent = d.client();
    agent.send("connectAgent", json!({"id": "multi", "capacity": 5}));
    let reg = agent.expect("registered");
    assert_eq!(reg["capacity"], json!(3), "lowered to max_capacity");
    let mut users: Vec<Client> = (0..3)
        .map(|i| {
            let mut u = Client::user(&d, json!(format!("u{i}")));
            u.send("callAgent", json!({"roomId": format!("room-{i}")}));
            assert_eq!(u.expect("callAgent")["agentId"], json!("multi"));
            assert_eq!(
                agent.expect("callAgent")["roomId"],
                json!(format!("room-{i}"))
            );
            u
        })
        .collect();
    // Full: the fourth waits in line.
    let mut fourth = Client::user(&d, json!("u3"));
    fourth.send("callAgent", json!({"roomId": "room-3"}));
    assert_eq!(fourth.expect("queued")["position"], json!(1));
    // Each room's messages go to that room's user, both ways.
    for (i, u) in users.iter_mut().enumerate() {
        let room = format!("room-{i}");
        agent.send(
            "agentMessage",
            json!({"roomId": room, "messageInput": format!("to {i}")}),
        );
        assert_eq!(
            u.expect("agentMessage")["messageInput"],
            json!(format!("to {i}"))
        );
        u.send(
            "userMessage",
            json!({"roomId": room, "messageInput": format!("from {i}")}),
        );
        let got = agent.expect("userMessage");
        assert_eq!(
            (got["roomId"].clone(), got["messageInput"].clone()),
            (json!(room), json!(format!("from {i}")))
        );
    }
    for u in users.iter_mut() {
        u.expect_quiet(100);
    }
    // Without a room, the agent is told which field is missing.
    agent.send("agentMessage", json!({"messageInput": "which?"}));
    let e = agent.expect_error("bad_payload");
    assert!(
        e["message"].as_str().unwrap_or("").contains("roomId"),
        "{e}"
    );
    // One user leaves: the fourth gets the freed slot.
    users[1].send("leaveCall", json!({"roomId": "room-1"}));
    assert_eq!(agent.expect("callEnded")["roomId"], json!("room-1"));
    assert_eq!(fourth.expect("callAgent")["agentId"], json!("multi"));
}

/// The data of the next `name` event on `s` (skipping others).
fn sio_expect(s: &mut Sio, name: &str) -> Value {
    for _ in 0..20 {
        let (n, data) = s.event();
        if n == name {
            return data;
        }
    }
    panic!("no {name}");
}

#[test]
fn a_socketio_agent_with_capacity_three_holds_three_chats() {
    let d = Daemon::start(CONFIG);
    let mut agent = Sio::connect(&d);
    agent.emit("connectAgent", json!({"id": "sio-multi", "capacity": 3}));
    assert_eq!(sio_expect(&mut agent, "registered")["capacity"], json!(3));
    let mut users: Vec<Sio> = (0..3)
        .map(|i| {
            let mut u = Sio::connect(&d);
            u.emit("connectUser", json!({"id": format!("su{i}")}));
            sio_expect(&mut u, "registered");
            u.emit("callAgent", json!({"roomId": format!("sroom-{i}")}));
            assert_eq!(
                sio_expect(&mut u, "callAgent")["agentId"],
                json!("sio-multi")
            );
            assert_eq!(
                sio_expect(&mut agent, "callAgent")["roomId"],
                json!(format!("sroom-{i}"))
            );
            u
        })
        .collect();
    for (i, u) in users.iter_mut().enumerate().rev() {
        agent.emit(
            "agentMessage",
            json!({"roomId": format!("sroom-{i}"), "messageInput": i}),
        );
        assert_eq!(sio_expect(u, "agentMessage")["messageInput"], json!(i));
    }
    users[0].emit(
        "userMessage",
        json!({"roomId": "sroom-0", "messageInput": "hi"}),
    );
    let got = sio_expect(&mut agent, "userMessage");
    assert_eq!(got["roomId"], json!("sroom-0"));
}
