//! supportd: wiring only. Parse arguments, find the config, start the metrics thread,
//! run the event loop, map the outcome to an exit status (`cli::Exit`).
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use supportd::cli::{self, Exit};
use supportd::metrics::{self, Metrics};
use supportd::net::Server;
use supportd::{config, service};

fn main() -> ExitCode {
    match run() {
        Ok(()) => Exit::Ok.into(),
        Err(exit) => exit.into(),
    }
}

fn run() -> Result<(), Exit> {
    let args = cli::args()?;
    supportd::log::init(config::DEFAULT_LOG_LEVEL);
    let found = config::discover(args.config)
        .map_err(|e| Exit::Config.with_error(format_args!("invalid configuration: {e}")))?;
    if args.check {
        // The key files too: `systemctl reload` refuses a bad one before the daemon sees it.
        supportd::auth::Keys::load(&found.config.auth)
            .map_err(|e| Exit::Config.with_error(format_args!("invalid [auth] keys: {e}")))?;
        for warning in cli::check_warnings(&found.config) {
            eprintln!("warning: {warning}");
        }
        println!("{}", found.check_message());
        return Ok(());
    }
    supportd::log::set_level(found.config.log_level);
    found.log_source();
    let metrics = Metrics::new();
    let heartbeat = Arc::new(AtomicU64::new(metrics::now_ms()));
    if let Some(addr) = found.config.metrics {
        let local = std::net::TcpListener::bind(addr)
            .and_then(|l| {
                let local = l.local_addr()?;
                metrics::serve(l, metrics.registry(), heartbeat.clone()).map(|_| local)
            })
            .map_err(|e| {
                Exit::Startup.with_error(format_args!("cannot serve metrics on {addr}: {e}"))
            })?;
        log::info!("metrics on {local} (/metrics, /healthz)");
    }
    let listen = found.config.listen;
    let mut server = Server::bind(found.config, found.path, metrics)
        .map_err(|e| cli::start_failed(e, listen))?;
    if let Some(addr) = server.local_addr() {
        log::info!("{}", cli::listening_line(addr));
    }
    server.set_hooks(service::hooks(heartbeat));
    service::ready();
    server
        .run()
        .map_err(|e| Exit::Startup.with_error(format_args!("event loop failed: {e:?}")))
}
