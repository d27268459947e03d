//! supportd: wiring only. Parse arguments, load the config, start the metrics thread,
//! run the event loop, map the outcome to an exit code.
use sd_notify::NotifyState;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use supportd::config::{Config, CorsPolicy, DEFAULT_CONFIG_PATH};
use supportd::metrics::{self, Metrics};
use supportd::net::{Hooks, LoopError, ReloadStage, Server};

/// How often the loop stamps the health heartbeat when otherwise idle.
const HEARTBEAT_TICK: Duration = Duration::from_secs(1);

const USAGE: &str = "\
Usage: supportd [--config PATH] [--check]

Routes website visitors to support agents over WebSocket (/ws) and Socket.IO (/socket.io/).

Options:
  -c, --config PATH  config file (default: /etc/support/config.toml if present,
                     else built-in defaults)
      --check        validate the config and exit (0 valid, 1 invalid)
  -h, --help         print this help
  -V, --version      print the version

Signals: SIGTERM/SIGINT shut down gracefully, SIGHUP reloads the config.
Environment: SUPPORTD_LOG=error|warn|info|debug|trace overrides [log] level.";

/// How the process ends; each variant is one exit status.
enum Exit {
    /// 0: ran and stopped cleanly, or --check passed.
    Ok,
    /// 1: the config file is invalid or unreadable.
    Config,
    /// 2: bad command line.
    Usage,
    /// 3: could not bind a listener or start the loop.
    Startup,
}

struct Args {
    config: Option<PathBuf>,
    check: bool,
}

fn main() -> ExitCode {
    ExitCode::from(match run() {
        Exit::Ok => 0,
        Exit::Config => 1,
        Exit::Usage => 2,
        Exit::Startup => 3,
    })
}

/// Tells systemd our state; a no-op when NOTIFY_SOCKET is unset.
fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        log::warn!("sd_notify failed: {e}");
    }
}

/// Heartbeat, watchdog and reload/stop notifications for the service manager.
fn service_hooks(heartbeat: Arc<AtomicU64>) -> Hooks {
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut last_ping = Instant::now();
    Hooks {
        on_turn: Some(Box::new(move || {
            metrics::stamp(&heartbeat);
            if let Some(every) = watchdog {
                if last_ping.elapsed() >= every {
                    last_ping = Instant::now();
                    notify(&[NotifyState::Watchdog]);
                }
            }
        })),
        on_reload: Some(Box::new(|stage| match stage {
            ReloadStage::Started => {
                let mut states = vec![NotifyState::Reloading];
                if let Ok(now) = NotifyState::monotonic_usec_now() {
                    states.push(now);
                }
                notify(&states);
            }
            ReloadStage::Applied | ReloadStage::Failed => notify(&[NotifyState::Ready]),
        })),
        on_stopping: Some(Box::new(|| notify(&[NotifyState::Stopping]))),
        tick: Some(match watchdog {
            Some(w) => w.min(HEARTBEAT_TICK),
            None => HEARTBEAT_TICK,
        }),
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        config: None,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("supportd {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--check" => args.check = true,
            "-c" | "--config" => match it.next() {
                Some(p) => args.config = Some(PathBuf::from(p)),
                None => return Err("--config needs a PATH".into()),
            },
            other => match other.strip_prefix("--config=") {
                Some(p) => args.config = Some(PathBuf::from(p)),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(Some(args))
}

fn run() -> Exit {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return Exit::Ok,
        Err(e) => {
            eprintln!("supportd: {e}\n\n{USAGE}");
            return Exit::Usage;
        }
    };
    supportd::log::init(supportd::config::DEFAULT_LOG_LEVEL);
    let path = args.config.clone().or_else(|| {
        let p = Path::new(DEFAULT_CONFIG_PATH);
        p.exists().then(|| p.to_owned())
    });
    let config = match &path {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                log::error!("invalid configuration: {e}");
                return Exit::Config;
            }
        },
        None => Config::default(),
    };
    if args.check {
        match &path {
            Some(p) => println!("{}: configuration is valid", p.display()),
            None => {
                println!("no config file at {DEFAULT_CONFIG_PATH}; built-in defaults are valid")
            }
        }
        return Exit::Ok;
    }
    supportd::log::set_level(config.log_level);
    match &path {
        Some(p) => log::info!("configuration loaded from {}", p.display()),
        None => log::info!("no config file at {DEFAULT_CONFIG_PATH}: running on built-in defaults"),
    }
    if config.cors == CorsPolicy::Any {
        log::warn!("cors_origins = [\"*\"]: any web origin may connect");
    }
    let metrics = Metrics::new();
    let heartbeat = Arc::new(AtomicU64::new(metrics::now_ms()));
    if let Some(addr) = config.metrics {
        let bound = std::net::TcpListener::bind(addr).and_then(|l| {
            let local = l.local_addr()?;
            metrics::serve(l, metrics.registry(), heartbeat.clone())?;
            Ok(local)
        });
        match bound {
            Ok(local) => log::info!("metrics on {local} (/metrics, /healthz)"),
            Err(e) => {
                log::error!("cannot serve metrics on {addr}: {e}");
                return Exit::Startup;
            }
        }
    }
    let mut server = match Server::bind(config.clone(), path, metrics) {
        Ok(s) => s,
        Err(LoopError::Bind(e)) => {
            log::error!("cannot listen on {}: {e}", config.listen);
            return Exit::Startup;
        }
        Err(LoopError::Io(e)) => {
            log::error!("cannot start the event loop: {e}");
            return Exit::Startup;
        }
    };
    if let Some(addr) = server.local_addr() {
        log::info!("listening on {addr} (native: ws://{addr}/ws)");
    }
    server.set_hooks(service_hooks(heartbeat));
    notify(&[NotifyState::Ready]);
    match server.run() {
        Ok(()) => Exit::Ok,
        Err(e) => {
            log::error!("event loop failed: {e:?}");
            Exit::Startup
        }
    }
}
