//! Routing hot paths, through the public sans-IO core (and tungstenite for the fan-out):
//! one relayed message (routed alone, and decoded + routed + encoded), one call setup +
//! teardown at 10 vs 10,000 registered agents (longest-idle, and every strategy), one
//! enqueue + one assignment from the queue at 100 vs 100,000 queued users, and one
//! `getAvailableAgents` broadcast to 10,000 WebSockets.
mod common;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::value::RawValue;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};
use supportd::protocol::native;
use supportd::routing::{
    ClientEvent, ConnId, EventData, Output, Role, Router, RoutingConfig, ServerEvent, Strategy,
};
use tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

/// The daemon's WebSocket buffer sizes (`WS_READ_BUFFER`, `WS_WRITE_BATCH` in src/net/server.rs).
const WS_READ_BUFFER: usize = 4096;
const WS_WRITE_BATCH: usize = 16 * 1024;

/// A 64-byte message body.
const MESSAGE: &str = "Hello, I need help with my order #12345, it has not arrived yet!";

const USER: ConnId = ConnId(1);

fn raw(json: &str) -> Box<RawValue> {
    serde_json::from_str(json).expect("valid JSON")
}

/// Drains every queued output, as the loop does after each input; returns how many there were.
fn drain(router: &mut Router) -> usize {
    let mut n = 0;
    while let Some(out) = router.poll_output() {
        black_box(&out);
        n += 1;
    }
    n
}

/// A router with `agents` registered (and free) agents and one registered user.
fn router_with(now: Instant, agents: u64) -> Router {
    router_with_strategy(now, agents, Strategy::LongestIdle)
}

