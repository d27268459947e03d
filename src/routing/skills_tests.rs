//! Unit tests for `skills` (parsing, matching, steps, ranks) and, on the virtual clock, for
//! the routing they drive: priority order and aging, entry points, skill steps and their
//! expiry, and the waiting index against a brute-force scan (property test).
use super::*;
use crate::routing::config::RoutingConfig;
use crate::routing::event::{ErrorCode, Role};
use crate::routing::testkit::{data_of, events, offers, H};
use serde_json::json;

fn sk(v: serde_json::Value) -> Skills {
    Skills::from_json(&v).unwrap()
}

#[test]
fn skills_parse_both_shapes_and_refuse_bad_ones() {
    assert_eq!(
        sk(json!(["es", "billing"])),
        sk(json!({"billing": 1, "es": 1}))
    );
    assert_eq!(sk(json!({"b": 4})).level("b"), Some(4));
    for bad in [
        json!({"b": 0}),
        json!({"b": 6}),
        json!({"b": "3"}),
        json!({"b": 2.5}),
        json!([1]),
        json!([""]),
        json!("billing"),
        json!(3),
        json!([&"x".repeat(65)]),
    ] {
        assert!(Skills::from_json(&bad).is_err(), "{bad} accepted");
    }
    let many: Vec<String> = (0..33).map(|i| format!("s{i}")).collect();
    assert!(Skills::from_json(&json!(many)).is_err());
}

#[test]
fn covers_needs_every_skill_at_its_minimum() {
    let agent = sk(json!({"billing": 4, "es": 5, "fr": 1}));
    assert!(agent.covers(&Skills::default()));
    assert!(agent.covers(&sk(json!({"billing": 4, "es": 1}))));
    assert!(!agent.covers(&sk(json!({"billing": 5}))));
    assert!(!agent.covers(&sk(json!(["de"]))));
    assert!(!agent.covers(&sk(json!(["billing", "zz"]))));
    assert!(!Skills::default().covers(&sk(json!(["a"]))));
}

#[test]
fn steps_drop_and_lower_then_any_agent_unless_strict() {
    let needs = sk(json!({"billing": 4, "es": 3}));
    let ms = Duration::from_millis;
    let steps = vec![
        SkillStep {
            after: ms(100),
            lower: sk(json!({"billing": 2})),
            ..SkillStep::default()
        },
        SkillStep {
            after: ms(200),
            drop: vec!["es".into()],
            ..SkillStep::default()
        },
    ];
    let at = |w| requirement_at(&needs, &steps, ms(1000), ms(w));
    assert_eq!(at(0), (needs.clone(), Some(ms(100))));
    assert_eq!(at(150), (sk(json!({"billing": 2, "es": 3})), Some(ms(200))));
    assert_eq!(at(200), (sk(json!({"billing": 2})), Some(ms(1200))));
    assert_eq!(at(1200), (Skills::default(), None));
    let mut strict = steps.clone();
    strict[1].strict = true;
    assert_eq!(
        requirement_at(&needs, &strict, ms(1000), ms(5000)),
        (sk(json!({"billing": 2})), None)
    );
    // No steps: the requirement holds `wait`, then any agent.
    assert_eq!(
        requirement_at(&needs, &[], ms(30), ms(29)),
        (needs.clone(), Some(ms(30)))
    );
    assert_eq!(
        requirement_at(&needs, &[], ms(30), ms(30)).0,
        Skills::default()
    );
}

#[test]
fn ranks_put_higher_priority_first_and_age_continuously() {
    assert!(rank(10, 0, None) < rank(0, 0, None));
    assert_eq!(rank(5, 0, None), rank(5, 99_999, None));
    let a = Some(Duration::from_secs(10));
    // Priority 1 asked at 0 s and priority 0 asked 10 s earlier are level.
    assert_eq!(rank(1, 10_000, a), rank(0, 0, a));
    assert!(rank(1, 10_001, a) > rank(0, 0, a));
    assert!(rank(1, 9_999, a) < rank(0, 0, a));
    // Claims far out of range are clamped.
    assert_eq!(rank(i32::MAX, 0, None), rank(1000, 0, None));
}

