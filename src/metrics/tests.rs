use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};

use super::names as n;
use super::*;

fn text_of(m: &Metrics) -> String {
    let (content_type, body) = render(&m.registry()).expect("encode");
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    String::from_utf8(body).expect("utf-8")
}

fn has_sample(text: &str, sample: &str, value: &str) -> bool {
    text.lines().any(|l| l == format!("{sample} {value}"))
}

#[test]
fn every_metric_is_exported_at_zero() {
    let m = Metrics::new();
    let text = text_of(&m);

    for name in n::ALL_NAMES {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "missing family {name}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "no help {name}");
    }
    for plain in [
        n::CONNECTED_USERS,
        n::CONNECTED_AGENTS,
        n::AVAILABLE_AGENTS,
        n::ACTIVE_CALLS,
        n::CALLS_STARTED,
        n::SLOW_CONSUMERS,
    ] {
        assert!(has_sample(&text, plain, "0"), "{plain}");
    }
    let labelled: [(&str, &str, &[&str]); 7] = [
        (
            n::OPEN_CONNECTIONS,
            n::LABEL_TRANSPORT,
            &Transport::ALL
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
        ),
        (n::EVENTS_RECEIVED, n::LABEL_EVENT, n::EVENT_VALUES),
        (n::EVENTS_SENT, n::LABEL_EVENT, n::EVENT_VALUES),
        (n::ERRORS, n::LABEL_CODE, n::CODE_VALUES),
        (n::CALLS_ENDED, n::LABEL_REASON, n::END_VALUES),
        (
            n::CONFIG_RELOADS,
            n::LABEL_RESULT,
            &ReloadResult::ALL
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            n::CONNECTIONS_REJECTED,
            n::LABEL_REASON,
            &RejectReason::ALL
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
        ),
    ];
    for (name, label, values) in labelled {
        for v in values {
            let sample = format!("{name}{{{label}=\"{v}\"}}");
            assert!(has_sample(&text, &sample, "0"), "missing {sample} 0");
        }
    }
    for le in n::CALL_DURATION_BUCKETS
        .iter()
        .map(|b| b.to_string())
        .chain(["+Inf".to_string()])
    {
        let sample = format!("{}_bucket{{le=\"{le}\"}}", n::CALL_DURATION);
        assert!(has_sample(&text, &sample, "0"), "missing {sample}");
    }
    assert!(has_sample(
        &text,
        &format!("{}_count", n::CALL_DURATION),
        "0"
    ));
    #[cfg(target_os = "linux")]
    assert!(text.contains("# TYPE process_open_fds gauge"));
}

/// One server event of each kind, in declaration order.
fn every_server_event() -> Vec<ServerEvent> {
    use crate::routing::{PeerId, Rejection, Role};
    let map = || std::rc::Rc::new(serde_json::Map::new());
    let raw = || serde_json::value::RawValue::from_string("\"hi\"".into()).expect("raw");
    vec![
        ServerEvent::Registered {
            role: Role::User,
            id: PeerId::Int(1),
            resume_token: None,
            resumed: false,
            capacity: None,
        },
        ServerEvent::AvailableAgents { count: 2 },
        ServerEvent::CallAgent(map()),
        ServerEvent::CallTransfer(map()),
        ServerEvent::CallEnded {
            room: PeerId::Int(3),
            reason: routing::EndReason::Left,
            by: None,
        },
        ServerEvent::UserMessage {
            room: PeerId::Int(3),
            message: raw(),
            attachments: None,
        },
        ServerEvent::AgentMessage {
            room: PeerId::Int(3),
            message: raw(),
            attachments: None,
        },
        ServerEvent::Mute(map()),
        ServerEvent::error(
            Rejection::new(routing::ErrorCode::Forbidden, "no"),
            Some("mute"),
        ),
        ServerEvent::Queued {
            room: PeerId::Int(3),
            position: 1,
            queue_length: 1,
            estimated_wait_secs: None,
            reason: None,
        },
        ServerEvent::CallOffered(map()),
        ServerEvent::OfferExpired {
            room: PeerId::Int(3),
        },
        ServerEvent::WrapUp {
            room: PeerId::Int(3),
            duration_ms: 5,
        },
        ServerEvent::AvailabilityChanged {
            available: false,
            reason: routing::AvailabilityReason::NoAnswer,
        },
        ServerEvent::PeerDisconnected {
            room: PeerId::Int(1),
        },
        ServerEvent::PeerReconnected {
            room: PeerId::Int(1),
        },
        ServerEvent::Ack { seq: 1 },
        ServerEvent::Signal {
            room: PeerId::Int(3),
            data: raw(),
        },
        ServerEvent::CallState {
            room: PeerId::Int(3),
            muted: routing::Muted::default(),
            peer_muted: routing::Muted::default(),
        },
    ]
}