/// `router_with`, picking agents by `strategy`.
fn router_with_strategy(now: Instant, agents: u64, strategy: Strategy) -> Router {
    // Broadcast counts every turn (as before the rate limit), so each cycle sees its count.
    let config = RoutingConfig {
        availability_interval: Duration::ZERO,
        strategy,
        ..RoutingConfig::default()
    };
    let mut router = Router::with_config(config, 1);
    for i in 0..agents {
        let data = raw(&format!(r#"{{"id":"agent-{i}"}}"#));
        // Registered as the daemon registers (resumable): every send is kept for a replay.
        router
            .handle_register(
                now,
                ConnId(1000 + i),
                Role::Agent,
                Some(&data),
                &format!("token-agent-{i}"),
            )
            .expect("agent registers");
    }
    let data = raw(r#"{"id":"user-1"}"#);
    router
        .handle_register(now, USER, Role::User, Some(&data), "token-user-1")
        .expect("user registers");
    drain(&mut router);
    let _ = router.poll_available_agents(now);
    assert_eq!(router.stats().available_agents, agents as usize);
    router
}

/// (a) A user in a call sends `userMessage`: one routing decision plus draining its output.
fn relay_user_message(c: &mut Criterion) {
    let now = Instant::now();
    let mut router = router_with(now, 1);
    let call = raw(r#"{"roomId":"r1"}"#);
    router
        .handle_event(
            now,
            USER,
            ClientEvent::CallAgent,
            EventData::Raw(Some(&call)),
        )
        .expect("call starts");
    drain(&mut router);
    let _ = router.poll_available_agents(now);

    assert_eq!(MESSAGE.len(), 64);
    let data = raw(&format!(
        r#"{{"roomId":"r1","messageInput":{}}}"#,
        serde_json::to_string(MESSAGE).unwrap()
    ));
    router
        .handle_event(
            now,
            USER,
            ClientEvent::UserMessage,
            EventData::Raw(Some(&data)),
        )
        .expect("message relays");
    match router.poll_output() {
        Some(Output::Send {
            to: ConnId(1000),
            event: ServerEvent::UserMessage { .. },
            ..
        }) => {}
        other => panic!("unexpected output {other:?}"),
    }
    assert!(router.poll_output().is_none());

    let mut group = c.benchmark_group("routing");
    group.bench_function("relay_user_message", |b| {
        b.iter(|| {
            router
                .handle_event(
                    now,
                    USER,
                    ClientEvent::UserMessage,
                    EventData::Raw(Some(black_box(&*data))),
                )
                .unwrap();
            black_box(drain(&mut router))
        })
    });
    group.finish();
}

/// (b) One call setup + teardown (`callAgent`, then `leaveCall` by the user), draining the
/// outputs and the free-agent count as the loop does. Free agents sit in a BTreeMap ordered
/// by when they became free, so the cost must not depend on how many agents are registered.
fn call_setup_flat_cost(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("call_setup_flat_cost");
    for agents in [10u64, 10_000] {
        let mut router = router_with(now, agents);
        let cycle = |router: &mut Router| {
            router
                .handle_event(now, USER, ClientEvent::CallAgent, EventData::Raw(None))
                .unwrap();
            let started = drain(router);
            let avail = router.poll_available_agents(now);
            router
                .handle_event(now, USER, ClientEvent::LeaveCall, EventData::Raw(None))
                .unwrap();
            let ended = drain(router);
            let avail2 = router.poll_available_agents(now);
            (started, avail, ended, avail2)
        };
        // callAgent: CallStarted + QueueLeft (answered at once) + 2 sends; leaveCall:
        // CallFinished + 2 sends.
        let n = agents as usize;
        assert_eq!(cycle(&mut router), (4, Some(n - 1), 3, Some(n)));
        group.bench_with_input(BenchmarkId::from_parameter(agents), &agents, |b, _| {
            b.iter(|| black_box(cycle(&mut router)))
        });
        assert_eq!(router.stats().active_calls, 0);
        assert_eq!(router.stats().available_agents, n);
    }
    group.finish();
}

/// (e) One routing decision (callAgent to a ready agent, then leaveCall) for every strategy
/// at 10 vs 10,000 ready agents: each strategy keeps its own order, so the pick costs
/// O(log n) and the two sizes must cost about the same.
fn routing_decision_by_strategy(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("routing_decision");
    for strategy in Strategy::ALL {
        for agents in [10u64, 10_000] {
            let mut router = router_with_strategy(now, agents, strategy);
            let cycle = |router: &mut Router| {
                router
                    .handle_event(now, USER, ClientEvent::CallAgent, EventData::Raw(None))
                    .unwrap();
                let a = drain(router);
                router
                    .handle_event(now, USER, ClientEvent::LeaveCall, EventData::Raw(None))
                    .unwrap();
                a + drain(router)
            };
            assert_eq!(cycle(&mut router), 7);
            let id = BenchmarkId::new(strategy.as_str(), agents);
            group.bench_with_input(id, &agents, |b, _| b.iter(|| black_box(cycle(&mut router))));
            assert_eq!(router.stats().available_agents, agents as usize);
        }
    }
    group.finish();
}

/// Registers `event` data `json` from `conn`, which must be accepted.
fn feed(router: &mut Router, now: Instant, conn: u64, event: ClientEvent, json: &str) {
    let data = raw(json);
    router
        .handle_event(now, ConnId(conn), event, EventData::Raw(Some(&data)))
        .expect("accepted");
}

/// (f) The queue at 100 vs 100,000 waiting users: one agent, always busy. Each iteration
/// ends its call (the longest-waiting user is assigned to it at once) and puts the user who
/// left back at the end of the queue (an enqueue). Both are O(log n): flat across sizes.
fn queue_enqueue_assign(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("queue_enqueue_assign");
    for queued in [100u64, 100_000] {
        let mut router = Router::new();
        feed(
            &mut router,
            now,
            1,
            ClientEvent::ConnectAgent,
            r#"{"id":"agent"}"#,
        );
        for i in 0..=queued {
            let conn = 1000 + i;
            feed(
                &mut router,
                now,
                conn,
                ClientEvent::ConnectUser,
                &format!(r#"{{"id":{i}}}"#),
            );
            feed(&mut router, now, conn, ClientEvent::CallAgent, "{}");
        }
        drain(&mut router);
        assert_eq!(router.stats().queue_length, queued as usize);
        let agent_leaves = raw("{}");
        let cycle = |router: &mut Router| {
            router
                .handle_event(
                    now,
                    ConnId(1),
                    ClientEvent::LeaveCall,
                    EventData::Raw(Some(&agent_leaves)),
                )
                .unwrap();
            let mut left = None;
            while let Some(out) = router.poll_output() {
                if let Output::Send {
                    to,
                    event: ServerEvent::CallEnded { .. },
                    ..
                } = &out
                {
                    left.get_or_insert(*to);
                }
                black_box(&out);
            }
            let user = left.expect("the user in the call heard callEnded");
            router
                .handle_event(now, user, ClientEvent::CallAgent, EventData::Raw(None))
                .unwrap();
            drain(router)
        };
        assert_eq!(cycle(&mut router), 1, "the user who left is queued again");
        assert_eq!(router.stats().queue_length, queued as usize);
        group.bench_with_input(BenchmarkId::from_parameter(queued), &queued, |b, _| {
            b.iter(|| black_box(cycle(&mut router)))
        });
        assert_eq!(router.stats().queue_length, queued as usize);
        assert_eq!(router.stats().active_calls, 1);
    }
    group.finish();
}

/// An in-memory socket: reads would block, writes land in a Vec that is cleared before each
/// broadcast so memory stays bounded.
struct MemStream {
    written: Vec<u8>,
}

impl Read for MemStream {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// (c) One `getAvailableAgents` broadcast to 10,000 server-role WebSockets, as the daemon
/// does it: serialize once, then queue a clone of the shared text on each socket and flush.
fn broadcast_available_agents_10k(c: &mut Criterion) {
    const CONNS: usize = 10_000;
    let config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BATCH);
    let mut sockets: Vec<WebSocket<MemStream>> = (0..CONNS)
        .map(|_| {
            WebSocket::from_raw_socket(
                MemStream {
                    written: Vec::with_capacity(64),
                },
                WsRole::Server,
                Some(config),
            )
        })
        .collect();
    let mut count = 0usize;
    let broadcast = |sockets: &mut [WebSocket<MemStream>], count: usize| {
        let event = ServerEvent::AvailableAgents { count };
        let mut bytes = Vec::with_capacity(64);
        native::encode(&event, None, &mut bytes);
        let text = Utf8Bytes::try_from(bytes).expect("UTF-8");
        for ws in sockets.iter_mut() {
            ws.get_mut().written.clear();
            ws.write(Message::Text(text.clone())).unwrap();
            ws.flush().unwrap();
        }
    };

    broadcast(&mut sockets, 7);
    let expected = br#"{"event":"getAvailableAgents","data":{"availableAgents":7}}"#;
    for ws in &mut sockets {
        let out = &ws.get_mut().written;
        // An unmasked server text frame: FIN|text, 7-bit length, payload.
        assert_eq!(out[0], 0x81);
        assert_eq!(out[1] as usize, expected.len());
        assert_eq!(&out[2..], &expected[..]);
    }

    let mut group = c.benchmark_group("broadcast");
    group.throughput(Throughput::Elements(CONNS as u64));
    group.bench_function("broadcast_available_agents_10k", |b| {
        b.iter(|| {
            count = (count + 1) % 100;
            broadcast(&mut sockets, black_box(count));
        })
    });
    group.finish();
}

/// (d) One relayed message as the loop handles it, without sockets: decode the user's native
/// frame, route it, and encode what goes to the agent (JSON in and out, no framing).
fn relay_frame_native(c: &mut Criterion) {
    let now = Instant::now();
    let mut router = router_with(now, 1);
    let call = raw(r#"{"roomId":"r1"}"#);
    router
        .handle_event(now, USER, ClientEvent::CallAgent, Some(&*call).into())
        .expect("call starts");
    drain(&mut router);
    let frame = format!(
        r#"{{"event":"userMessage","data":{{"roomId":"r1","messageInput":{}}}}}"#,
        serde_json::to_string(MESSAGE).unwrap()
    );
    let mut out = Vec::with_capacity(256);
    let relay = |router: &mut Router, out: &mut Vec<u8>| {
        let env = native::decode(black_box(&frame)).unwrap();
        let event = ClientEvent::from_name(&env.event).unwrap();
        router.handle_event(now, USER, event, env.data).unwrap();
        while let Some(output) = router.poll_output() {
            if let Output::Send { event, seq, .. } = output {
                out.clear();
                native::encode(&event, seq, out);
            }
        }
        out.len()
    };
    let expected = format!(
        r#"{{"event":"userMessage","data":{{"roomId":"r1","messageInput":{}}}}}"#,
        serde_json::to_string(MESSAGE).unwrap()
    );
    // What goes out is the same frame numbered in the agent's sequence: `,"seq":N` last.
    assert_eq!(relay(&mut router, &mut out), out.len());
    let text = std::str::from_utf8(&out).expect("utf-8");
    let (body, seq) = text.rsplit_once(",\"seq\":").expect("a numbered frame");
    assert_eq!(format!("{body}}}"), expected);
    assert!(seq.trim_end_matches('}').parse::<u64>().is_ok(), "{text}");
    let mut group = c.benchmark_group("routing");
    group.bench_function("relay_frame_native", |b| {
        b.iter(|| black_box(relay(&mut router, &mut out)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = relay_user_message, relay_frame_native, call_setup_flat_cost,
        routing_decision_by_strategy, queue_enqueue_assign, broadcast_available_agents_10k
}
criterion_main!(benches);