fn vip(public: bool) -> RoutingConfig {
    RoutingConfig {
        entries: vec![Entry {
            name: "vip".into(),
            priority: 10,
            origins: vec!["https://vip.example".into()],
            public,
            skills: Skills::default(),
        }],
        ..RoutingConfig::default()
    }
}

fn user_from(h: &mut H, conn: u64, id: &str, origin: Option<&str>, priority: Option<i32>) {
    let identity = Identity {
        origin: origin.map(Into::into),
        verified: priority.is_some(),
        priority,
        ..Identity::default()
    };
    h.register_as(conn, Role::User, json!({ "id": id }), identity)
        .unwrap();
}

fn position(sent: &crate::routing::testkit::Sent, conn: u64) -> u64 {
    data_of(sent, conn, "queued")["position"].as_u64().unwrap()
}

#[test]
fn a_priority_user_overtakes_and_positions_say_so() {
    let mut h = H::new(vip(false));
    h.agent(1, "a");
    h.user(10, "first");
    h.call(10, "r0");
    h.user(11, "plain");
    user_from(&mut h, 12, "vip", Some("https://vip.example"), None);
    user_from(&mut h, 13, "claimed", None, Some(20));
    let out = h.ok(11, "callAgent", json!({"roomId": "r1", "priority": 99}));
    assert_eq!(position(&out, 11), 1, "a client's own priority is ignored");
    let out = h.ok(12, "callAgent", json!({"roomId": "r2", "entry": "vip"}));

    assert_eq!(position(&out, 12), 1);
    let out = h.ok(13, "callAgent", json!({"roomId": "r3"}));
    assert_eq!(
        position(&out, 13),
        1,
        "the token's priority 20 beats the entry's 10"
    );
    // Position updates are rate-limited to one a second per user.
    h.wait(1000);
    let out = h.wait(1000);
    assert_eq!(position(&out, 12), 2);
    assert_eq!(position(&out, 11), 3);
    // The agent frees up: the highest priority goes first.
    let out = h.ok(1, "leaveCall", json!({}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "claimed");
    let out = h.ok(1, "leaveCall", json!({}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "vip");
    let out = h.ok(1, "leaveCall", json!({}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "plain");
}

#[test]
fn entries_are_checked_against_the_origin() {
    let mut h = H::new(vip(false));
    user_from(&mut h, 10, "u", Some("https://evil.example"), None);
    user_from(&mut h, 11, "v", None, None);
    for conn in [10, 11] {
        assert_eq!(
            h.feed(conn, "callAgent", json!({"entry": "vip"})),
            Err(ErrorCode::Forbidden)
        );
    }
    assert_eq!(
        h.feed(10, "callAgent", json!({"entry": "nope"})),
        Err(ErrorCode::BadPayload)
    );
    assert_eq!(
        h.feed(10, "callAgent", json!({"entry": 3})),
        Err(ErrorCode::BadPayload)
    );
    let mut h = H::new(vip(true));
    user_from(&mut h, 10, "u", Some("https://evil.example"), None);
    h.ok(10, "callAgent", json!({"entry": "vip"}));
}

#[test]
fn aging_lets_an_old_ask_overtake_a_higher_priority() {
    for (waited_s, first) in [(99, "vip"), (101, "old")] {
        let config = RoutingConfig {
            priority_aging: Some(Duration::from_secs(10)),
            ..vip(true)
        };
        let mut h = H::new(config);
        h.user(10, "old");
        h.call(10, "r0");
        h.wait(waited_s * 1000);
        user_from(&mut h, 11, "vip", None, None);
        let out = h.ok(11, "callAgent", json!({"roomId": "r1", "entry": "vip"}));
        let expected = if first == "vip" { 1 } else { 2 };
        assert_eq!(position(&out, 11), expected, "after {waited_s} s");
        let out = h.agent(1, "a");
        assert_eq!(
            data_of(&out, 1, "callAgent")["userId"],
            first,
            "after {waited_s} s"
        );
    }
}

fn agent_with(h: &mut H, conn: u64, id: &str, skills: serde_json::Value) {
    h.ok(conn, "connectAgent", json!({ "id": id, "skills": skills }));
}

#[test]
fn bad_skills_are_bad_payload_and_change_nothing() {
    let mut h = H::new(RoutingConfig::default());
    for bad in [json!({"es": 9}), json!("es"), json!([true])] {
        assert_eq!(
            h.feed(1, "connectAgent", json!({"id": "a", "skills": bad})),
            Err(ErrorCode::BadPayload)
        );
    }
    assert_eq!(h.r.stats().agents, 0);
    h.user(10, "u");
    assert_eq!(
        h.feed(10, "callAgent", json!({"skills": {"es": 0}})),
        Err(ErrorCode::BadPayload)
    );
    assert_eq!(h.r.stats().queue_length, 0);
}

#[test]
fn the_token_skills_replace_the_clients() {
    let mut h = H::new(RoutingConfig::default());
    let identity = Identity {
        skills: Some(sk(json!({"es": 5}))),
        ..Identity::default()
    };
    let data = json!({"id": "a", "skills": {"billing": 5}});
    h.register_as(1, Role::Agent, data, identity).unwrap();
    h.user(10, "u");
    let out = h.ok(10, "callAgent", json!({"skills": ["billing"]}));
    assert_eq!(events(&out), vec![(10, "queued")]);
    h.user(11, "v");
    let out = h.ok(11, "callAgent", json!({"skills": {"es": 5}}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "v");
}

fn steps_config() -> RoutingConfig {
    RoutingConfig {
        skill_steps: vec![
            SkillStep {
                after: Duration::from_millis(300),
                lower: sk(json!({"billing": 2})),
                ..SkillStep::default()
            },
            SkillStep {
                after: Duration::from_millis(600),
                drop: vec!["es".into()],
                ..SkillStep::default()
            },
        ],
        skill_wait: Duration::from_millis(1000),
        ..RoutingConfig::default()
    }
}

#[test]
fn a_matched_agent_is_chosen_over_an_idle_unmatched_one() {
    let mut h = H::new(RoutingConfig::default());
    // The unmatched agent has been idle longest.
    h.agent(1, "idle");
    agent_with(&mut h, 2, "es", json!({"es": 3}));
    h.user(10, "u");
    let out = h.ok(10, "callAgent", json!({"skills": ["es"]}));
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "es");
    // Without skills the longest idle is chosen, as always.
    h.user(11, "v");
    let out = h.ok(11, "callAgent", json!({}));
    assert_eq!(data_of(&out, 11, "callAgent")["agentId"], "idle");
}

#[test]
fn each_step_relaxes_the_requirement_when_it_expires() {
    let mut h = H::new(steps_config());
    h.user(10, "u");
    h.ok(10, "callAgent", json!({"skills": {"billing": 4, "es": 2}}));
    agent_with(&mut h, 1, "low", json!({"billing": 2, "es": 2}));
    agent_with(&mut h, 2, "no-es", json!({"billing": 5}));
    h.agent(3, "none");
    assert_eq!(h.r.stats().queue_length, 1, "nobody qualifies yet");
    assert!(events(&h.wait(299)).is_empty());
    // At 300 ms billing 2 is enough: "low" gets it at once.
    let out = h.wait(1);
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "low");

    let mut h = H::new(steps_config());
    h.user(10, "u");
    h.ok(10, "callAgent", json!({"skills": {"billing": 4, "es": 2}}));
    agent_with(&mut h, 2, "no-es", json!({"billing": 5}));
    h.agent(3, "none");
    assert!(events(&h.wait(599)).is_empty());
    let out = h.wait(1);
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "no-es");

    let mut h = H::new(steps_config());
    h.user(10, "u");
    h.ok(10, "callAgent", json!({"skills": {"billing": 4, "es": 2}}));
    h.agent(3, "none");
    // After the last step (600 ms), skill_wait (1000 ms) more, then any agent.
    assert!(events(&h.wait(1599)).is_empty());
    let out = h.wait(1);
    assert_eq!(data_of(&out, 10, "callAgent")["agentId"], "none");
}

#[test]
fn a_strict_last_step_never_falls_back_to_any_agent() {
    let mut config = steps_config();
    config.skill_steps[1].strict = true;
    let mut h = H::new(config);
    h.agent(3, "none");
    h.user(10, "u");
    h.ok(10, "callAgent", json!({"skills": {"billing": 4, "es": 2}}));
    assert!(events(&h.wait(60_000)).is_empty());
    assert_eq!(h.r.stats().queue_length, 1);
    agent_with(&mut h, 1, "b", json!({"billing": 2}));
    assert_eq!(h.r.stats().queue_length, 0);
}

#[test]
fn with_no_steps_the_requirement_holds_skill_wait() {
    let config = RoutingConfig {
        skill_wait: Duration::from_millis(500),
        ..offers()
    };
    let mut h = H::new(config);
    h.agent(3, "none");
    h.user(10, "u");
    h.ok(10, "callAgent", json!({"skills": ["es"]}));
    assert!(events(&h.wait(499)).is_empty());
    let out = h.wait(1);
    assert_eq!(events(&out), vec![(3, "callOffered")]);
}

#[test]
fn a_freed_agent_takes_the_best_user_it_qualifies_for() {
    let mut h = H::new(vip(true));
    agent_with(&mut h, 1, "es", json!({"es": 5}));
    h.user(20, "busy");
    h.ok(20, "callAgent", json!({}));
    h.user(10, "fr");
    h.ok(10, "callAgent", json!({"skills": ["fr"]}));
    h.user(11, "any");
    h.ok(11, "callAgent", json!({}));
    h.user(12, "es-vip");
    h.ok(12, "callAgent", json!({"skills": ["es"], "entry": "vip"}));
    let out = h.ok(1, "leaveCall", json!({}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "es-vip");
    let out = h.ok(1, "leaveCall", json!({}));
    assert_eq!(
        data_of(&out, 1, "callAgent")["userId"],
        "any",
        "fr is skipped"
    );
}

mod index {
    //! The waiting index chooses what a scan of the whole queue in order would.
    use super::super::Skills;
    use crate::routing::ids::{CallId, PeerId};
    use crate::routing::party::PartyId;
    use crate::routing::queue::{Queue, Request, Ticket};
    use proptest::prelude::*;

    const NAMES: [&str; 4] = ["a", "b", "c", "d"];

    fn skills() -> impl Strategy<Value = Skills> {
        proptest::collection::vec((0usize..4, 1u8..=5), 0..3)
            .prop_map(|v| Skills::of(v.into_iter().map(|(n, l)| (NAMES[n], l))).unwrap())
    }

    proptest! {
        #[test]
        fn index_choice_equals_scan(
            tickets in proptest::collection::vec((-2i64..3, skills(), any::<bool>(), 0u64..4), 0..40),
            agent in skills(),
            agent_id in 0u64..4,
            relax in proptest::collection::vec((0usize..40, skills()), 0..5),
        ) {
            let now = crate::test_clock::epoch();
            let mut q = Queue::default();
            for (i, (rank, need, offered, excluded)) in tickets.iter().enumerate() {
                let request = Request {
                    key: q.new_key(),
                    priority: *rank as i32,
                    excluded: vec![PartyId::made_up(*excluded)],
                    ..Request::default()
                };
                let mut t = Ticket::new(PartyId::made_up(100 + i as u64), PeerId::Int(i as i64), request, now);
                t.need = need.clone();
                q.insert(now, CallId(i as u64), t);
                if *offered {
                    q.set_offer(CallId(i as u64), Some(PartyId::made_up(99)));
                }
            }
            for (i, need) in relax {
                q.set_need(CallId(i as u64), need);
            }
            let me = PartyId::made_up(agent_id);
            let fits = |t: &Ticket| t.allows(me);
            prop_assert_eq!(q.first_waiting(&agent, fits), q.first_waiting_scan(&agent, fits));
            // The count of distinct requirements waiting (max_skill_sets) follows every
            // change: relaxing, offers, re-ranking, leaving.
            let (kept, scanned) = q.skill_sets_kept_and_scanned();
            prop_assert_eq!(kept, scanned);
            q.set_aging(now, Some(std::time::Duration::from_secs(10)));
            let (kept, scanned) = q.skill_sets_kept_and_scanned();
            prop_assert_eq!(kept, scanned);
            for i in (0..tickets.len()).step_by(2) {
                q.remove(now, CallId(i as u64));
            }
            let (kept, scanned) = q.skill_sets_kept_and_scanned();
            prop_assert_eq!(kept, scanned);
        }
    }

    proptest! {
        /// The queue serves higher effective priority first (priority + waited / aging,
        /// compared at any one instant), earlier asks first within it.
        #[test]
        fn service_order_is_priority_then_first_come(
            users in proptest::collection::vec((-3i32..4, 0u64..50_000), 1..40),
            aging_s in proptest::option::of(1u64..30),
        ) {
            use std::time::Duration;
            let now = crate::test_clock::epoch();
            let aging = aging_s.map(Duration::from_secs);
            // Users ask in time order.
            let mut users = users;
            users.sort_by_key(|u| u.1);
            // Ranked without aging first: the reload to `aging` re-ranks everyone.
            let mut q = Queue::default();
            for (i, (p, at)) in users.iter().enumerate() {
                let request = Request {
                    key: q.new_key(),
                    priority: *p,
                    asked_ms: *at,
                    ..Request::default()
                };
                let t = Ticket::new(PartyId::made_up(i as u64), PeerId::Int(i as i64), request, now);
                q.insert(now, CallId(i as u64), t);
            }
            q.set_aging(now, aging);
            let mut served = Vec::new();
            while let Some(id) = q.first_waiting(&Skills::default(), |_| true) {
                q.remove(now, id);
                served.push(id.0 as usize);
            }
            // Effective priority at a late instant T, in exact integer arithmetic
            // (scaled by the aging period): p * A + (T - at).
            let t_end = 100_000i64;
            let eff = |i: usize| -> i64 {
                let (p, at) = users[i];
                match aging {
                    None => i64::from(p),
                    Some(a) => i64::from(p) * a.as_millis() as i64 + (t_end - at as i64),
                }
            };
            let mut expected: Vec<usize> = (0..users.len()).collect();
            expected.sort_by_key(|&i| (std::cmp::Reverse(eff(i)), i));
            prop_assert_eq!(served, expected);
        }
    }

    proptest! {
        /// The per-skill ready index picks the agent the strategy's filtered pick would.
        #[test]
        fn ready_index_pick_equals_filtered_pick(
            agents in proptest::collection::vec((skills(), any::<bool>()), 0..30),
            need in skills(),
            strategy in 0usize..6,
        ) {
            use crate::routing::config::{RoutingConfig, Strategy};
            use crate::routing::testkit::H;
            use serde_json::{json, Map, Value};
            let config = RoutingConfig {
                strategy: Strategy::ALL[strategy],
                ..RoutingConfig::default()
            };
            let mut h = H::new(config);
            for (i, (skills, away)) in agents.iter().enumerate() {
                let levels: Map<String, Value> =
                    skills.iter().map(|(n, l)| (n.to_owned(), json!(l))).collect();
                let conn = 1 + i as u64;
                h.ok(conn, "connectAgent", json!({"id": i, "skills": levels}));
                if *away {
                    h.ok(conn, "toggleAvailability", json!({"available": false}));
                }
            }
            let parties = &h.r.parties;
            let scan = h.r.free.pick(parties, None, |a| {
                parties.agent(a).is_some_and(|a| a.skills.covers(&need))
            });
            if Strategy::ALL[strategy] != Strategy::Random {
                prop_assert_eq!(h.r.pick_for(&need, |_| true), scan);
            } else {
                let got = h.r.pick_for(&need, |_| true);
                prop_assert_eq!(got.is_some(), scan.is_some());
            }
        }
    }
}

#[test]
fn a_transfer_prefers_an_agent_with_the_calls_skills() {
    let mut h = H::new(RoutingConfig::default());
    agent_with(&mut h, 1, "es1", json!({"es": 5}));
    h.user(10, "u");
    h.ok(10, "callAgent", json!({"skills": ["es"]}));
    // Idle longest among the others, but without the skill.
    h.agent(2, "plain");
    agent_with(&mut h, 3, "es2", json!({"es": 2}));
    let out = h.ok(1, "callTransfer", json!({}));
    assert_eq!(data_of(&out, 10, "callTransfer")["agentId"], "es2");
    // With no skilled agent left (es1 steps away), any agent.
    h.ok(1, "toggleAvailability", json!({"available": false}));
    let out = h.ok(3, "callTransfer", json!({}));
    assert_eq!(data_of(&out, 10, "callTransfer")["agentId"], "plain");
    // Named, as named.
    h.ok(1, "toggleAvailability", json!({"available": true}));
    let out = h.ok(2, "callTransfer", json!({"toAgentId": "es1"}));
    assert_eq!(data_of(&out, 10, "callTransfer")["agentId"], "es1");
}

/// Clients choose their own skills: past `max_skill_sets` distinct requirements waiting, a
/// request with yet another one is refused (`queue_full`), so that a freed agent never
/// looks at more; requirements already waiting, and "any agent", still queue, and a
/// requirement that relaxes at 0 ms into a waiting one counts as that one.
#[test]
fn distinct_skill_requirements_waiting_are_bounded() {
    let mut h = H::new(RoutingConfig {
        max_skill_sets: 2,
        skill_steps: vec![SkillStep {
            after: std::time::Duration::ZERO,
            drop: vec!["relaxed".into()],
            ..SkillStep::default()
        }],
        ..RoutingConfig::default()
    });
    for (conn, id) in [
        (10, "u0"),
        (11, "u1"),
        (12, "u2"),
        (13, "u3"),
        (14, "u4"),
        (15, "u5"),
    ] {
        h.user(conn, id);
    }
    let ask =
        |skills: serde_json::Value| json!({ "roomId": format!("r{skills}"), "skills": skills });
    h.ok(10, "callAgent", ask(json!(["billing"])));
    h.ok(11, "callAgent", ask(json!(["es"])));
    assert_eq!(
        h.feed(12, "callAgent", ask(json!(["fr"]))).err(),
        Some(ErrorCode::QueueFull)
    );
    // The same requirement as one waiting, one that relaxes into it, and none at all.
    h.ok(
        12,
        "callAgent",
        json!({"roomId": "r12", "skills": ["billing"]}),
    );
    h.ok(13, "callAgent", ask(json!(["es", "relaxed"])));
    h.ok(14, "callAgent", json!({"roomId": "r14"}));
    // Once the "es" users are gone, "fr" has room.
    h.ok(11, "leaveCall", json!({}));
    assert_eq!(
        h.feed(15, "callAgent", ask(json!(["fr"]))).err(),
        Some(ErrorCode::QueueFull),
        "u3 still waits for es"
    );
    h.ok(13, "leaveCall", json!({}));
    h.ok(15, "callAgent", ask(json!(["fr"])));
    // An agent with the skill takes "any agent" first (ahead in line), then its fr user.
    let out = h.ok(1, "connectAgent", json!({"id": "a", "skills": ["fr"]}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "u4");
    let out = h.ok(1, "leaveCall", json!({}));
    assert_eq!(data_of(&out, 1, "callAgent")["userId"], "u5");
}