#[test]
fn label_sets_are_fixed_and_counted() {
    let m = Metrics::new();
    m.received(Some(ClientEvent::CallAgent));
    m.received(None);
    m.received(None);
    m.sent(&ServerEvent::AvailableAgents { count: 1 });
    m.sent_n(&ServerEvent::AvailableAgents { count: 1 }, 4);
    m.rejected(routing::ErrorCode::NoAgentAvailable);
    m.connection_opened(Transport::Native);
    m.connection_opened(Transport::Polling);
    m.connection_closed(Transport::Polling);
    m.call_started();
    m.call_finished(routing::EndReason::Left, Duration::from_secs(42));
    m.config_reload(false);
    m.slow_consumer();
    m.connection_rejected(RejectReason::Origin);
    m.connected_users.set(3);

    let text = text_of(&m);
    let t = |s: &str, v: &str| assert!(has_sample(&text, s, v), "{s} {v}\n{text}");
    t(r#"support_events_received_total{event="callAgent"}"#, "1");
    t(r#"support_events_received_total{event="other"}"#, "2");
    t(
        r#"support_events_sent_total{event="getAvailableAgents"}"#,
        "5",
    );
    t(r#"support_events_sent_total{event="registered"}"#, "0");
    t(r#"support_errors_total{code="no_agent_available"}"#, "1");
    t(r#"support_errors_total{code="other"}"#, "0");
    t(r#"support_open_connections{transport="native"}"#, "1");
    t(r#"support_open_connections{transport="polling"}"#, "0");
    t("support_calls_started_total", "1");
    t(r#"support_calls_ended_total{reason="left"}"#, "1");
    t(r#"support_call_duration_seconds_bucket{le="30"}"#, "0");
    t(r#"support_call_duration_seconds_bucket{le="60"}"#, "1");
    t("support_call_duration_seconds_sum", "42");
    t(r#"support_config_reloads_total{result="failure"}"#, "1");
    t("support_slow_consumers_total", "1");
    t(
        r#"support_connections_rejected_total{reason="origin"}"#,
        "1",
    );
    t("support_connected_users", "3");
}

/// Each routing value counts in exactly its own series, labelled as before the tables.
#[test]
fn routing_enums_count_under_todays_labels() {
    // Every labelled family's samples, "series value" lines.
    fn samples(m: &Metrics, family: &str) -> Vec<String> {
        let prefix = format!("{family}{{");
        let text = text_of(m);
        text.lines()
            .filter(|l| l.starts_with(&prefix))
            .map(str::to_owned)
            .collect()
    }
    fn only(m: &Metrics, family: &str, label: &str, value: &str) {
        let want = format!("{family}{{{label}=\"{value}\"}} 1");
        for s in samples(m, family) {
            let expected = if s == want { "1" } else { "0" };
            assert!(s.ends_with(&format!(" {expected}")), "{s} (wanted {want})");
        }
        assert!(samples(m, family).contains(&want), "{want}");
    }
    for e in ClientEvent::ALL {
        let m = Metrics::new();
        m.received(Some(e));
        only(&m, n::EVENTS_RECEIVED, n::LABEL_EVENT, e.name());
    }
    let m = Metrics::new();
    m.received(None);
    only(&m, n::EVENTS_RECEIVED, n::LABEL_EVENT, n::OTHER);
    for e in every_server_event() {
        let m = Metrics::new();
        m.sent(&e);
        only(&m, n::EVENTS_SENT, n::LABEL_EVENT, e.name());
    }
    for c in routing::ErrorCode::ALL {
        let m = Metrics::new();
        m.rejected(c);
        only(&m, n::ERRORS, n::LABEL_CODE, c.as_str());
    }
    for r in routing::EndReason::ALL {
        let m = Metrics::new();
        m.call_finished(r, Duration::from_secs(1));
        only(&m, n::CALLS_ENDED, n::LABEL_REASON, r.as_str());
    }
}

#[test]
fn tables_cover_every_variant_once() {
    use tables::Slot;
    let events = every_server_event();
    assert_eq!(events.len(), <ServerEvent as Slot>::COUNT);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.slot(), i, "{}", e.name());
        assert_eq!(<ServerEvent as Slot>::label(i), e.name());
    }
    for e in ClientEvent::ALL {
        assert_eq!(tables::received_label(Some(e)), e.name());
    }
    assert_eq!(tables::received_label(None), n::OTHER);
    for c in routing::ErrorCode::ALL {
        assert_eq!(tables::code_label(c), c.as_str());
    }
    for r in routing::EndReason::ALL {
        assert_eq!(tables::end_label(r), r.as_str());
    }
    // Every label a table uses is in its family's fixed set.
    for i in 0..<Option<ClientEvent> as Slot>::COUNT {
        assert!(n::EVENT_VALUES.contains(&<Option<ClientEvent> as Slot>::label(i)));
    }
    for i in 0..<ServerEvent as Slot>::COUNT {
        assert!(n::EVENT_VALUES.contains(&<ServerEvent as Slot>::label(i)));
    }
    for c in routing::ErrorCode::ALL {
        assert!(n::CODE_VALUES.contains(&tables::code_label(c)));
    }
    for r in routing::EndReason::ALL {
        assert!(n::END_VALUES.contains(&tables::end_label(r)));
    }
}

#[test]
fn enum_lookups() {
    assert_eq!(Transport::parse("native"), Some(Transport::Native));
    assert_eq!(Transport::parse("smoke"), None);
    assert_eq!(
        RejectReason::parse("bad_request"),
        Some(RejectReason::BadRequest)
    );
    assert_eq!(ReloadResult::parse("success"), Some(ReloadResult::Success));
    for (i, t) in Transport::ALL.iter().enumerate() {
        assert_eq!(t.idx(), i);
        assert_eq!(Transport::parse(t.as_str()), Some(*t));
    }
    for (i, r) in RejectReason::ALL.iter().enumerate() {
        assert_eq!(r.idx(), i);
        assert_eq!(RejectReason::parse(r.as_str()), Some(*r));
    }
    for (i, r) in LimitReason::ALL.iter().enumerate() {
        assert_eq!(r.idx(), i);
        assert_eq!(LimitReason::parse(r.as_str()), Some(*r));
        let m = Metrics::new();
        m.limit(*r);
        assert_eq!(m.limits(*r).get(), 1);
    }
    for (i, r) in ReloadResult::ALL.iter().enumerate() {
        assert_eq!(r.idx(), i);
        assert_eq!(ReloadResult::parse(r.as_str()), Some(*r));
    }
}

/// The exported `event`, `code` and `reason` label sets, pinned: the values the removed
/// label enums (`Event`, `ErrorCode`, `EndReason`) had, in their order, then those the call
/// queue added.
#[test]
fn fixed_label_sets_are_unchanged() {
    assert_eq!(
        n::EVENT_VALUES,
        [
            "connectUser",
            "connectAgent",
            "callAgent",
            "rejectCall",
            "callTransfer",
            "toggleAvailability",
            "userMessage",
            "agentMessage",
            "leaveCall",
            "mute",
            "registered",
            "getAvailableAgents",
            "callEnded",
            "error",
            "acceptCall",
            "queued",
            "callOffered",
            "offerExpired",
            "wrapUp",
            "availabilityChanged",
            "peerDisconnected",
            "peerReconnected",
            "ack",
            "signal",
            "callState",
            "other",
        ]
    );
    assert_eq!(
        n::CODE_VALUES,
        [
            "bad_json",
            "bad_message",
            "unknown_event",
            "bad_payload",
            "not_registered",
            "already_registered",
            "id_in_use",
            "forbidden",
            "not_in_call",
            "already_in_call",
            "room_in_use",
            "no_agent_available",
            "binary_unsupported",
            "queue_full",
            "unauthorized",
            "token_expired",
            "session_replaced",
            "rate_limited",
            "too_large",
            "other",
        ]
    );
    assert_eq!(
        n::END_VALUES,
        [
            "left",
            "rejected",
            "transferred",
            "disconnected",
            "cancelled",
            "timeout",
            "other"
        ]
    );
}

/// Each fixed label set is exactly what its tables can count, plus "other" (and no
/// duplicates), so no pre-created series is dead by accident and none is missing.
#[test]
fn fixed_label_sets_match_the_tables() {
    use std::collections::BTreeSet;
    use tables::Slot;
    fn set(values: &[&'static str]) -> BTreeSet<&'static str> {
        let s: BTreeSet<_> = values.iter().copied().collect();
        assert_eq!(s.len(), values.len(), "duplicate label value in {values:?}");
        s
    }
    let mut events: BTreeSet<_> = (0..<Option<ClientEvent> as Slot>::COUNT)
        .map(<Option<ClientEvent> as Slot>::label)
        .chain((0..<ServerEvent as Slot>::COUNT).map(<ServerEvent as Slot>::label))
        .collect();
    events.insert(n::OTHER);
    assert_eq!(set(n::EVENT_VALUES), events);
    let mut codes: BTreeSet<_> = routing::ErrorCode::ALL
        .into_iter()
        .map(tables::code_label)
        .collect();
    codes.insert(n::OTHER);
    assert_eq!(set(n::CODE_VALUES), codes);
    let mut ends: BTreeSet<_> = routing::EndReason::ALL
        .into_iter()
        .map(tables::end_label)
        .collect();
    ends.insert(n::OTHER);
    assert_eq!(set(n::END_VALUES), ends);
}

/// Structural check of the exposition format; also runs `promtool check
/// metrics` when promtool is installed (scripts/check-ops.sh installs it).
#[test]
fn exposition_format_is_valid() {
    let m = Metrics::new();
    m.call_finished(routing::EndReason::Rejected, Duration::from_millis(1500));
    let text = text_of(&m);
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().expect("name");
            let kind = parts.next().expect("kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "duplicate family {name}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
        let name = series.split('{').next().expect("name");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before TYPE: {line}");
    }

    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match promtool {
        Ok(mut child) => {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write");
            let out = child.wait_with_output().expect("promtool");
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => eprintln!("promtool not installed; skipped promtool check"),
    }
}

#[test]
fn health_is_fresh_for_five_seconds() {
    let now = 1_700_000_000_000;
    assert!(health(now, now));
    assert!(health(now, now - 4_999));
    assert!(!health(now, now - 5_000));
    assert!(!health(now, now - 60_000));
    assert!(!health(now, 0), "never stamped");
    assert!(health(now, now + 1_000), "clock stepped back");

    let hb = AtomicU64::new(0);
    stamp(&hb);
    assert!(health(
        now_ms(),
        hb.load(std::sync::atomic::Ordering::Relaxed)
    ));
}

#[test]
fn routing_and_methods() {
    let m = Metrics::new();
    let reg = m.registry();
    let hb = AtomicU64::new(0);
    let status = |method: &Method, path: &str, hb: &AtomicU64| {
        server::respond(method, path, &reg, hb).status()
    };
    assert_eq!(status(&Method::GET, "/metrics", &hb), StatusCode::OK);
    assert_eq!(
        status(&Method::GET, "/healthz", &hb),
        StatusCode::SERVICE_UNAVAILABLE
    );
    stamp(&hb);
    assert_eq!(status(&Method::GET, "/healthz", &hb), StatusCode::OK);
    assert_eq!(status(&Method::GET, "/", &hb), StatusCode::NOT_FOUND);
    assert_eq!(
        status(&Method::GET, "/metrics/x", &hb),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(&Method::POST, "/metrics", &hb),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        status(&Method::HEAD, "/healthz", &hb),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

fn get(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn server_over_tcp() {
    let m = Metrics::new();
    m.connected_agents.set(7);
    let hb = Arc::new(AtomicU64::new(0));
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _thread = serve(listener, m.registry(), hb.clone()).expect("serve");

    let r = get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r
        .to_ascii_lowercase()
        .contains("content-type: text/plain; version=0.0.4"));
    assert!(r.contains("\nsupport_connected_agents 7\n"), "{r}");

    let r = get(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    stamp(&hb);
    let r = get(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\nok\n"), "{r}");

    let r = get(
        addr,
        "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 404 "), "{r}");
    let r = get(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
    let r = get(addr, "garbage\r\n\r\n");
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 400 "), "{r}");
}

#[test]
fn routing_families_are_exported_and_fed_by_the_routing_enums() {
    let m = Metrics::new();
    let text = text_of(&m);
    assert!(has_sample(&text, n::QUEUE_LENGTH, "0"));
    for s in routing::AgentState::ALL {
        let sample = format!("{}{{{}=\"{}\"}}", n::AGENTS, n::LABEL_STATE, s.as_str());
        assert!(has_sample(&text, &sample, "0"), "{sample}");
    }
    for r in routing::OfferResult::ALL {
        let sample = format!("{}{{{}=\"{}\"}}", n::OFFERS, n::LABEL_RESULT, r.as_str());
        assert!(has_sample(&text, &sample, "0"), "{sample}");
    }
    for o in routing::QueueOutcome::ALL {
        let sample = format!(
            "{}_count{{{}=\"{}\"}}",
            n::QUEUE_WAIT,
            n::LABEL_OUTCOME,
            o.as_str()
        );
        assert!(has_sample(&text, &sample, "0"), "{sample}");
    }
    assert_eq!(n::QUEUE_WAIT_BUCKETS.last(), Some(&1800.0));

    m.queue_left(routing::QueueOutcome::Timeout, Duration::from_secs(45));
    m.offer(routing::OfferResult::Expired);
    m.offer(routing::OfferResult::Expired);
    let mut stats = routing::Stats {
        queue_length: 3,
        agents: 4,
        ..Default::default()
    };
    stats.agents_by_state[routing::AgentState::WrapUp as usize] = 4;
    m.set_routing_gauges(&stats);
    let text = text_of(&m);
    assert!(has_sample(&text, n::QUEUE_LENGTH, "3"));
    assert!(has_sample(&text, n::CONNECTED_AGENTS, "4"));
    assert!(has_sample(&text, "support_agents{state=\"wrap_up\"}", "4"));
    assert!(has_sample(
        &text,
        "support_offers_total{result=\"expired\"}",
        "2"
    ));
    assert!(has_sample(
        &text,
        "support_queue_wait_seconds_count{outcome=\"timeout\"}",
        "1"
    ));
    assert!(has_sample(
        &text,
        "support_queue_wait_seconds_bucket{outcome=\"timeout\",le=\"30\"}",
        "0"
    ));
    assert!(has_sample(
        &text,
        "support_queue_wait_seconds_bucket{outcome=\"timeout\",le=\"60\"}",
        "1"
    ));
}
