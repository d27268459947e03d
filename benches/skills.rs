//! Skills routing through the public sans-IO core: an assignment from the waiting index
//! (one group per requirement set) at 1,000 vs 100,000 queued users with 10,000 agents and
//! 100 skills, and an agent picked for a skill among 10,000 ready agents.
mod common;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::value::RawValue;
use std::hint::black_box;
use std::time::Instant;
use supportd::routing::{ClientEvent, ConnId, EventData, Output, Router, ServerEvent};

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

/// Feeds one event that must be accepted.
fn feed(router: &mut Router, now: Instant, conn: u64, event: ClientEvent, json: &str) {
    let data = raw(json);
    router
        .handle_event(now, ConnId(conn), event, EventData::Raw(Some(&data)))
        .expect("accepted");
}

/// A small deterministic PRNG (splitmix64) for the skills benches.
struct Rng(u64);

impl Rng {
    /// A number below `n`.
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// Distinct skills in the skills benches.
const SKILLS: u64 = 100;

/// `connectAgent` data for agent `i`: 8 of the 100 skills at random levels.
fn skilled_agent(rng: &mut Rng, i: u64) -> String {
    let skills: Vec<String> = (0..8)
        .map(|_| format!(r#""s{}":{}"#, rng.below(SKILLS), 1 + rng.below(5)))
        .collect();
    format!(r#"{{"id":"agent-{i}","skills":{{{}}}}}"#, skills.join(","))
}

/// 200 callAgent data: a quarter need no skill, the rest one or two of the 100 at a minimum
/// of 1 to 3 (so at most 200 distinct requirement sets wait, whatever the queue's length).
fn requirement_pool(rng: &mut Rng) -> Vec<String> {
    (0..200)
        .map(|i| match i % 4 {
            0 => "{}".to_owned(),
            1 => format!(
                r#"{{"skills":{{"s{}":{}}}}}"#,
                rng.below(SKILLS),
                1 + rng.below(3)
            ),
            _ => format!(
                r#"{{"skills":{{"s{}":{},"s{}":1}}}}"#,
                rng.below(SKILLS),
                1 + rng.below(3),
                rng.below(SKILLS)
            ),
        })
        .collect()
}

/// Skills: 10,000 agents with 8 of 100 skills each, all busy, and 1,000 vs 100,000
/// queued users needing skills from a pool of 200 requirement sets. Each iteration one agent
/// (in turn) ends its call and takes the best waiting user it qualifies for (the waiting
/// index: one group per requirement set), and the user who left asks again with the
/// requirement of the user taken (none if the agent took no one), so the queue keeps its
/// size and make-up. Flat across queue sizes: the index never scans the queue.
fn skills_assign(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("skills_assign");
    group.sample_size(10);
    for queued in [1_000u64, 100_000] {
        let mut rng = Rng(7);
        let mut router = Router::new();
        let agents = 10_000u64;
        for i in 0..agents {
            let data = skilled_agent(&mut rng, i);
            feed(&mut router, now, 1 + i, ClientEvent::ConnectAgent, &data);
        }
        let pool = requirement_pool(&mut rng);
        // Users with no requirement first: every agent busy.
        let mut conn = 100_000u64;
        for i in 0..agents + queued {
            conn += 1;
            feed(
                &mut router,
                now,
                conn,
                ClientEvent::ConnectUser,
                &format!(r#"{{"id":{i}}}"#),
            );
            let data = if i < agents {
                "{}"
            } else {
                &pool[(i % 200) as usize]
            };
            feed(&mut router, now, conn, ClientEvent::CallAgent, data);
        }
        drain(&mut router);
        assert_eq!(router.stats().available_agents, 0);
        assert_eq!(router.stats().queue_length, queued as usize);
        let asks: Vec<Box<RawValue>> = pool.iter().map(|p| raw(p)).collect();
        // The pool entry each user (by id) asked with last.
        let mut need_of: Vec<usize> = (0..agents + queued)
            .map(|i| if i < agents { 0 } else { (i % 200) as usize })
            .collect();
        let leave = raw("{}");
        let mut turn = 0u64;
        let mut cycle = |router: &mut Router| {
            turn += 1;
            let agent = ConnId(1 + turn % agents);
            let data = EventData::Raw(Some(&leave));
            if router
                .handle_event(now, agent, ClientEvent::LeaveCall, data)
                .is_err()
            {
                // This agent found no one it qualifies for last time: it is still free.
                return drain(router);
            }
            let (mut left, mut taken) = (None, None);
            while let Some(out) = router.poll_output() {
                match &out {
                    Output::Send {
                        to,
                        event: ServerEvent::CallEnded { .. },
                        ..
                    } if *to != agent => {
                        left.get_or_insert(*to);
                    }
                    Output::Send {
                        to,
                        event: ServerEvent::CallAgent(data),
                        ..
                    } if *to == agent => {
                        let i = data.get("userId").and_then(|u| u.as_u64());
                        taken = i.map(|i| need_of[i as usize]);
                    }
                    _ => {}
                }
                black_box(&out);
            }
            if let Some(user) = left {
                // The user who left asks again with the requirement of the one taken (or
                // none, for the agent still free): the queue's make-up stays the same.
                let need = taken.unwrap_or(0);
                // Conns are 100,001 + the user's id.
                need_of[(user.0 - 100_001) as usize] = need;
                let ask = EventData::Raw(Some(&asks[need]));
                let _ = router.handle_event(now, user, ClientEvent::CallAgent, ask);
            }
            drain(router)
        };
        for _ in 0..20_000 {
            cycle(&mut router);
        }
        let before = router.stats();
        group.bench_with_input(BenchmarkId::from_parameter(queued), &queued, |b, _| {
            b.iter(|| black_box(cycle(&mut router)))
        });
        let after = router.stats();
        eprintln!(
            "skills_assign/{queued}: queue {} -> {}, ready agents {} -> {}",
            before.queue_length,
            after.queue_length,
            before.available_agents,
            after.available_agents
        );
    }
    group.finish();
}

/// Choosing an agent for a user with skills among 10,000 ready agents (8 of 100 skills
/// each): callAgent + leaveCall, the user needing no skill, a common skill, or one only the
/// agent idle shortest has (every other ready agent is skipped: the O(k) worst case).
fn skills_pick(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("skills_pick");
    let mut rng = Rng(11);
    let mut router = Router::new();
    let agents = 10_000u64;
    for i in 0..agents - 1 {
        let data = skilled_agent(&mut rng, i);
        feed(&mut router, now, 1 + i, ClientEvent::ConnectAgent, &data);
    }
    feed(
        &mut router,
        now,
        agents,
        ClientEvent::ConnectAgent,
        r#"{"id":"rare","skills":{"rare":5}}"#,
    );
    feed(
        &mut router,
        now,
        1_000_000,
        ClientEvent::ConnectUser,
        r#"{"id":"u"}"#,
    );
    drain(&mut router);
    let leave = raw("{}");
    for (name, ask) in [
        ("none", "{}"),
        ("common", r#"{"skills":["s1"]}"#),
        ("rare", r#"{"skills":["rare"]}"#),
    ] {
        let ask = raw(ask);
        let cycle = |router: &mut Router| {
            router
                .handle_event(
                    now,
                    ConnId(1_000_000),
                    ClientEvent::CallAgent,
                    EventData::Raw(Some(&ask)),
                )
                .unwrap();
            router
                .handle_event(
                    now,
                    ConnId(1_000_000),
                    ClientEvent::LeaveCall,
                    EventData::Raw(Some(&leave)),
                )
                .unwrap();
            drain(router)
        };
        cycle(&mut router);
        assert_eq!(router.stats().available_agents, agents as usize);
        group.bench_function(name, |b| b.iter(|| black_box(cycle(&mut router))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = skills_assign, skills_pick
}
criterion_main!(benches);
