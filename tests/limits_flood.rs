//! An availability-toggle flood (issue 13) against the real binary on loopback: 5,000 idle
//! registered clients, 20 agents flapping their availability as fast as they can send. The
//! toggles are throttled per connection (`toggles_per_sec`/`toggles_burst`) and the count
//! broadcasts coalesced (`routing.availability_interval_ms`), so every idle client hears at
//! most one count per interval, none is dropped as a slow consumer, and a legitimate pair
//! completes a call and 100 messages meanwhile (its p99 round trip printed: timings are
//! for benchmarks, docs/performance.md, not for assertions).
mod common;
use common::limits::{legitimate_pair_at, limit_count, raise_own_nofile, raw_ws, WITH_METRICS};
use common::Daemon;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const IDLE: usize = 5000;
const AGENTS: usize = 20;
const FLOOD: Duration = Duration::from_secs(3);

/// A native text frame as a client sends it (mask of zeros).
fn text_frame(payload: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let header = tungstenite::protocol::frame::FrameHeader {
        opcode: tungstenite::protocol::frame::coding::OpCode::Data(
            tungstenite::protocol::frame::coding::Data::Text,
        ),
        mask: Some([0, 0, 0, 0]),
        ..Default::default()
    };
    header.format(payload.len() as u64, &mut out).unwrap();
    out.extend_from_slice(payload.as_bytes());
    out
}

/// A raw native socket registered with `event`/`id`, non-blocking from then on.
fn registered_raw(d: &Daemon, event: &str, id: &str) -> TcpStream {
    let mut s = raw_ws(d);
    let register = format!(r#"{{"event":"{event}","data":{{"id":"{id}"}}}}"#);
    s.write_all(&text_frame(&register)).unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

/// One socket's input, searched for `needle` across reads.
struct Reader {
    sock: TcpStream,
    tail: Vec<u8>,
    seen: usize,
    closed: bool,
}

impl Reader {
    fn new(sock: TcpStream) -> Reader {
        Reader {
            sock,
            tail: Vec::new(),
            seen: 0,
            closed: false,
        }
    }

    /// Reads what is there; counts `needle`.
    fn drain(&mut self, needle: &[u8], buf: &mut [u8]) {
        while !self.closed {
            match self.sock.read(buf) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    self.tail.extend_from_slice(&buf[..n]);
                    self.seen += self
                        .tail
                        .windows(needle.len())
                        .filter(|w| *w == needle)
                        .count();
                    let keep = self.tail.len().min(needle.len() - 1);
                    self.tail.drain(..self.tail.len() - keep);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => self.closed = true,
            }
        }
    }
}

#[test]
fn an_availability_flood_is_throttled_and_coalesced_for_5000_idle_clients() {
    raise_own_nofile(16_000);
    let d = Daemon::start(&format!("[log]\nlevel = \"error\"\n{WITH_METRICS}"));
    let needle = b"getAvailableAgents";
    let mut buf = vec![0u8; 64 * 1024];
    let mut idle: Vec<Reader> = (0..IDLE)
        .map(|i| Reader::new(registered_raw(&d, "connectUser", &format!("idle-{i}"))))
        .collect();
    let mut agents: Vec<Reader> = (0..AGENTS)
        .map(|i| Reader::new(registered_raw(&d, "connectAgent", &format!("flap-{i}"))))
        .collect();
    // Let registrations and their first counts settle, then start counting afresh.
    std::thread::sleep(Duration::from_millis(500));
    for r in idle.iter_mut().chain(agents.iter_mut()) {
        r.drain(needle, &mut buf);
        r.seen = 0;
    }
    let p99 = std::thread::scope(|scope| {
        let addr = d.addr;
        let pair = scope.spawn(move || legitimate_pair_at(addr, "during-flood"));
        let t0 = Instant::now();
        let mut sent = 0;
        let mut on = false;
        while t0.elapsed() < FLOOD {
            on = !on;
            let toggle = text_frame(&format!(
                r#"{{"event":"toggleAvailability","data":{{"available":{on}}}}}"#
            ));
            for a in agents.iter_mut() {
                if a.sock.write_all(&toggle).is_ok() {
                    sent += 1;
                }
            }
            for r in idle.iter_mut().chain(agents.iter_mut()) {
                r.drain(needle, &mut buf);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!("{sent} toggles sent in {FLOOD:?}");
        pair.join().expect("the legitimate pair")
    });
    std::thread::sleep(Duration::from_millis(300));
    for r in idle.iter_mut() {
        r.drain(needle, &mut buf);
    }
    let heard: Vec<usize> = idle.iter().map(|r| r.seen).collect();
    let most = heard.iter().copied().max().unwrap_or(0);
    let total: usize = heard.iter().sum();
    eprintln!(
        "idle clients heard {total} counts ({most} at most each); pair p99 {p99:?} during the flood"
    );
    assert!(idle.iter().all(|r| !r.closed), "no idle client was dropped");
    assert!(
        agents.iter().all(|r| !r.closed),
        "a flapping agent is throttled, not closed"
    );
    // 3.3 s at one broadcast per 100 ms at most (plus the pair's own changes).
    assert!(most <= 40, "an idle client heard {most} counts");
    assert!(most >= 2, "the flood did change the count ({most})");
    assert!(
        limit_count(&d, "toggle_limited") > 0,
        "the toggles were throttled"
    );
    assert_eq!(limit_count(&d, "soft_outbound"), 0);
}
