//! connect: open N registered connections B at a time, hold them, measure the
//! handshake-to-registration latency and the server's RSS per connection.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, timeout, timeout_at};

use crate::cli::Role;
use crate::conn::{open_registered, Conn};
use crate::ctx::Ctx;
use crate::measure::{add_cpu, new_hist, pct_json, pct_line, proc_cpu_s, proc_rss, Measure};

async fn hold_conn(ctx: &Ctx, mut c: Conn, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            r = c.recv() => match r {
                Ok(ev) => {
                    if ev.name == "getAvailableAgents" { ctx.counters.gaa(None); }
                    else if ev.name == "error" { ctx.counters.error_event(&ev.data); }
                }
                Err(_) => { if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); } return; }
            },
            _ = stop.changed() => { let _ = timeout(Duration::from_millis(200), c.ws.close(None)).await; return; }
        }
    }
}

pub async fn run(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let n = a.conns;
    let pid = a.server_pid;
    let rss0 = pid.and_then(proc_rss);
    let cpu0 = pid.and_then(proc_cpu_s);
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<u64, String>>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut hist = new_hist();
    let mut ok = 0u64;
    let mut failed = 0u64;
    let mut first_err: BTreeMap<String, u64> = BTreeMap::new();
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    let batch = a.batch.max(1);
    let mut i = 0;
    let to = Duration::from_millis(a.timeout_ms);
    while i < n {
        let end = (i + batch).min(n);
        for j in i..end {
            let agent = match a.role {
                Role::Users => false,
                Role::Agents => true,
                Role::Both => j % 2 == 0,
            };
            let ctx = ctx.clone();
            let tx = tx.clone();
            let stop = stop_rx.clone();
            handles.push(tokio::spawn(async move {
                let s = Instant::now();
                let id = if agent {
                    format!("a{j}")
                } else {
                    format!("u{j}")
                };
                let r = timeout(to, open_registered(&ctx, j, Some(agent), &id)).await;
                match r {
                    Ok(Ok(c)) => {
                        let _ = tx.send(Ok(s.elapsed().as_micros() as u64));
                        hold_conn(&ctx, c, stop).await;
                    }
                    Ok(Err(e)) => {
                        let _ = tx.send(Err(e));
                    }
                    Err(_) => {
                        let _ = tx.send(Err("timed out".into()));
                    }
                }
            }));
        }
        for _ in i..end {
            match timeout(to + Duration::from_secs(1), rx.recv()).await {
                Ok(Some(Ok(us))) => {
                    hist.saturating_record(us);
                    ok += 1;
                }
                Ok(Some(Err(e))) => {
                    failed += 1;
                    let key: String = e.chars().take(60).collect();
                    *first_err.entry(key).or_default() += 1;
                }
                _ => {
                    failed += 1;
                }
            }
        }
        i = end;
        if failed > 0 && failed as usize > n / 10 + 100 {
            eprintln!("too many failures ({failed}), stopping the ramp at {end}");
            break;
        }
    }
    let open_s = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(proc_cpu_s);
    sleep(Duration::from_millis(500)).await;
    let rss1 = pid.and_then(proc_rss);
    sleep(Duration::from_secs_f64(a.hold)).await;
    let still_open = handles.iter().filter(|h| !h.is_finished()).count();
    let _ = stop_tx.send(true);
    let close_deadline = Instant::now() + Duration::from_secs(20);
    for h in handles {
        if timeout_at(close_deadline.into(), h).await.is_err() {
            break;
        }
    }
    let rate = ok as f64 / open_s;
    println!(
        "== connect proto={:?} kind={:?} role={:?} conns={n} batch={batch}",
        ctx.proto, a.server_kind, a.role
    );
    println!("opened: {ok} ok, {failed} failed in {open_s:.2} s = {rate:.0} conn/s; still open after hold: {still_open}");
    println!("handshake: {}", pct_line(&hist));
    for (e, k) in &first_err {
        println!("  failure x{k}: {e}");
    }
    let mut j = json!({
        "count": ok,
        "failed": failed,
        "rate": rate,
        "rate_unit": "connections/s",
        "latency_us": pct_json(&hist),
        "open_s": open_s,
        "still_open_after_hold": still_open,
        "failures": first_err,
    });
    if let (Some(r0), Some(r1)) = (rss0, rss1) {
        let per = if ok > 0 {
            (r1 as f64 - r0 as f64) / ok as f64
        } else {
            0.0
        };
        println!(
            "server RSS: {:.1} MiB -> {:.1} MiB, {per:.0} bytes per connection",
            r0 as f64 / 1048576.0,
            r1 as f64 / 1048576.0
        );
        j["rss_before"] = json!(r0);
        j["rss_after"] = json!(r1);
        j["rss_per_conn"] = json!(per);
    } else {
        j["rss_per_conn"] = serde_json::Value::Null;
    }
    add_cpu(&mut j, Measure { cpu0, cpu1 }.cpu_s(), ok, open_s);
    Ok(j)
}
