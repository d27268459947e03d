//! Unit tests for `cli`.
use super::*;

fn parse_strs(args: &[&str]) -> Result<Command, String> {
    parse(args.iter().map(|s| s.to_string()))
}

fn run(config: Option<&str>, check: bool) -> Command {
    Command::Run(Args {
        config: config.map(PathBuf::from),
        check,
    })
}

#[test]
fn options() {
    assert_eq!(parse_strs(&[]), Ok(run(None, false)));
    assert_eq!(parse_strs(&["--check"]), Ok(run(None, true)));
    assert_eq!(
        parse_strs(&["--config", "a.toml", "--check"]),
        Ok(run(Some("a.toml"), true))
    );
    assert_eq!(
        parse_strs(&["-c", "a.toml"]),
        Ok(run(Some("a.toml"), false))
    );
    assert_eq!(
        parse_strs(&["--config=b.toml"]),
        Ok(run(Some("b.toml"), false))
    );
    assert_eq!(
        parse_strs(&["-c", "a.toml", "--config=b.toml"]),
        Ok(run(Some("b.toml"), false)),
        "the last --config wins"
    );
    assert_eq!(parse_strs(&["-h"]), Ok(Command::Help));
    assert_eq!(parse_strs(&["--version"]), Ok(Command::Version));
    assert_eq!(parse_strs(&["-V", "--help"]), Ok(Command::Version));
    assert_eq!(parse_strs(&["--help", "--bogus"]), Ok(Command::Help));
}

#[test]
fn errors() {
    assert_eq!(
        parse_strs(&["--check", "--config"]),
        Err("--config needs a PATH".to_string())
    );
    assert_eq!(
        parse_strs(&["--bogus", "--help"]),
        Err("unknown argument \"--bogus\"".to_string())
    );
    assert_eq!(
        parse_strs(&["-x"]),
        Err("unknown argument \"-x\"".to_string())
    );
}

#[test]
fn exit_statuses() {
    let all = [Exit::Ok, Exit::Config, Exit::Usage, Exit::Startup];
    assert_eq!(all.map(Exit::code), [0, 1, 2, 3]);
}

#[test]
fn usage_names_every_option_and_log_level() {
    let synopsis: String = USAGE.lines().take(3).collect();
    for option in [
        "-c",
        "--config",
        "--check",
        "-h",
        "--help",
        "-V",
        "--version",
    ] {
        assert!(synopsis.contains(option), "{option} not in the synopsis");
    }
    for level in ["off", "error", "warn", "info", "debug", "trace"] {
        assert!(crate::config::parse_level(level).is_some());
        assert!(USAGE.contains(&format!("{level}|")) || USAGE.contains(&format!("|{level} ")));
    }
}

#[test]
fn the_listening_line_gives_usable_urls() {
    let line = listening_line("0.0.0.0:8080".parse().unwrap());
    assert_eq!(
        line,
        "listening on 0.0.0.0:8080 (all IPv4 interfaces; from this machine: native WebSocket \
         ws://127.0.0.1:8080/ws, Socket.IO http://127.0.0.1:8080/socket.io/)"
    );
    let line = listening_line("[::]:80".parse().unwrap());
    assert!(line.contains("all interfaces"), "{line}");
    assert!(line.contains("ws://[::1]:80/ws"), "{line}");
    assert_eq!(
        listening_line("192.0.2.7:9000".parse().unwrap()),
        "listening on 192.0.2.7:9000 (native WebSocket ws://192.0.2.7:9000/ws, Socket.IO \
         http://192.0.2.7:9000/socket.io/)"
    );
}

#[test]
fn check_warns_about_any_origin_and_unauthenticated_agents() {
    let mut c = crate::config::Config::default();
    let w = check_warnings(&c);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("agent_secret_file or agent_jwks_file"),
        "{w:?}"
    );
    c.cors = crate::config::CorsPolicy::Any;
    assert_eq!(check_warnings(&c).len(), 2);
    assert!(check_warnings(&c)[0].contains("server.cors_origins"));
    c.cors = crate::config::CorsPolicy::List(vec!["https://a.example".into()]);
    c.auth.agent_jwks_file = Some("/k.json".into());
    assert_eq!(check_warnings(&c), Vec::<String>::new());
}
