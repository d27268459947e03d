//! The command line: the options, the usage text and the process's exit statuses.
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

/// Printed by `--help`, and after a command-line error.
pub const USAGE: &str = "\
Usage: supportd [-c PATH | --config PATH] [--check]
       supportd -h | --help
       supportd -V | --version

Routes website visitors to support agents over WebSocket (/ws) and Socket.IO (/socket.io/).

Options:
  -c, --config PATH  config file (default: /etc/support/config.toml if present,
                     else built-in defaults); also --config=PATH
      --check        validate the config and exit (0 valid, 1 invalid); warns on
                     stderr about settings unsafe to expose (a valid file still exits 0)
  -h, --help         print this help
  -V, --version      print the version

Signals: SIGTERM/SIGINT shut down gracefully, SIGHUP reloads the config.
Environment: SUPPORTD_LOG=off|error|warn|info|debug|trace overrides [log] level.";

/// How the process ends; each variant is one exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// 0: ran and stopped cleanly, `--check` passed, or `--help`/`--version` printed.
    Ok = 0,
    /// 1: the config file is invalid or unreadable.
    Config = 1,
    /// 2: bad command line.
    Usage = 2,
    /// 3: could not bind a listener or start the loop, or the event loop failed.
    Startup = 3,
}

impl Exit {
    /// The exit status.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Logs `why` at error level and returns `self`, to end the process with.
    pub fn with_error(self, why: impl fmt::Display) -> Exit {
        log::error!("{why}");
        self
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// The options of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// `--config PATH`: the config file to use instead of looking for one.
    pub config: Option<PathBuf>,
    /// `--check`: validate the config and exit.
    pub check: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run (or `--check`) with these options.
    Run(Args),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// Parses the arguments after the program name. Arguments are read in order: the first
/// `--help` or `--version` wins over what follows it, the first bad argument over both.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--check" => out.check = true,
            "-c" | "--config" => match it.next() {
                Some(p) => out.config = Some(PathBuf::from(p)),
                None => return Err("--config needs a PATH".into()),
            },
            other => match other.strip_prefix("--config=") {
                Some(p) => out.config = Some(PathBuf::from(p)),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(Command::Run(out))
}

/// The options of this process's run. `Err` is the status to exit with at once, after
/// printing the help or the version (stdout) or the usage error (stderr).
pub fn args() -> Result<Args, Exit> {
    match parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => Ok(args),
        Ok(Command::Help) => {
            println!("{USAGE}");
            Err(Exit::Ok)
        }
        Ok(Command::Version) => {
            println!("supportd {}", env!("CARGO_PKG_VERSION"));
            Err(Exit::Ok)
        }
        Err(e) => {
            eprintln!("supportd: {e}\n\n{USAGE}");
            Err(Exit::Usage)
        }
    }
}

/// What `--check` warns about in a valid config: settings that are unsafe once the port
/// is reachable from the internet, each naming the key to set.
pub fn check_warnings(config: &crate::config::Config) -> Vec<String> {
    let mut out = Vec::new();
    if config.cors == crate::config::CorsPolicy::Any {
        out.push(
            "server.cors_origins = [\"*\"]: any web page may connect its visitors' browsers; \
             list your sites' origins instead (e.g. [\"https://support.example.com\"])"
                .to_owned(),
        );
    }
    if let Some(warning) = crate::auth::startup_warning(&config.auth) {
        out.push(format!(
            "{warning}; set [auth] agent_secret_file or agent_jwks_file (docs/operations.md, \
             \"Authentication\")"
        ));
    }
    out
}

/// The start-up line for the client listener on `addr`: URLs a client can use (a wildcard
/// address is not one: it is named for what it means, and loopback URLs are given).
pub fn listening_line(addr: std::net::SocketAddr) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let (usable, scope) = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
            "all IPv4 interfaces; from this machine: ",
        ),
        IpAddr::V6(ip) if ip.is_unspecified() => (
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
            "all interfaces; from this machine: ",
        ),
        _ => (addr, ""),
    };
    format!(
        "listening on {addr} ({scope}native WebSocket ws://{usable}{}, Socket.IO \
         http://{usable}{})",
        crate::net::NATIVE_PATH,
        crate::net::SOCKETIO_PATH,
    )
}

/// The exit status (logged) for a loop that could not start on `listen`.
pub fn start_failed(e: crate::net::LoopError, listen: std::net::SocketAddr) -> Exit {
    use crate::net::LoopError;
    match e {
        LoopError::Bind(e) => {
            Exit::Startup.with_error(format_args!("cannot listen on {listen}: {e}"))
        }
        LoopError::Io(e) => {
            Exit::Startup.with_error(format_args!("cannot start the event loop: {e}"))
        }
        LoopError::Auth(e) => Exit::Config.with_error(format_args!("invalid [auth] keys: {e}")),
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "man.rs"]
mod man;
