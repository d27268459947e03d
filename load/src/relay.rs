//! relay: P user-agent pairs in calls; each user keeps K userMessage in flight and
//! the agent answers each with an agentMessage carrying the same messageInput.
//! The pinger side is shared with the echo scenario.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::sleep;

use crate::cli::Proto;
use crate::conn::{open_many, wait_call_reply, Conn, MsgData};
use crate::ctx::field_str;
use crate::ctx::Ctx;
use crate::measure::{
    add_cpu, finish_run, measure_window, new_hist, now_ns, pct_json, pct_line, Window,
};

fn payload(size: usize) -> String {
    let mut s = format!("{:020}", now_ns());
    while s.len() < size {
        s.push('x');
    }
    s
}

fn payload_ts(s: &str) -> Option<u64> {
    s.get(..20)?.parse().ok()
}

async fn pinger(ctx: Arc<Ctx>, mut c: Conn, room: String, w: Window) -> (Histogram<u64>, u64) {
    let mut h = new_hist();
    let mut done = 0u64;
    let k = ctx.args.inflight.max(1);
    let size = ctx.args.size.max(20);
    let echo = ctx.proto == Proto::Echo;
    let send_one = |c: &mut Conn| {
        let p = payload(size);
        if echo {
            c.encode("", &p)
        } else {
            c.encode(
                "userMessage",
                &format!("{{\"roomId\":\"{room}\",\"messageInput\":\"{p}\"}}"),
            )
        }
    };
    let mut inflight = 0usize;
    for _ in 0..k {
        let t = send_one(&mut c);
        if let Err(_e) = c.send_raw(t).await {
            ctx.counters.disconnects.fetch_add(1, Relaxed);
            return (h, done);
        }
        inflight += 1;
    }
    let drain = w.end + Duration::from_secs(2);
    while inflight > 0 {
        let ev = match c.next_batched(drain).await {
            Ok(None) => {
                ctx.counters.timeouts.fetch_add(inflight as u64, Relaxed);
                break;
            }
            Err(_) => {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
            Ok(Some(ev)) => ev,
        };
        let input: Option<u64> = if echo {
            payload_ts(&ev.data)
        } else {
            match ev.name.as_str() {
                "agentMessage" => serde_json::from_str::<MsgData>(&ev.data)
                    .ok()
                    .and_then(|m| payload_ts(&m.message_input)),
                "getAvailableAgents" => {
                    ctx.counters.gaa(None);
                    continue;
                }
                "error" => {
                    ctx.counters.error_event(&ev.data);
                    continue;
                }
                _ => continue,
            }
        };
        let Some(ts) = input else {
            ctx.counters.unexpected.fetch_add(1, Relaxed);
            continue;
        };
        inflight -= 1;
        let now = Instant::now();
        if w.contains(now) {
            h.saturating_record(now_ns().saturating_sub(ts) / 1000);
            done += 1;
        }
        if now < w.end {
            let t = send_one(&mut c);
            if c.feed_raw(t).await.is_err() {
                ctx.counters.disconnects.fetch_add(1, Relaxed);
                break;
            }
            inflight += 1;
        }
    }
    (h, done)
}

/// The agent side of relay: answers each userMessage with agentMessage (same messageInput).
async fn relay_agent(ctx: Arc<Ctx>, mut c: Conn, mut stop: watch::Receiver<bool>) {
    let mut room = String::new();
    let far = Instant::now() + Duration::from_secs(3600);
    loop {
        let ev = tokio::select! {
            r = c.next_batched(far) => match r {
                Ok(Some(ev)) => ev,
                Ok(None) => return,
                Err(_) => { if !*stop.borrow() { ctx.counters.disconnects.fetch_add(1, Relaxed); } return; }
            },
            _ = stop.changed() => return,
        };
        match ev.name.as_str() {
            "userMessage" => {
                let mi = match serde_json::from_str::<MsgData>(&ev.data) {
                    Ok(m) => m.message_input.into_owned(),
                    Err(_) => {
                        ctx.counters.unexpected.fetch_add(1, Relaxed);
                        continue;
                    }
                };
                let reply = format!(
                    "{{\"roomId\":{},\"messageInput\":{}}}",
                    serde_json::to_string(&room).unwrap(),
                    serde_json::to_string(&mi).unwrap()
                );
                let t = c.encode("agentMessage", &reply);
                if c.feed_raw(t).await.is_err() {
                    ctx.counters.disconnects.fetch_add(1, Relaxed);
                    return;
                }
            }
            "callAgent" => {
                if let Some(r) = field_str(&ev.data, "roomId") {
                    room = r;
                }
            }
            "getAvailableAgents" => ctx.counters.gaa(None),
            "error" => ctx.counters.error_event(&ev.data),
            _ => {}
        }
    }
}

/// Opens P agents and P users and sets up P calls one at a time, then drives the pingers.
pub async fn run(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let p = ctx.args.pairs;
    let t_setup = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut agent_handles = Vec::new();
    let mut users: Vec<(Conn, String)> = Vec::new();
    let agents = open_many(&ctx, p, 0, Some(true), "a").await?;
    let us = open_many(&ctx, p, p, Some(false), "u").await?;
    // set up calls one at a time; the server picks the agent, agents learn
    // their room from the callAgent they receive.
    for a_conn in agents {
        agent_handles.push(tokio::spawn(relay_agent(
            ctx.clone(),
            a_conn,
            stop_rx.clone(),
        )));
    }
    for (i, mut u) in us.into_iter().enumerate() {
        let room = format!("room{i}");
        let mut tries = 0;
        loop {
            tries += 1;
            u.send(
                "callAgent",
                &format!("{{\"userId\":\"u{i}\",\"roomId\":\"{room}\"}}"),
            )
            .await?;
            let dl = Instant::now() + Duration::from_millis(ctx.args.timeout_ms);
            match wait_call_reply(&ctx, &mut u, &room, dl, None).await? {
                Ok(()) => break,
                Err(why) if tries < 3 => {
                    eprintln!("call setup for u{i}: {why}, retrying");
                    sleep(Duration::from_millis(50)).await;
                }
                Err(why) => return Err(format!("call setup for u{i} failed: {why}")),
            }
        }
        users.push((u, room));
    }
    drive(ctx, users, t_setup, stop_tx, agent_handles).await
}

/// Runs one pinger per user connection (with its room; empty for echo) through warmup and
/// window, then stops the agents and reports (relay and echo share this).
pub async fn drive(
    ctx: Arc<Ctx>,
    users: Vec<(Conn, String)>,
    t_setup: Instant,
    stop_tx: watch::Sender<bool>,
    agent_handles: Vec<tokio::task::JoinHandle<()>>,
) -> Result<serde_json::Value, String> {
    let a = &ctx.args;
    let p = a.pairs;
    let echo = ctx.proto == Proto::Echo;
    let setup_s = t_setup.elapsed().as_secs_f64();
    let start = Instant::now() + Duration::from_secs_f64(a.warmup);
    let w = Window {
        start,
        end: start + Duration::from_secs_f64(a.duration),
    };
    let mut hs = Vec::new();
    for (u, room) in users {
        hs.push(tokio::spawn(pinger(ctx.clone(), u, room, w)));
    }
    let m = measure_window(ctx.args.server_pid, w).await;
    let (hist, done) = finish_run(hs, None, &stop_tx, agent_handles).await;
    let rate = done as f64 / a.duration;
    let cpu = m.cpu_s();
    println!(
        "== {:?} proto={:?} kind={:?} pairs={} inflight={} size={}",
        a.scenario, ctx.proto, a.server_kind, p, a.inflight, a.size
    );
    println!("setup: {setup_s:.2} s");
    println!(
        "round trips: {done} in {:.1} s = {rate:.0} msg/s",
        a.duration
    );
    println!("round trip: {}", pct_line(&hist));
    let mut j = json!({
        "count": done,
        "rate": rate,
        "rate_unit": if echo { "echoes/s" } else { "relayed msgs/s" },
        "latency_us": pct_json(&hist),
        "setup_s": setup_s,
    });
    add_cpu(&mut j, cpu, done, a.duration);
    Ok(j)
}
