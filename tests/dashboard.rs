//! The Grafana dashboard (etc/grafana/supportd.json) names only metrics the daemon exports.
//!
//! Why: a dashboard whose queries name a metric that was renamed or never existed shows an
//! empty panel and no error. This test reads every query of the shipped dashboard, starts
//! the real daemon with metrics on, drives a user, an agent, a call, a message and an error
//! through it, scrapes `/metrics`, and checks that every metric name (and every histogram
//! bucket bound) a query uses is in the scrape.
mod common;
use common::{raw_http, Client, Daemon};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const DASHBOARD: &str = include_str!("../etc/grafana/supportd.json");

const WITH_METRICS: &str = "[metrics]\nenabled = true\nbind = \"127.0.0.1\"\nport = 0\n";

/// Prefixes of the metric families a query may name: supportd's own and the process
/// collector's.
const PREFIXES: &[&str] = &["support_", "process_"];

/// The dashboard, parsed.
fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("etc/grafana/supportd.json is JSON")
}

/// Every PromQL query of the dashboard: each panel target's `expr` and each templating
/// variable's query, with where it comes from.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        let title = p["title"].as_str().unwrap_or("?");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((format!("panel {title:?}"), e.to_string()));
            }
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(q) = v["query"]["query"].as_str().or(v["query"].as_str()) {
            out.push((format!("variable {:?}", v["name"]), q.to_string()));
        }
    }
    out
}

/// The identifiers of a PromQL expression outside string literals, each with the first
/// non-blank character after it (to tell a selector `x{` / `x[` from a function `f(`).
fn identifiers(expr: &str) -> Vec<(String, Option<char>)> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            // Skip the string literal (label values, regexes), escapes included.
            while let Some(s) = chars.next() {
                if s == '\\' {
                    chars.next();
                } else if s == c {
                    break;
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut id = c.to_string();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' || n == ':' {
                    id.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            let rest: String = chars.clone().collect();
            out.push((id, rest.trim_start().chars().next()));
        } else if c.is_ascii_digit() {
            // A number or a duration (5m, 1h, 0.99): not an identifier.
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '.')
            {
                chars.next();
            }
        }
    }
    out
}

/// The metric names `expr` uses: identifiers with a known prefix.
fn metric_names(expr: &str) -> Vec<String> {
    identifiers(expr)
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| PREFIXES.iter().any(|p| id.starts_with(p)))
        .collect()
}

/// The `le="…"` bucket bounds `expr` selects.
fn bucket_bounds(expr: &str) -> Vec<String> {
    expr.match_indices("le=\"")
        .filter_map(|(i, m)| {
            let rest = &expr[i + m.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// The body of a `/metrics` scrape.
fn scrape(d: &Daemon) -> String {
    let addr = d.metrics_addr.expect("metrics address in the log");
    let r = raw_http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    r
}

/// The sample names of a scrape (`name{labels} value` or `name value` lines).
fn sample_names(text: &str) -> BTreeSet<String> {
    let body = text.split_once("\r\n\r\n").map_or(text, |(_, b)| b);
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// Scrapes until the scrape contains `needle` (gauges and counters are set once per turn).
fn scrape_until(d: &Daemon, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(d);
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "never saw {needle}:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_panel_has_a_datasource_and_a_query() {
    let d = dashboard();
    let input = &d["__inputs"][0];
    assert_eq!(input["name"], json!("DS_PROMETHEUS"), "{input}");
    assert_eq!(input["pluginId"], json!("prometheus"), "{input}");
    let ds = json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
    let panels = d["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().expect("every panel has a title");
        assert!(ids.insert(p["id"].as_u64()), "{title}: duplicate panel id");
        assert_eq!(p["datasource"], ds, "{title}: panel datasource");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            assert_eq!(t["datasource"], ds, "{title}: target datasource");
            let expr = t["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "{title}: a target without expr");
            assert!(
                !metric_names(expr).is_empty(),
                "{title}: {expr} names no supportd metric"
            );
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        assert_eq!(v["datasource"], ds, "variable {}", v["name"]);
    }
}

#[test]
fn the_tokenizer_finds_names_outside_strings() {
    let e = "histogram_quantile(0.9, sum by (le) (rate(support_x_bucket{a=\"support_no\",le=\"20\"}[5m]))) / process_y";
    assert_eq!(metric_names(e), ["support_x_bucket", "process_y"]);
    assert_eq!(bucket_bounds(e), ["20"]);
}

#[test]
fn every_metric_the_dashboard_names_is_exported() {
    let dash = dashboard();
    let queries = queries(&dash);
    // A selector (`name{`, `name[`, or a bare name) that is not one of ours would be a
    // metric this test cannot vouch for.
    for (place, q) in &queries {
        for (id, next) in identifiers(q) {
            let selector = matches!(next, Some('{') | Some('['));
            assert!(
                !selector || PREFIXES.iter().any(|p| id.starts_with(p)),
                "{place}: {id} is not a supportd or process metric in {q}"
            );
        }
    }

    let d = Daemon::start(WITH_METRICS);
    let mut a = Client::agent(&d, json!("a1"));
    let mut u = Client::user(&d, json!("u1"));
    u.send("callAgent", json!({}));
    let call = a.expect("callAgent");
    u.expect("callAgent");
    let room = call["roomId"].clone();
    u.send(
        "userMessage",
        json!({"roomId": room, "messageInput": "hello"}),
    );
    a.expect("userMessage");
    u.send("callAgent", json!({}));
    u.expect_error("already_in_call");
    u.send("leaveCall", json!({}));
    u.expect("callEnded");
    a.expect("callEnded");
    scrape_until(&d, "support_calls_ended_total{reason=\"left\"} 1");
    let text = scrape_until(&d, "support_errors_total{code=\"already_in_call\"} 1");

    let exported = sample_names(&text);
    let mut missing = Vec::new();
    for (place, q) in &queries {
        for name in metric_names(q) {
            if !exported.contains(&name) {
                missing.push(format!("{place}: {name}"));
            }
        }
        for le in bucket_bounds(q) {
            if !text.contains(&format!("le=\"{le}\"")) {
                missing.push(format!("{place}: bucket le=\"{le}\""));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard names what /metrics does not export:\n{}\n\nexported: {exported:?}",
        missing.join("\n")
    );
}
