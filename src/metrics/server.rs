//! The `/metrics` and `/healthz` HTTP endpoint (hyper 1, http1, on a
//! current-thread tokio runtime in a thread named "metrics").

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{Encoder, Registry, TextEncoder};

use crate::reserve::{out_of_descriptors, RateLimitedWarning, Reserve};

/// `/healthz` fails once the loop's heartbeat is this old (milliseconds).
pub const HEALTH_MAX_AGE_MS: u64 = 5_000;

/// Concurrent scrape connections beyond this are closed at once.
const MAX_CONNECTIONS: usize = 32;

/// Idle/slow clients are dropped after this long without a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Spare descriptors the thread holds for accepting when the process is out of them (the
/// event loop shares the descriptor table): one for a `/healthz` probe, one more for a
/// second probe or a scrape's reads of /proc.
const SPARE_DESCRIPTORS: usize = 2;

/// The out-of-descriptors warning is logged at most this often.
const FD_WARNING_INTERVAL: Duration = Duration::from_secs(5);

/// Unix time in milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Stamps the heartbeat with the current time; call once per loop turn.
pub fn stamp(heartbeat: &AtomicU64) {
    heartbeat.store(now_ms(), Ordering::Relaxed);
}

/// True if a heartbeat stamped at `stamp_ms` is fresh at `now_ms`.
/// A never-stamped heartbeat (0) is stale; a stamp from the future
/// (clock stepped back) counts as fresh.
pub fn health(now_ms: u64, stamp_ms: u64) -> bool {
    stamp_ms != 0 && now_ms.saturating_sub(stamp_ms) < HEALTH_MAX_AGE_MS
}

/// Encodes `registry` in the Prometheus text format: (content type, body).
pub fn render(registry: &Registry) -> Result<(String, Vec<u8>), prometheus::Error> {
    let encoder = TextEncoder::new();
    let mut buf = Vec::with_capacity(8 * 1024);
    encoder.encode(&registry.gather(), &mut buf)?;
    Ok((encoder.format_type().to_owned(), buf))
}

/// Serves `/metrics` and `/healthz` on `listener` (bound by the caller, so that a bind
/// error reaches it at start-up) from a thread named "metrics".
pub fn serve(
    listener: std::net::TcpListener,
    registry: Registry,
    heartbeat: Arc<AtomicU64>,
) -> io::Result<JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let listener = {
        let _guard = rt.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || rt.block_on(accept_loop(listener, registry, heartbeat)))
}

/// Decrements the open-connection count when a connection task ends, and takes back a
/// spare descriptor given up for it (its own descriptor is closed by then).
struct Slot {
    open: Arc<AtomicUsize>,
    spares: Arc<Mutex<Reserve>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        refill(&self.spares);
    }
}

/// Opens spare descriptors again up to their number (if any are free).
fn refill(spares: &Mutex<Reserve>) {
    if let Ok(mut r) = spares.lock() {
        r.refill();
    }
}

/// Gives up one spare descriptor so that the next accept can succeed; false if none left.
fn release(spares: &Mutex<Reserve>) -> bool {
    spares.lock().is_ok_and(|mut r| r.release())
}

/// Waits for and accepts one connection; None if there was none after all or accept
/// failed. Out of descriptors (which Linux reports whether or not a connection waits),
/// a spare is closed to accept on; if nothing waits, it is opened again at once.
async fn accept_one(
    listener: &tokio::net::TcpListener,
    spares: &Mutex<Reserve>,
    warning: &mut RateLimitedWarning,
) -> Option<tokio::net::TcpStream> {
    let backoff = || tokio::time::sleep(Duration::from_millis(100));
    let e = match listener.accept().await {
        Ok((stream, _)) => return Some(stream),
        Err(e) => e,
    };
    if !out_of_descriptors(&e) {
        // Out of memory or buffers: back off instead of spinning.
        log::warn!("metrics: accept failed: {e}");
        backoff().await;
        return None;
    }
    let again = match release(spares) {
        // One try, without waiting: Pending (None) if nothing is waiting after all.
        true => {
            std::future::poll_fn(|cx| match listener.poll_accept(cx) {
                Poll::Pending => Poll::Ready(None),
                Poll::Ready(r) => Poll::Ready(Some(r)),
            })
            .await
        }
        false => Some(Err(e)),
    };
    match again {
        Some(Ok((stream, _))) => {
            if let Some(n) = warning.note(std::time::Instant::now(), 1) {
                log::warn!(
                    "metrics: out of file descriptors: {n} connections served on a spare \
                     descriptor since the last warning"
                );
            }
            Some(stream)
        }
        None => {
            // Nothing was waiting: keep the spare (the next connection wakes the accept).
            refill(spares);
            None
        }
        Some(Err(_)) => {
            refill(spares);
            if let Some(n) = warning.note(std::time::Instant::now(), 1) {
                log::warn!(
                    "metrics: out of file descriptors and no spare descriptor free \
                     ({n} times since the last warning); retrying"
                );
            }
            backoff().await;
            None
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    registry: Registry,
    heartbeat: Arc<AtomicU64>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let spares = Arc::new(Mutex::new(Reserve::new(SPARE_DESCRIPTORS)));
    let mut warning = RateLimitedWarning::new(FD_WARNING_INTERVAL);
    loop {
        let Some(stream) = accept_one(&listener, &spares, &mut warning).await else {
            continue;
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            drop(stream);
            refill(&spares); // in case a spare was given up for it
            continue;
        }
        let slot = Slot {
            open: open.clone(),
            spares: spares.clone(),
        };
        let registry = registry.clone();
        let heartbeat = heartbeat.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let resp = respond(req.method(), req.uri().path(), &registry, &heartbeat);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                log::debug!("metrics: connection error: {e}");
            }
        });
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

pub(super) fn respond(
    method: &Method,
    path: &str,
    registry: &Registry,
    heartbeat: &AtomicU64,
) -> Response<Full<Bytes>> {
    let known = matches!(path, "/metrics" | "/healthz");
    if !known {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if method != Method::GET {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        resp.headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET"));
        return resp;
    }
    if path == "/healthz" {
        return if health(now_ms(), heartbeat.load(Ordering::Relaxed)) {
            text(StatusCode::OK, "ok\n")
        } else {
            text(StatusCode::SERVICE_UNAVAILABLE, "event loop stalled\n")
        };
    }
    match render(registry) {
        Ok((content_type, body)) => {
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                resp.headers_mut().insert(CONTENT_TYPE, v);
            }
            resp
        }
        Err(e) => {
            log::error!("metrics: encoding failed: {e}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n")
        }
    }
}
