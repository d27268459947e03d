//! Unit tests for `config`.
use super::*;
use crate::routing::Strategy;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("test.toml"), text)
}

#[test]
fn empty_file_gives_defaults() {
    assert_eq!(parse("").unwrap(), Config::default());
}

#[test]
fn shipped_example_is_the_defaults() {
    let text = include_str!("../etc/config.toml");
    assert_eq!(parse(text).unwrap(), Config::default());
}

#[test]
fn shipped_routing_examples_parse() {
    // The commented [[routing.entry]] / [[routing.skill_steps]] examples, uncommented.
    let text = include_str!("../etc/config.toml");
    let start = text.find("# [[routing.entry]]").expect("entry example");
    let end = text[start..].find("\n[metrics]").expect("end of [routing]") + start;
    let mut example = String::from("[routing]\n");
    for line in text[start..end].lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let key = rest.split(" = ").next().unwrap_or("");
        let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if rest.starts_with("[[routing.") || (is_key && rest.contains(" = ")) {
            example.push_str(rest);
            example.push('\n');
        }
    }
    let c = parse(&example).unwrap_or_else(|e| panic!("{e}\n{example}"));
    assert_eq!(c.routing.entries.len(), 1);
    assert_eq!(c.routing.entries[0].priority, 10);
    assert_eq!(c.routing.skill_steps.len(), 2);
}

#[test]
fn unknown_key_is_rejected_with_its_line() {
    let e = parse("[server]\nport = 1\nprot = 2\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(e.reason.contains("prot"), "{e}");
}

#[test]
fn wrong_type_names_line() {
    let e = parse("\n[server]\nport = \"x\"\n").unwrap_err();
    assert_eq!(e.line, Some(3));
}

#[test]
fn bad_bind_is_rejected() {
    let e = parse("[server]\nbind = \"nope\"\n").unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(e.to_string().starts_with("test.toml:2:"));
}

#[test]
fn star_origin_allows_any() {
    let c = parse("[server]\ncors_origins = [\"*\"]\n").unwrap();
    assert!(c.cors.allows("http://x.example"));
}

#[test]
fn listed_origins_only() {
    let c = parse("[server]\ncors_origins = [\"https://a.example\"]\n").unwrap();
    assert!(c.cors.allows("https://a.example"));
    assert!(!c.cors.allows("https://b.example"));
    assert!(!Config::default().cors.allows("https://a.example"));
}

#[test]
fn malformed_origin_is_rejected() {
    assert!(parse("[server]\ncors_origins = [\"a.example\"]\n").is_err());
}

#[test]
fn errors_point_into_the_right_table() {
    let text = "[server]\nbind = \"127.0.0.1\"\nport = 1\n[metrics]\nbind = \"nope\"\n";
    assert_eq!(parse(text).unwrap_err().line, Some(5));
    let clash = "[server]\nport = 7\n[metrics]\nport = 7\n";
    assert_eq!(parse(clash).unwrap_err().line, Some(4));
}

#[test]
fn zero_limit_is_rejected() {
    let e = parse("[limits]\nmax_connections = 0\n").unwrap_err();
    assert_eq!(e.line, Some(2));
}

#[test]
fn outbound_limit_must_hold_the_largest_message() {
    let e = parse("[limits]\nmax_outbound_bytes = 70000\n").unwrap_err();
    assert!(e.reason.contains("max_payload_bytes"), "{e}");
    assert!(
        parse("[limits]\nmax_outbound_bytes = 70000\n[socketio]\nmax_payload_bytes = 60000\n")
            .is_ok()
    );
}

#[test]
fn metrics_can_be_disabled() {
    assert_eq!(parse("[metrics]\nenabled = false\n").unwrap().metrics, None);
}

#[test]
fn log_level_is_checked() {
    assert!(parse("[log]\nlevel = \"loud\"\n").is_err());
    assert_eq!(
        parse("[log]\nlevel = \"debug\"\n").unwrap().log_level,
        log::LevelFilter::Debug
    );
}

/// A fresh directory under the system temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("supportd-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn discovery_prefers_the_explicit_file_then_the_default_path_then_defaults() {
    let dir = Dir::new("discover");
    let default = dir.0.join("default.toml");
    let explicit = dir.0.join("explicit.toml");
    std::fs::write(&explicit, "[server]\nport = 1234\n").unwrap();

    let d = discover_in(None, &default).unwrap();
    assert_eq!(
        d,
        Discovered {
            config: Config::default(),
            path: None
        }
    );
    assert_eq!(
        d.check_message(),
        format!("no config file at {DEFAULT_CONFIG_PATH}; built-in defaults are valid")
    );

    std::fs::write(&default, "[server]\nport = 4321\n").unwrap();
    let d = discover_in(None, &default).unwrap();
    assert_eq!(d.path.as_deref(), Some(default.as_path()));
    assert_eq!(d.config.listen.port(), 4321);
    assert_eq!(
        d.check_message(),
        format!("{}: configuration is valid", default.display())
    );

    let d = discover_in(Some(explicit.clone()), &default).unwrap();
    assert_eq!(d.path.as_deref(), Some(explicit.as_path()));
    assert_eq!(d.config.listen.port(), 1234);
}

