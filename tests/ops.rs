//! Operations end to end: metrics scrape, health, reload on SIGHUP, systemd notifications.
mod common;
use common::{raw_http, Client, Daemon};
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

const WITH_METRICS: &str = "[metrics]\nenabled = true\nbind = \"127.0.0.1\"\nport = 0\n";

fn scrape(d: &Daemon) -> String {
    let addr = d.metrics_addr.expect("metrics address in the log");
    let r = raw_http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    r
}

/// The value of one sample line, e.g. `support_active_calls` or `x{a="b"}`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no sample {series}"))
}

/// Scrapes until `series` has `want`; the loop updates gauges once per turn.
fn wait_sample(d: &Daemon, series: &str, want: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(d);
        if sample(&text, series) == want {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never became {want}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn gauges_follow_a_session() {
    let d = Daemon::start(WITH_METRICS);
    let t = scrape(&d);
    for g in [
        "support_connected_users",
        "support_connected_agents",
        "support_available_agents",
        "support_active_calls",
    ] {
        assert_eq!(sample(&t, g), 0.0, "{g}");
    }
    let mut a = Client::agent(&d, json!("a"));
    let mut u = Client::user(&d, json!("u"));
    wait_sample(&d, "support_connected_agents", 1.0);
    let t = wait_sample(&d, "support_connected_users", 1.0);
    assert_eq!(sample(&t, "support_available_agents"), 1.0);
    assert_eq!(
        sample(&t, "support_open_connections{transport=\"native\"}"),
        2.0
    );
    u.send("callAgent", json!({}));
    a.expect("callAgent");
    u.expect("callAgent");
    let t = wait_sample(&d, "support_active_calls", 1.0);
    assert_eq!(sample(&t, "support_available_agents"), 0.0);
    assert_eq!(sample(&t, "support_calls_started_total"), 1.0);
    u.send("leaveCall", json!({}));
    u.expect("callEnded");
    let t = wait_sample(&d, "support_active_calls", 0.0);
    assert_eq!(
        sample(&t, "support_calls_ended_total{reason=\"left\"}"),
        1.0
    );
    assert_eq!(sample(&t, "support_call_duration_seconds_count"), 1.0);
    assert_eq!(
        sample(&t, "support_events_received_total{event=\"callAgent\"}"),
        1.0
    );
    u.send("callAgent", json!({"userId": "nobody"}));
    u.expect_error("forbidden");
    let t = wait_sample(&d, "support_errors_total{code=\"forbidden\"}", 1.0);
    assert!(
        sample(
            &t,
            "support_events_sent_total{event=\"getAvailableAgents\"}"
        ) >= 2.0
    );
    // The user's connection drops: it is held for a resume, still registered.
    drop(u);
    let t = wait_sample(&d, "support_held_parties", 1.0);
    assert_eq!(sample(&t, "support_connected_users"), 1.0);
    wait_sample(&d, "support_open_connections{transport=\"native\"}", 1.0);
    // The agent leaves for good (a close frame): it is not held.
    a.ws.close(None).unwrap();
    wait_sample(&d, "support_connected_agents", 0.0);
    assert_eq!(sample(&scrape(&d), "support_held_parties"), 1.0);
}

#[test]
fn healthz_answers_while_the_loop_turns() {
    let d = Daemon::start(WITH_METRICS);
    let addr = d.metrics_addr.unwrap();
    let r = raw_http(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = raw_http(
        addr,
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
}

#[test]
fn reload_applies_new_origins_without_dropping_clients() {
    let base = "[server]\nbind = \"127.0.0.1\"\nport = 0\n".to_owned() + WITH_METRICS;
    let d = Daemon::start_with(&base);
    let mut a = Client::agent(&d, json!("a"));
    assert!(Client::connect(d.addr, "/ws", Some("https://new.example")).is_err());
    let text = base.replacen(
        "port = 0\n",
        "port = 0\ncors_origins = [\"https://new.example\"]\n",
        1,
    );
    std::fs::write(&d.config_path, text).unwrap();
    d.signal("HUP");
    d.wait_log("configuration reloaded");
    assert!(Client::connect(d.addr, "/ws", Some("https://new.example")).is_ok());
    let t = scrape(&d);
    assert_eq!(
        sample(&t, "support_config_reloads_total{result=\"success\"}"),
        1.0
    );
    // The client from before the reload is still served.
    a.send("toggleAvailability", json!({"available": false}));
    a.expect_count(0);
}

#[test]
fn invalid_reload_keeps_the_running_config() {
    let base = "[server]\nbind = \"127.0.0.1\"\nport = 0\ncors_origins = [\"https://ok.example\"]\n"
        .to_owned() + WITH_METRICS;
    let d = Daemon::start_with(&base);
    let mut a = Client::agent(&d, json!("a"));
    std::fs::write(
        &d.config_path,
        format!("{base}\n[limits]\nmax_connectoins = 5\n"),
    )
    .unwrap();
    d.signal("HUP");
    let line = d.wait_log("reload failed");
    let path = d.config_path.display().to_string();
    assert!(line.contains(&format!("{path}:")), "names the file: {line}");
    assert!(line.contains("max_connectoins"), "says why: {line}");
    assert!(Client::connect(d.addr, "/ws", Some("https://ok.example")).is_ok());
    let t = scrape(&d);
    assert_eq!(
        sample(&t, "support_config_reloads_total{result=\"failure\"}"),
        1.0
    );
    a.send("toggleAvailability", json!({"available": false}));
    a.expect_count(0);
}

#[test]
fn reload_of_the_port_needs_a_restart() {
    let d = Daemon::start("");
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    std::fs::write(&d.config_path, text.replace("port = 0", "port = 1")).unwrap();
    d.signal("HUP");
    let line = d.wait_log("after a restart");
    assert!(line.contains("server address"), "{line}");
    let _c = d.client();
}

/// The next notification (retrying a receive interrupted by a signal).
fn recv_note(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => return String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("no notification: {e}"),
        }
    }
}

/// Starts supportd with NOTIFY_SOCKET pointing at a datagram socket the test reads.
fn spawn_notified(env: &[(&str, &str)]) -> (common::TempDir, UnixDatagram, std::process::Child) {
    let dir = common::TempDir::new();
    let sock_path = dir.0.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cfg = dir.0.join("c.toml");
    std::fs::write(
        &cfg,
        "[server]\nbind = \"127.0.0.1\"\nport = 0\n[metrics]\nenabled = false\n",
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .arg("--config")
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (dir, sock, child)
}

#[test]
fn notifies_systemd_ready_reloading_stopping() {
    let (_dir, sock, mut child) = spawn_notified(&[]);
    let recv = || recv_note(&sock);
    assert!(recv().contains("READY=1"));
    let pid = child.id().to_string();
    let kill = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
    };
    kill("-HUP");
    let m = recv();
    assert!(
        m.contains("RELOADING=1") && m.contains("MONOTONIC_USEC="),
        "{m}"
    );
    assert!(recv().contains("READY=1"));
    kill("-TERM");
    assert!(recv().contains("STOPPING=1"));
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn check_flag_reports_file_line_and_reason() {
    let dir = common::TempDir::new();
    let cfg = dir.0.join("bad.toml");
    std::fs::write(&cfg, "[server]\nport = 8080\nbindd = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .args(["--check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", cfg.display())), "{err}");
    assert!(err.contains("bindd"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .args(["--check", "--config", "etc/config.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("supportd "));
}

/// A port taken at start-up (metrics or clients) ends the process with status 3, naming it.
#[test]
fn taken_ports_exit_3_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = common::TempDir::new();
    let cfg = dir.0.join("taken.toml");
    for (config, says) in [
        (
            format!("[server]\nbind = \"127.0.0.1\"\nport = 0\n[metrics]\nbind = \"127.0.0.1\"\nport = {port}\n"),
            format!("cannot serve metrics on 127.0.0.1:{port}"),
        ),
        (
            format!("[server]\nbind = \"127.0.0.1\"\nport = {port}\n[metrics]\nenabled = false\n"),
            format!("cannot listen on 127.0.0.1:{port}"),
        ),
    ] {
        std::fs::write(&cfg, config).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
            .arg("--config")
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + common::WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("supportd kept running with port {port} taken");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(3), "{err}");
        assert!(err.contains(&says), "{err}");
    }
}

#[test]
fn pings_the_watchdog_from_the_loop() {
    let (_dir, sock, mut child) = spawn_notified(&[("WATCHDOG_USEC", "200000")]);
    let mut pings = 0;
    let started = Instant::now();
    while pings < 3 && started.elapsed() < Duration::from_secs(5) {
        if recv_note(&sock).contains("WATCHDOG=1") {
            pings += 1;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(pings, 3, "the idle loop keeps the watchdog fed");
}

#[test]
fn journal_lines_carry_priority_prefixes() {
    let dir = common::TempDir::new();
    let cfg = dir.0.join("bad.toml");
    std::fs::write(&cfg, "[server]\nport = \"x\"\n").unwrap();
    let run = |journal: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"));
        cmd.arg("--config").arg(&cfg).env_remove("JOURNAL_STREAM");
        if journal {
            cmd.env("JOURNAL_STREAM", "8:12345");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let j = run(true);
    assert!(j.starts_with("<3>invalid configuration"), "{j}");
    let plain = run(false);
    assert!(plain.contains(" ERROR invalid configuration"), "{plain}");
    assert!(plain.starts_with("20"), "timestamped: {plain}");
}

/// Runs `supportd --check --config FILE` on `text`: the status and stderr.
fn check(dir: &common::TempDir, text: &str) -> (Option<i32>, String) {
    let cfg = dir.0.join("check.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .args(["--check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}

#[test]
fn check_warns_about_any_origin_and_unauthenticated_agents() {
    let dir = common::TempDir::new();
    let (code, err) = check(&dir, "[server]\ncors_origins = [\"*\"]\n");
    assert_eq!(code, Some(0), "still valid: {err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].contains("server.cors_origins = [\"*\"]"),
        "{err}"
    );
    assert!(
        warnings[1].contains("agents are not authenticated")
            && warnings[1].contains("agent_secret_file or agent_jwks_file"),
        "{err}"
    );
    let secret = dir.0.join("agent.secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let (code, err) = check(
        &dir,
        &format!(
            "[server]\ncors_origins = [\"https://a.example\"]\n[auth]\nagent_secret_file = {secret:?}\n"
        ),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn start_up_names_usable_urls_for_both_protocols() {
    let dir = common::TempDir::new();
    let cfg = dir.0.join("any.toml");
    std::fs::write(
        &cfg,
        "[server]\nbind = \"0.0.0.0\"\nport = 0\n[metrics]\nenabled = false\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supportd"))
        .arg("--config")
        .arg(&cfg)
        .env("SUPPORTD_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find(|l| l.contains("listening on "));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a listening line");
    let port = line
        .split("listening on 0.0.0.0:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.contains("all IPv4 interfaces"), "{line}");
    assert!(
        line.contains(&format!("ws://127.0.0.1:{port}/ws")),
        "{line}"
    );
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}/socket.io/")),
        "{line}"
    );
    assert!(!line.contains("ws://0.0.0.0"), "{line}");
}

#[test]
fn refused_origins_are_logged_at_info_once_per_interval_naming_the_key() {
    let d = Daemon::start("[log]\nlevel = \"info\"\n");
    let refuse = |origin: &str| {
        let r = d.http(&format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        ));
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    };
    refuse("http://localhost:3000");
    let line = d.wait_log("refused a browser connection");
    assert!(
        line.contains(" INFO ") || line.starts_with("<6>"),
        "at info: {line}"
    );
    assert!(line.contains("\"http://localhost:3000\""), "{line}");
    assert!(line.contains("server.cors_origins"), "{line}");
    assert!(line.contains("1 refused"), "{line}");
    // More refusals within 10 s: counted, not logged line by line.
    for _ in 0..5 {
        refuse("http://localhost:3000");
    }
    let quiet_until = Instant::now() + Duration::from_millis(500);
    while let Some(left) = quiet_until.checked_duration_since(Instant::now()) {
        match d.log.recv_timeout(left) {
            Ok(l) => assert!(!l.contains("refused a browser connection"), "{l}"),
            Err(_) => break,
        }
    }
}
