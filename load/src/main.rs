//! supportd-load: a bounded load generator for supportd (native protocol), for
//! Socket.IO v5 / Engine.IO v4 servers (supportd's endpoint or the original
//! Node server), and for a plain WebSocket echo server (the ceiling baseline).
//!
//! Scenarios: relay, calls, connect, echo, queue. Every run is bounded in time and
//! count, stops by itself, and only ever targets loopback addresses.
//! At the end it prints a human summary and then ONE JSON line with every figure.
//!
//! Layout: `cli` (options), `conn` (the client connection and its helpers), `ctx`
//! (what a run's tasks share), `measure` (histograms, window, /proc), one module per
//! scenario; this file only wires them: parse, check, pick the scenario, print the JSON.

mod calls;
mod cli;
mod conn;
mod connect;
mod ctx;
mod echo;
mod measure;
mod queue;
mod relay;
mod target;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde_json::json;

use crate::cli::{Args, Kind, Proto, Scenario};
use crate::ctx::{Counters, Ctx};
use crate::measure::base;
use crate::target::parse_target;

#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
fn raise_nofile() -> (u64, u64) {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
        (r.rlim_cur as u64, r.rlim_max as u64)
    }
}

fn main() {
    let args = Args::parse();
    let _ = base();
    let proto = args.proto.unwrap_or(if args.scenario == Scenario::Echo {
        Proto::Echo
    } else {
        Proto::Native
    });
    if (args.scenario == Scenario::Echo) != (proto == Proto::Echo) {
        eprintln!("--proto echo goes with the echo scenario only");
        std::process::exit(2);
    }
    let url = args.url.clone().unwrap_or_else(|| {
        match proto {
            Proto::Native => "ws://127.0.0.1:18081/ws",
            Proto::Socketio => "ws://127.0.0.1:18080/socket.io/?EIO=4&transport=websocket",
            Proto::Echo => "ws://127.0.0.1:18082/",
        }
        .to_string()
    });
    let target = match parse_target(&url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if args.scenario == Scenario::Queue && args.server_kind == Kind::Original {
        eprintln!("error: the queue scenario needs a server that queues (--server-kind supportd); the original has no queue");
        std::process::exit(2);
    }
    let caps: [(bool, &str); 5] = [
        (args.pairs <= 100_000, "--pairs at most 100000"),
        (args.conns <= 200_000, "--conns at most 200000"),
        (
            args.duration > 0.0 && args.duration <= 600.0,
            "--duration in (0, 600]",
        ),
        (
            args.warmup >= 0.0
                && args.warmup <= 120.0
                && args.hold >= 0.0
                && args.hold <= 600.0
                && args.inflight <= 1024
                && args.size <= 1_000_000,
            "--warmup <= 120, --hold <= 600, --inflight <= 1024, --size <= 1000000",
        ),
        (
            args.users <= 200_000
                && args.agents <= 100_000
                && args.call_ms_min <= args.call_ms_max
                && args.call_ms_max <= 600_000,
            "--users <= 200000, --agents <= 100000, --call-ms-min <= --call-ms-max <= 600000",
        ),
    ];
    for (ok, msg) in caps {
        if !ok {
            eprintln!("error: {msg}");
            std::process::exit(2);
        }
    }
    let (soft, hard) = raise_nofile();
    let need = match args.scenario {
        Scenario::Connect => args.conns + 64,
        Scenario::Echo => args.pairs + 64,
        Scenario::Queue => args.users + args.agents + 64,
        _ => 2 * args.pairs + 64,
    };
    if (soft as usize) < need {
        eprintln!("warning: RLIMIT_NOFILE is {soft} (hard {hard}) but about {need} descriptors are needed; raise the hard limit first (ulimit -Hn)");
    }
    // Watchdog: every run stops by itself.
    let clients = match args.scenario {
        Scenario::Queue => args.users + args.agents,
        _ => args.conns.max(2 * args.pairs),
    };
    let bound = 60.0
        + args.warmup
        + args.duration
        + args.hold
        + (clients as f64 / 200.0)
        + 2.0 * args.timeout_ms as f64 / 1000.0;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(bound));
        eprintln!("watchdog: run exceeded {bound:.0} s, giving up");
        std::process::exit(3);
    });
    let ctx = Arc::new(Ctx {
        args: args.clone(),
        proto,
        target,
        counters: Counters::default(),
    });
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("runtime");
    let res = rt.block_on(async {
        match args.scenario {
            Scenario::Relay => relay::run(ctx.clone()).await,
            Scenario::Echo => echo::run(ctx.clone()).await,
            Scenario::Calls => calls::run(ctx.clone()).await,
            Scenario::Connect => connect::run(ctx.clone()).await,
            Scenario::Queue => queue::run(ctx.clone()).await,
        }
    });
    let c = &ctx.counters;
    let mut j = match res {
        Ok(j) => j,
        Err(e) => {
            eprintln!("run failed: {e}");
            println!("run failed: {e}");
            json!({"failed_run": e, "count": 0, "rate": serde_json::Value::Null})
        }
    };
    let errors = c.errors.load(Relaxed);
    println!(
        "errors: {errors} {:?}; disconnects: {}; timeouts: {}; no_agent: {}; callEnded timeouts: {}; unexpected: {}",
        c.error_codes.lock().unwrap(),
        c.disconnects.load(Relaxed),
        c.timeouts.load(Relaxed),
        c.no_agent.load(Relaxed),
        c.end_timeouts.load(Relaxed),
        c.unexpected.load(Relaxed)
    );
    let scen = format!("{:?}", args.scenario).to_lowercase();
    let m = j.as_object_mut().unwrap();
    m.insert("scenario".into(), json!(scen));
    m.insert("proto".into(), json!(format!("{proto:?}").to_lowercase()));
    m.insert(
        "server_kind".into(),
        json!(format!("{:?}", args.server_kind).to_lowercase()),
    );
    m.insert("label".into(), json!(args.label));
    m.insert("url".into(), json!(url));
    m.insert(
        "params".into(),
        json!({
            "pairs": args.pairs, "inflight": args.inflight, "size": args.size,
            "duration": args.duration, "warmup": args.warmup, "conns": args.conns,
            "role": format!("{:?}", args.role).to_lowercase(), "batch": args.batch, "hold": args.hold,
            "sources": args.sources, "threads": args.threads, "server_pid": args.server_pid,
        }),
    );
    if args.scenario == Scenario::Queue {
        let p = m["params"].as_object_mut().unwrap();
        p.insert("users".into(), json!(args.users));
        p.insert("agents".into(), json!(args.agents));
        p.insert("call_ms_min".into(), json!(args.call_ms_min));
        p.insert("call_ms_max".into(), json!(args.call_ms_max));
        p.insert("timeout_ms".into(), json!(args.timeout_ms));
        p.insert("call_timeout_ms".into(), json!(args.call_timeout_ms));
    }
    m.insert("errors".into(), json!(errors));
    m.insert("error_codes".into(), json!(*c.error_codes.lock().unwrap()));
    m.insert("disconnects".into(), json!(c.disconnects.load(Relaxed)));
    m.insert("timeouts".into(), json!(c.timeouts.load(Relaxed)));
    m.insert("no_agent".into(), json!(c.no_agent.load(Relaxed)));
    m.insert(
        "call_ended_timeouts".into(),
        json!(c.end_timeouts.load(Relaxed)),
    );
    m.insert("unexpected".into(), json!(c.unexpected.load(Relaxed)));
    m.insert("gaa_all".into(), json!(c.gaa.load(Relaxed)));
    m.insert("nofile_limit".into(), json!(soft));
    println!("{}", serde_json::to_string(&j).unwrap());
    // Do not wait for lingering tasks.
    std::process::exit(if j.get("failed_run").is_some() { 1 } else { 0 });
}