#[test]
fn discovery_fails_on_a_bad_or_missing_file() {
    let dir = Dir::new("discover-bad");
    let default = dir.0.join("default.toml");
    std::fs::write(&default, "[server]\nport = \"x\"\n").unwrap();
    let e = discover_in(None, &default).unwrap_err();
    assert_eq!((e.path.as_path(), e.line), (default.as_path(), Some(2)));

    let missing = dir.0.join("missing.toml");
    let e = discover_in(Some(missing.clone()), &dir.0.join("absent.toml")).unwrap_err();
    assert_eq!(e.path, missing, "no fallback to the defaults");
}

#[test]
fn routing_table_sets_every_key() {
    let c = parse(
        "[routing]\nqueue = false\nmax_queue_length = 5\nmax_skill_sets = 7\nmax_wait_ms = 60000\n\
         queue_update_interval_ms = 250\nstrategy = \"round-robin\"\noffer_timeout_ms = 15000\n\
         max_no_answer = 3\nreject_delay_ms = 2000\nrequeue_on_agent_loss = false\n\
         wrap_up_ms = 30000\navailability_interval_ms = 0\nmax_capacity = 5\ndefault_capacity = 2\npriority_aging_secs = 60\n\
         skill_wait_ms = 5000\n\
         [[routing.entry]]\nname = \"vip\"\npriority = 10\norigins = [\"https://vip.example\"]\n\
         public = false\nskills = { billing = 3 }\n\
         [[routing.skill_steps]]\nafter_ms = 100\nlower = { billing = 1 }\n\
         [[routing.skill_steps]]\nafter_ms = 200\ndrop = [\"es\"]\nstrict = true\n",
    )
    .unwrap();
    let ms = Duration::from_millis;
    assert_eq!(
        c.routing,
        RoutingConfig {
            queue: false,
            max_queue_length: 5,
            max_skill_sets: 7,
            max_wait: Some(ms(60000)),
            queue_update_interval: ms(250),
            strategy: Strategy::RoundRobin,
            offer_timeout: Some(ms(15000)),
            max_no_answer: 3,
            reject_delay: ms(2000),
            requeue_on_agent_loss: false,
            wrap_up: ms(30000),
            availability_interval: Duration::ZERO,
            resume: Config::default().routing.resume,
            max_capacity: 5,
            default_capacity: 2,
            max_signal_bytes: 32768,
            entries: vec![crate::routing::Entry {
                name: "vip".into(),
                priority: 10,
                origins: vec!["https://vip.example".into()],
                public: false,
                skills: crate::routing::Skills::of([("billing", 3)]).unwrap(),
            }],
            skill_steps: vec![
                crate::routing::SkillStep {
                    after: ms(100),
                    drop: vec![],
                    lower: crate::routing::Skills::of([("billing", 1)]).unwrap(),
                    strict: false,
                },
                crate::routing::SkillStep {
                    after: ms(200),
                    drop: vec!["es".into()],
                    lower: crate::routing::Skills::default(),
                    strict: true,
                },
            ],
            skill_wait: ms(5000),
            priority_aging: Some(Duration::from_secs(60)),
        }
    );
    // Zero means off for the optional durations.
    let c = parse("[routing]\nmax_wait_ms = 0\noffer_timeout_ms = 0\n").unwrap();
    assert_eq!((c.routing.max_wait, c.routing.offer_timeout), (None, None));
    // Capacities: at least 1, the default at most the maximum.
    for bad in [
        "max_capacity = 0",
        "max_capacity = 1001",
        "default_capacity = 2",
    ] {
        let e = parse(&format!("[routing]\n{bad}\n")).unwrap_err();
        let key = bad.split(' ').next().unwrap_or_default();
        assert!(e.reason.contains(&format!("routing.{key}")), "{bad}: {e}");
    }
}

