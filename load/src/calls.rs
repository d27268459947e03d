//! calls: P agent-user pairs repeatedly set up and end calls (the agent ends each).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::timeout_at;

use crate::cli::Kind;
use crate::conn::{open_many, wait_call_reply, Conn};
use crate::ctx::field_str;
use crate::ctx::Ctx;
use crate::measure::{add_cpu, finish_run, measure_window, new_hist, pct_json, pct_line, Window};

async fn calls_agent(
    ctx: Arc<Ctx>,
    mut c: Conn,
    id: String,
    w: Window,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let ev = tokio::select! {
            r = c.recv() => match r {
                Ok(ev) => ev,
                Err(_) => { if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); } return; }
            },
            _ = stop.changed() => return,
        };
        match ev.name.as_str() {
            "callAgent" => {
                let room = field_str(&ev.data, "roomId").unwrap_or_default();
                let msg = format!(
                    "{{\"roomId\":{},\"agentId\":{}}}",
                    serde_json::to_string(&room).unwrap(),
                    serde_json::to_string(&id).unwrap()
                );
                if c.send("leaveCall", &msg).await.is_err() {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    return;
                }
            }
            "getAvailableAgents" => ctx.counters.gaa(Some(w)),
            "error" => ctx.counters.error_event(&ev.data),
            _ => {}
        }
    }
}

async fn calls_user(ctx: Arc<Ctx>, mut c: Conn, i: usize, w: Window) -> (Histogram<u64>, u64) {
    let mut h = new_hist();
    let mut done = 0u64;
    let mut n = 0u64;
    let ct = Duration::from_millis(ctx.args.call_timeout_ms);
    while Instant::now() < w.end {
        n += 1;
        let room = format!("c{i}_{n}");
        let t0 = Instant::now();
        if c.send(
            "callAgent",
            &format!("{{\"userId\":\"u{i}\",\"roomId\":\"{room}\"}}"),
        )
        .await
        .is_err()
        {
            ctx.counters.disconnects.fetch_add(1, Relaxed);
            break;
        }
        match wait_call_reply(&ctx, &mut c, &room, t0 + ct, Some(w)).await {
            Err(_) => {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
            Ok(Err("no_agent")) => {
                ctx.counters.no_agent.fetch_add(1, Relaxed);
                tokio::task::yield_now().await;
                continue;
            }
            Ok(Err(_)) => {
                ctx.counters.timeouts.fetch_add(1, Relaxed);
                continue;
            }
            Ok(Ok(())) => {
                let now = Instant::now();
                if w.contains(now) {
                    h.saturating_record((now - t0).as_micros() as u64);
                    done += 1;
                }
            }
        }
        if ctx.args.server_kind == Kind::Supportd {
            // the agent ends the call; wait for callEnded before the next call
            let dl = Instant::now() + ct;
            loop {
                let ev = match timeout_at(dl.into(), c.recv()).await {
                    Err(_) => {
                        ctx.counters.end_timeouts.fetch_add(1, Relaxed);
                        break;
                    }
                    Ok(Err(_)) => {
                        ctx.counters.disconnects.fetch_add(1, Relaxed);
                        return (h, done);
                    }
                    Ok(Ok(ev)) => ev,
                };
                match ev.name.as_str() {
                    "callEnded"
                        if field_str(&ev.data, "roomId").as_deref() == Some(room.as_str()) =>
                    {
                        break
                    }
                    "getAvailableAgents" => ctx.counters.gaa(Some(w)),
                    "error" => ctx.counters.error_event(&ev.data),
                    _ => {}
                }
            }
        }
        // Original: no callEnded exists; the agent's leaveCall frees it. Go on at once.
    }
    (h, done)
}

pub async fn run(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let p = a.pairs;
    let t_setup = Instant::now();
    let agents = open_many(&ctx, p, 0, Some(true), "a").await?;
    let users = open_many(&ctx, p, p, Some(false), "u").await?;
    let setup_s = t_setup.elapsed().as_secs_f64();
    let start = Instant::now() + Duration::from_secs_f64(a.warmup);
    let w = Window {
        start,
        end: start + Duration::from_secs_f64(a.duration),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut ah = Vec::new();
    for (i, c) in agents.into_iter().enumerate() {
        ah.push(tokio::spawn(calls_agent(
            ctx.clone(),
            c,
            format!("a{i}"),
            w,
            stop_rx.clone(),
        )));
    }
    let mut uh = Vec::new();
    for (i, c) in users.into_iter().enumerate() {
        uh.push(tokio::spawn(calls_user(ctx.clone(), c, i, w)));
    }
    let m = measure_window(ctx.args.server_pid, w).await;
    let wait = Duration::from_millis(a.call_timeout_ms * 3 + 2000);
    let (hist, done) = finish_run(uh, Some(wait), &stop_tx, ah).await;
    let rate = done as f64 / a.duration;
    let gaa_w = ctx.counters.gaa_window.load(Relaxed);
    let clients = (2 * p) as f64;
    println!(
        "== calls proto={:?} kind={:?} pairs={p}",
        ctx.proto, a.server_kind
    );
    println!("setup: {setup_s:.2} s");
    println!(
        "call setups: {done} in {:.1} s = {rate:.0} setups/s",
        a.duration
    );
    println!("setup latency: {}", pct_line(&hist));
    println!(
        "getAvailableAgents in window: {gaa_w} total, {:.1} per client, {:.1} per setup",
        gaa_w as f64 / clients,
        if done > 0 {
            gaa_w as f64 / done as f64
        } else {
            0.0
        }
    );
    let mut j = json!({
        "count": done,
        "rate": rate,
        "rate_unit": "call setups/s",
        "latency_us": pct_json(&hist),
        "setup_s": setup_s,
        "gaa_total": gaa_w,
        "gaa_per_client": gaa_w as f64 / clients,
        "gaa_per_setup": if done > 0 { gaa_w as f64 / done as f64 } else { 0.0 },
    });
    add_cpu(&mut j, m.cpu_s(), done, a.duration);
    Ok(j)
}
