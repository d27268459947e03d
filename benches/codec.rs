//! Wire codec hot paths: decode one client `userMessage` (its data read in the same pass) and
//! encode one server `userMessage` (64-byte messageInput) in the native framing and in
//! Socket.IO (Engine.IO `4` + `2[...]`).
mod common;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use serde_json::value::RawValue;
use std::hint::black_box;
use supportd::protocol::engineio::{self, PacketType};
use supportd::protocol::native;
use supportd::protocol::socketio::{self, Body};
use supportd::routing::{ClientEvent, EventData, ServerEvent};

/// A 64-byte message body (the JSON string is 66 bytes with its quotes).
const MESSAGE: &str = "Hello, I need help with my order #12345, it has not arrived yet!";

fn message_json() -> String {
    assert_eq!(MESSAGE.len(), 64);
    serde_json::to_string(MESSAGE).unwrap()
}

fn server_event() -> ServerEvent {
    let raw: Box<RawValue> = serde_json::from_str(&message_json()).unwrap();
    ServerEvent::UserMessage {
        room: "r1".into(),
        message: raw,
        attachments: None,
    }
}

fn native_decode(g: &mut Group<'_>) {
    let frame = format!(
        r#"{{"event":"userMessage","data":{{"roomId":"r1","messageInput":{}}}}}"#,
        message_json()
    );
    // Sanity: the frame decodes to what the loop expects.
    let env = native::decode(&frame).unwrap();
    assert_eq!(
        ClientEvent::from_name(&env.event),
        Some(ClientEvent::UserMessage)
    );
    g.bench_function("native_decode_userMessage", |b| {
        b.iter(|| {
            let env = native::decode(black_box(&frame)).unwrap();
            let event = ClientEvent::from_name(&env.event);
            black_box((event, env.data));
        })
    });
}

/// A Socket.IO WebSocket frame as the loop reads it: Engine.IO packet, then Socket.IO event.
fn socketio_decode_frame(frame: &str) -> (Option<ClientEvent>, EventData<'_>) {
    let eio = engineio::decode_packet(frame).unwrap();
    debug_assert_eq!(eio.kind, PacketType::Message);
    let packet = socketio::decode(eio.data).unwrap();
    match packet.body {
        Body::Event { name, data } => (ClientEvent::from_name(&name), data),
        _ => unreachable!("not an event"),
    }
}

fn socketio_decode(g: &mut Group<'_>) {
    let frame = format!(
        r#"42["userMessage",{{"roomId":"r1","messageInput":{}}}]"#,
        message_json()
    );
    assert_eq!(
        socketio_decode_frame(&frame).0,
        Some(ClientEvent::UserMessage)
    );
    g.bench_function("socketio_decode_userMessage", |b| {
        b.iter(|| black_box(socketio_decode_frame(black_box(&frame))))
    });
}

fn native_encode(g: &mut Group<'_>) {
    let event = server_event();
    let mut out = Vec::with_capacity(128);
    native::encode(&event, Some(42), &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        format!(
            r#"{{"event":"userMessage","data":{{"roomId":"r1","messageInput":{}}}}}"#,
            message_json()
        )
    );
    g.bench_function("native_encode_userMessage", |b| {
        b.iter(|| {
            // As the daemon does it: a fresh 128-byte buffer per outgoing frame.
            let mut out = Vec::with_capacity(128);
            native::encode(black_box(&event), Some(42), &mut out);
            black_box(out)
        })
    });
}

fn socketio_encode(g: &mut Group<'_>) {
    let event = server_event();
    let encode = |event: &ServerEvent| {
        let mut out = Vec::with_capacity(128);
        socketio::encode(event, Some(42), &mut out);
        out
    };
    assert_eq!(
        std::str::from_utf8(&encode(&event)).unwrap(),
        format!(
            r#"42["userMessage",{{"roomId":"r1","messageInput":{}}}]"#,
            message_json()
        )
    );
    g.bench_function("socketio_encode_userMessage", |b| {
        b.iter(|| black_box(encode(black_box(&event))))
    });
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// All four as one group, reported as `codec/<name>`.
fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    native_decode(&mut g);
    socketio_decode(&mut g);
    native_encode(&mut g);
    socketio_encode(&mut g);
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = codec
}
criterion_main!(benches);
