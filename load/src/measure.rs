//! Measurement: the clock, latency histograms and their percentiles, the measurement
//! window, server CPU seconds (/proc/PID/stat) and RSS (/proc/PID/status).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout};

pub fn base() -> Instant {
    static B: OnceLock<Instant> = OnceLock::new();
    *B.get_or_init(Instant::now)
}

pub fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// Joins the user tasks (each within `wait`, if given) and merges their latencies and counts,
/// then tells the agents to stop and gives each 2 s to finish.
pub async fn finish_run<T>(
    users: Vec<tokio::task::JoinHandle<(Histogram<u64>, u64)>>,
    wait: Option<Duration>,
    stop_tx: &watch::Sender<bool>,
    agents: Vec<tokio::task::JoinHandle<T>>,
) -> (Histogram<u64>, u64) {
    let mut hist = new_hist();
    let mut done = 0u64;
    for h in users {
        let joined = match wait {
            Some(w) => timeout(w, h).await.ok(),
            None => Some(h.await),
        };
        if let Some(Ok((hh, d))) = joined {
            hist.add(&hh).ok();
            done += d;
        }
    }
    let _ = stop_tx.send(true);
    for h in agents {
        let _ = timeout(Duration::from_secs(2), h).await;
    }
    (hist, done)
}

pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram")
}

fn clk_tck() -> f64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime+stime of a process in seconds.
pub fn proc_cpu_s(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

/// VmRSS in bytes.
pub fn proc_rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().ok()?;
            return Some(kb * 1024);
        }
    }
    None
}

pub fn pct_json(h: &Histogram<u64>) -> serde_json::Value {
    if h.is_empty() {
        return json!({"n":0});
    }
    json!({
        "n": h.len(),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
        "mean": (h.mean() * 10.0).round() / 10.0,
    })
}

pub fn pct_line(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    format!(
        "p50 {} us, p90 {} us, p99 {} us, max {} us (n={})",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.max(),
        h.len()
    )
}

#[derive(Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

pub struct Measure {
    pub cpu0: Option<f64>,
    pub cpu1: Option<f64>,
}

impl Measure {
    pub fn cpu_s(&self) -> Option<f64> {
        Some(self.cpu1? - self.cpu0?)
    }
}

/// Sleep through warmup and measurement window, sampling server CPU at both edges.
pub async fn measure_window(server_pid: Option<u32>, w: Window) -> Measure {
    sleep_until(w.start.into()).await;
    let cpu0 = server_pid.and_then(proc_cpu_s);
    sleep_until(w.end.into()).await;
    let cpu1 = server_pid.and_then(proc_cpu_s);
    Measure { cpu0, cpu1 }
}

pub fn add_cpu(j: &mut serde_json::Value, cpu: Option<f64>, count: u64, dur: f64) {
    if let Some(cpu) = cpu {
        let per = if cpu > 0.0 {
            count as f64 / cpu
        } else {
            f64::NAN
        };
        println!("server CPU: {cpu:.2} s over {dur:.1} s ({:.0}% of a core), {per:.0} per server CPU second", 100.0 * cpu / dur);
        j["server_cpu_s"] = json!(cpu);
        j["server_cpu_util"] = json!(cpu / dur);
        j["per_cpu_s"] = if per.is_finite() {
            json!(per)
        } else {
            serde_json::Value::Null
        };
    } else {
        j["server_cpu_s"] = serde_json::Value::Null;
        j["per_cpu_s"] = serde_json::Value::Null;
    }
}