#[test]
fn routing_errors_name_the_key_and_line() {
    let e = parse("[routing]\nqueue = true\nstrategy = \"fastest\"\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(
        e.reason.contains("routing.strategy") && e.reason.contains("longest-idle"),
        "{e}"
    );
    let e = parse("[routing]\nqueue_update_interval_ms = 0\n").unwrap_err();
    assert_eq!(e.line, Some(2));
    let e = parse("[routing]\nwrap_up = 5\n").unwrap_err();
    assert_eq!(e.line, Some(2), "unknown keys are refused: {e}");
    for bad in [
        "[[routing.entry]]\nname = \"a\"\npriority = 1001\n",
        "[[routing.entry]]\nname = \"a\"\n[[routing.entry]]\nname = \"a\"\n",
        "[[routing.entry]]\nname = \"a\"\nskills = { es = 6 }\n",
        "[[routing.skill_steps]]\nafter_ms = 5\n[[routing.skill_steps]]\nafter_ms = 5\n",
        "[[routing.skill_steps]]\nafter_ms = 5\nstrict = true\n[[routing.skill_steps]]\nafter_ms = 9\n",
        "[[routing.skill_steps]]\nafter_ms = 5\nlower = { es = 0 }\n",
    ] {
        assert!(parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn auth_is_off_by_default() {
    let auth = parse("").unwrap().auth;
    assert_eq!(auth, AuthSettings::default());
    assert_eq!(auth.agent_secret_file, None);
    assert_eq!(auth.agent_jwks_file, None);
    assert_eq!(auth.leeway, Duration::from_secs(DEFAULT_AUTH_LEEWAY_SECS));
}

#[test]
fn auth_table_is_read_without_reading_the_key_files() {
    let text = "[auth]\n\
        agent_secret_file = \"/nonexistent/agent.secret\"\n\
        agent_jwks_file = \"/nonexistent/agents.jwks\"\n\
        user_secret_file = \"/nonexistent/user.secret\"\n\
        user_jwks_file = \"/nonexistent/users.jwks\"\n\
        audience = \"supportd\"\n\
        issuer = \"https://id.example.com\"\n\
        leeway_secs = 5\n";
    let auth = parse(text).unwrap().auth;
    assert_eq!(
        auth,
        AuthSettings {
            agent_secret_file: Some("/nonexistent/agent.secret".into()),
            agent_jwks_file: Some("/nonexistent/agents.jwks".into()),
            user_secret_file: Some("/nonexistent/user.secret".into()),
            user_jwks_file: Some("/nonexistent/users.jwks".into()),
            audience: Some("supportd".into()),
            issuer: Some("https://id.example.com".into()),
            leeway: Duration::from_secs(5),
        }
    );
}

#[test]
fn auth_unknown_key_is_rejected_with_its_line() {
    let e = parse("[auth]\naudience = \"x\"\nagent_secret = \"/a\"\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(e.reason.contains("agent_secret"), "{e}");
}

#[test]
fn auth_empty_values_are_rejected_with_their_line() {
    let e = parse("[auth]\nleeway_secs = 1\nagent_jwks_file = \"\"\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(
        e.to_string()
            .starts_with("test.toml:3: auth.agent_jwks_file"),
        "{e}"
    );
    let e = parse("[server]\nport = 1\n[auth]\nissuer = \"\"\n").unwrap_err();
    assert_eq!(e.line, Some(4));
    assert!(e.reason.contains("auth.issuer"), "{e}");
    let e = parse("[auth]\nleeway_secs = -1\n").unwrap_err();
    assert_eq!(e.line, Some(2));
}

#[test]
fn sessions_table_sets_resume_and_drain() {
    let c = parse(
        "[socketio]\nmax_payload_bytes = 100000\n[limits]\nmax_outbound_bytes = 200000\n[sessions]\nresume_grace_ms = 5000\nmax_buffered_events = 10\nmax_buffered_bytes = 4096\ndrain_ms = 7000\n",
    )
    .unwrap();
    assert_eq!(
        c.routing.resume,
        crate::routing::ResumeConfig {
            grace: Duration::from_millis(5000),
            max_events: 10,
            max_bytes: 4096,
            keep_sent: 16,
            window_bytes: 8 * 1024 * 1024,
        }
    );
    assert_eq!(c.drain, Some(Duration::from_millis(7000)));
    // A replay must fit an outbound queue: at most max_outbound_bytes less 16 KiB.
    assert_eq!(
        Config::default().routing.resume.max_bytes,
        1024 * 1024 - 16 * 1024
    );
    let c = parse("[socketio]\nmax_payload_bytes = 100000\n[limits]\nmax_outbound_bytes = 200000\n[sessions]\nmax_buffered_bytes = 900000\n")
        .unwrap();
    assert_eq!(c.routing.resume.max_bytes, 200000 - 16 * 1024);
    let off = parse("[sessions]\nresume_grace_ms = 0\ndrain_ms = 0\n").unwrap();
    assert!(!off.routing.resume.enabled());
    assert_eq!(off.drain, None);
    let e = parse("[sessions]\nresume_grace_ms = 86400001\n").unwrap_err();
    assert!(e.reason.contains("sessions.resume_grace_ms"), "{e}");
    let e = parse("\n[sessions]\ndrain_ms = 3600001\n").unwrap_err();
    assert!(e.reason.contains("sessions.drain_ms"), "{e}");
    assert_eq!(e.line, Some(3));
    let c = parse("[sessions]\nsent_window_bytes = 65536\n").unwrap();
    assert_eq!(c.routing.resume.window_bytes, 65536);
    let e = parse("[sessions]\nsent_window_bytes = 1073741825\n").unwrap_err();
    assert!(e.reason.contains("sessions.sent_window_bytes"), "{e}");
    let e = parse("[sessions]\ngrace = 1\n").unwrap_err();
    assert!(e.reason.contains("grace"), "{e}");
}

#[test]
fn max_signal_bytes_defaults_to_32_kib_and_leaves_1_kib_under_max_message_bytes() {
    assert_eq!(Config::default().routing.max_signal_bytes, 32768);
    assert_eq!(parse("").unwrap().routing.max_signal_bytes, 32768);
    let c = parse("[limits]\nmax_signal_bytes = 15000\n").unwrap();
    assert_eq!(c.routing.max_signal_bytes, 15000);
    // Exactly 1 KiB under is allowed; less is refused, naming both keys, at the line.
    let c = parse("[limits]\nmax_message_bytes = 66560\nmax_signal_bytes = 65536\n").unwrap();
    assert_eq!(c.routing.max_signal_bytes, 65536);
    let e = parse("[limits]\nmax_message_bytes = 66560\nmax_signal_bytes = 65537\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(
        e.reason.contains("limits.max_signal_bytes") && e.reason.contains("max_message_bytes"),
        "{e}"
    );
    // Unset, it is lowered to fit a smaller max_message_bytes (an older file still loads).
    let c = parse("[limits]\nmax_message_bytes = 33000\n").unwrap();
    assert_eq!(c.routing.max_signal_bytes, 33000 - 1024);
    let c = parse("[limits]\nmax_message_bytes = 1024\n").unwrap();
    assert_eq!(c.routing.max_signal_bytes, 0);
    let e = parse("[limits]\nmax_signal_bytes = 0\n").unwrap_err();
    assert!(e.reason.contains("max_signal_bytes"), "{e}");
}

#[test]
fn ice_servers_parse_in_each_form() {
    use crate::config::{IceAuth, IceServer};
    let c = parse(
        "[[calls.ice_servers]]\nurls = \"stun:stun.example.com:3478\"\n\
         [[calls.ice_servers]]\nurls = [\"turn:turn.example.com:3478\", \"turns:turn.example.com:5349\"]\n\
         username = \"fixed\"\ncredential = \"pw\"\n\
         [[calls.ice_servers]]\nurls = [\"turn:turn.example.com:3478?transport=tcp\"]\n\
         shared_secret = \"north\"\n\
         [[calls.ice_servers]]\nurls = [\"turn:b.example.com\"]\nshared_secret = \"south\"\nttl_secs = 600\n",
    )
    .unwrap();
    let s = &c.calls.ice_servers;
    assert_eq!(s.len(), 4);
    assert_eq!(
        s[0],
        IceServer {
            urls: vec!["stun:stun.example.com:3478".into()],
            auth: IceAuth::None
        }
    );
    assert_eq!(
        s[1].auth,
        IceAuth::Fixed {
            username: "fixed".into(),
            credential: "pw".into()
        }
    );
    assert!(matches!(
        s[2].auth,
        IceAuth::SharedSecret {
            ttl_secs: 86400,
            ..
        }
    ));
    assert!(matches!(
        s[3].auth,
        IceAuth::SharedSecret { ttl_secs: 600, .. }
    ));
    // The secret is never printed.
    assert!(!format!("{c:?}").contains("north"));
    // What a party is given (RTCIceServer shape).
    let json = c.calls.ice_servers_json(1_700_000_000, "u1");
    assert_eq!(
        json[0],
        serde_json::json!({"urls": ["stun:stun.example.com:3478"]})
    );
    assert_eq!(
        json[1],
        serde_json::json!({
            "urls": ["turn:turn.example.com:3478", "turns:turn.example.com:5349"],
            "username": "fixed",
            "credential": "pw"
        })
    );
    // Expiry = now + ttl; credential computed independently:
    // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'north',
    //   b'1700086400:u1',hashlib.sha1).digest()).decode())"  ->  4zxEOPf91dGhfq8CpQ17Zp2QFCw=
    assert_eq!(json[2]["username"], "1700086400:u1");
    assert_eq!(json[2]["credential"], "4zxEOPf91dGhfq8CpQ17Zp2QFCw=");
    assert_eq!(json[3]["username"], "1700000600:u1");
}

#[test]
fn a_turn_secret_can_come_from_a_file() {
    let dir = std::env::temp_dir().join(format!("supportd-turn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("turn.secret");
    std::fs::write(&path, "north\r\n").unwrap();
    let text = format!(
        "[[calls.ice_servers]]\nurls = [\"turn:t.example\"]\nshared_secret_file = {:?}\n",
        path.display().to_string()
    );
    let c = parse(&text).unwrap();
    // One trailing newline dropped: the credential is the inline secret's (vector above).
    let json = c.calls.ice_servers_json(1_700_000_000, "u1");
    let inline =
        parse("[[calls.ice_servers]]\nurls = [\"turn:t.example\"]\nshared_secret = \"north\"\n")
            .unwrap();
    assert_eq!(json, inline.calls.ice_servers_json(1_700_000_000, "u1"));
    assert!(!format!("{c:?}").contains("north"));
    // Both forms at once, a missing file and an empty one are refused, naming the key.
    let both = text.replace(
        "shared_secret_file",
        "shared_secret = \"x\"\nshared_secret_file",
    );
    assert!(parse(&both)
        .unwrap_err()
        .reason
        .contains("one or the other"));
    std::fs::write(&path, "\n").unwrap();
    let e = parse(&text).unwrap_err();
    assert!(
        e.reason.contains("calls.ice_servers[0]") && e.reason.contains("empty"),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
    let e = parse(&text).unwrap_err();
    assert!(
        e.reason.contains("calls.ice_servers[0].shared_secret_file")
            && e.reason.contains("turn.secret"),
        "{e}"
    );
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn coturn_rest_credential_matches_a_known_vector() {
    // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'north',
    //   b'1700000000:u1',hashlib.sha1).digest()).decode())"  ->  V5T4+SMzwlCncdLd960W+gxser0=
    assert_eq!(
        crate::config::turn_rest_credential("north", "1700000000:u1"),
        "V5T4+SMzwlCncdLd960W+gxser0="
    );
}

#[test]
fn bad_ice_servers_are_refused_naming_the_entry() {
    for (text, says) in [
        ("urls = []", "urls"),
        ("urls = [\"http://x.example\"]", "stun:"),
        ("urls = [\"stun:\"]", "no host"),
        ("urls = [\"turn:t.example\"]", "needs username"),
        ("urls = [\"turn:t.example\"]\nusername = \"u\"", "go together"),
        (
            "urls = [\"turn:t.example\"]\nusername = \"u\"\ncredential = \"c\"\nshared_secret = \"s\"",
            "one or the other",
        ),
        ("urls = [\"turn:t.example\"]\nshared_secret = \"\"", "empty"),
        ("urls = [\"turn:t.example\"]\nshared_secret = \"s\"\nttl_secs = 0", "ttl_secs"),
        ("urls = [\"stun:s.example\"]\nttl_secs = 60", "ttl_secs"),
    ] {
        let e = parse(&format!("[[calls.ice_servers]]\n{text}\n")).unwrap_err();
        assert!(
            e.reason.contains("calls.ice_servers[0]") && e.reason.contains(says),
            "{text}: {e}"
        );
    }
    let e = parse("[[calls.ice_servers]]\nurls = [\"stun:s\"]\nsecret = \"x\"\n").unwrap_err();
    assert!(e.reason.contains("secret"), "{e}");
}

/// The reason `parse` gives for `text`, and its line.
fn reason(text: &str) -> (String, Option<usize>) {
    let e = parse(text).unwrap_err();
    (e.reason, e.line)
}

#[test]
fn wrong_type_names_the_key_in_words() {
    assert_eq!(
        reason("[server]\nport = \"8080\"\n"),
        (
            "server.port: expected an integer from 0 to 65535, found the string \"8080\"".into(),
            Some(2)
        )
    );
    assert_eq!(
        reason("[metrics]\nenabled = \"yes\"\n").0,
        "metrics.enabled: expected true or false, found the string \"yes\""
    );
    assert_eq!(
        reason("[log]\nlevel = 3\n").0,
        "log.level: expected a string in quotes, found the integer 3"
    );
    assert_eq!(
        reason("[server]\ncors_origins = \"https://a.example\"\n").0,
        "server.cors_origins: expected an array, like [\"a\", \"b\"], found the string \"https://a.example\""
    );
    assert_eq!(
        reason("[limits]\nmax_connections = [1]\n").0,
        "limits.max_connections: expected a whole number (0 or more), found an array"
    );
    assert_eq!(
        reason("[sessions]\ndrain_ms = true\n").0,
        "sessions.drain_ms: expected a whole number (0 or more), found the boolean true"
    );
}

#[test]
fn other_wrong_types_are_named_too() {
    assert_eq!(
        reason("[server]\nport = 1.5\n").0,
        "server.port: expected an integer from 0 to 65535, found the number 1.5"
    );
    assert_eq!(
        reason("server = 5\n").0,
        "server: expected a table, found the integer 5"
    );
    assert_eq!(
        reason("[auth]\nagent_secret_file = 5\n").0,
        "auth.agent_secret_file: expected a file path in quotes, found the integer 5"
    );
}

#[test]
fn out_of_range_integer_names_the_key_and_range() {
    assert_eq!(
        reason("[server]\nport = 70000\n"),
        (
            "server.port: expected an integer from 0 to 65535, found 70000".into(),
            Some(2)
        )
    );
    assert_eq!(
        reason("[limits]\nmax_connections = -1\n").0,
        "limits.max_connections: expected a whole number (0 or more), found -1"
    );
}

#[test]
fn element_of_a_multi_line_array_names_its_key() {
    let (r, line) = reason("[server]\ncors_origins = [\n  \"https://a.example\",\n  1,\n]\n");
    assert_eq!(
        r,
        "server.cors_origins: expected a string in quotes, found the integer 1"
    );
    assert_eq!(line, Some(4));
}

#[test]
fn unknown_key_lists_the_keys_of_its_table() {
    assert_eq!(
        reason("[server]\nport = 1\nprot = 2\n"),
        (
            "server.prot: unknown key; [server] accepts bind, port, cors_origins".into(),
            Some(3)
        )
    );
    let (r, line) = reason("[server]\n[srever]\nport = 1\n");
    assert_eq!(line, Some(2));
    assert!(
        r.starts_with("srever: unknown table; the top level accepts server, limits, socketio,"),
        "{r}"
    );
    assert_eq!(
        reason("[log]\nlevl = \"info\"\n").0,
        "log.levl: unknown key; [log] accepts level"
    );
}

#[test]
fn array_of_tables_errors_name_the_key() {
    assert_eq!(
        reason("[[calls.ice_servers]]\nurls = \"stun:a\"\n[[calls.ice_servers]]\nurls = 5\n").0,
        "calls.ice_servers[1].urls: expected a string or an array of strings"
    );
    assert_eq!(
        reason("[[calls.ice_servers]]\nusername = \"u\"\n").0,
        "calls.ice_servers[0].urls: missing; this table needs it"
    );
    assert_eq!(
        reason("[[routing.entry]]\nname = \"a\"\npriorty = 1\n").0,
        "routing.entry[0].priorty: unknown key; [[routing.entry]] accepts name, priority, origins, public, skills"
    );
    assert_eq!(
        reason("server.prot = 1\n").0,
        "server.prot: unknown key; [server] accepts bind, port, cors_origins"
    );
}

#[test]
fn bad_log_level_lists_every_accepted_name() {
    assert_eq!(
        reason("[log]\nlevel = \"verbose\"\n").0,
        "log.level: \"verbose\" is not one of off, error, warn (or warning), info, debug, trace"
    );
    for name in ["off", "error", "warn", "warning", "info", "debug", "trace"] {
        assert!(
            parse(&format!("[log]\nlevel = \"{name}\"\n")).is_ok(),
            "{name}"
        );
    }
}
