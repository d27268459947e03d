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
