//! Spare file descriptors for running out of them (as libuv does for EMFILE): a few
//! descriptors opened at start-up and held, so that when `accept` fails for want of a
//! descriptor, one can be closed to accept the waiting connection and answer it (the loop:
//! a 503, then close; the metrics thread: `/healthz`), then opened again. Also a warning
//! that is logged at most once per interval with a count of what happened meanwhile.
//! Used by the event loop (`net::accept`) and the metrics thread; each holds its own.
use std::fs::File;
use std::io;
use std::time::{Duration, Instant};

/// Whether an I/O error means the process or the system is out of file descriptors.
pub fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Up to `want` open spare descriptors (`/dev/null`, else `/`, read-only, close-on-exec).
#[derive(Debug)]
pub struct Reserve {
    files: Vec<File>,
    want: usize,
}

impl Reserve {
    /// Opens `want` spares (as many as it can).
    pub fn new(want: usize) -> Reserve {
        let mut r = Reserve {
            files: Vec::with_capacity(want),
            want,
        };
        r.refill();
        r
    }

    /// Spares held now.
    pub fn held(&self) -> usize {
        self.files.len()
    }

    /// Closes one spare, freeing its descriptor; false if none was held.
    pub fn release(&mut self) -> bool {
        self.files.pop().is_some()
    }

    /// Opens spares again up to `want`; true if all are held.
    pub fn refill(&mut self) -> bool {
        while self.files.len() < self.want {
            match File::open("/dev/null").or_else(|_| File::open("/")) {
                Ok(f) => self.files.push(f),
                Err(_) => return false,
            }
        }
        true
    }
}

/// How often the out-of-descriptors warning may be logged.
pub const FD_WARNING_INTERVAL: Duration = Duration::from_secs(5);

/// A warning logged at most once per `every`, saying how often its cause happened since
/// the last time it was logged.
#[derive(Debug)]
pub struct RateLimitedWarning {
    every: Duration,
    last: Option<Instant>,
    /// Occurrences not reported yet.
    pending: u64,
}

impl RateLimitedWarning {
    /// A warning logged at most once per `every`.
    pub const fn new(every: Duration) -> RateLimitedWarning {
        RateLimitedWarning {
            every,
            last: None,
            pending: 0,
        }
    }

    /// Its cause happened at `now`, counting `n` (what the warning reports); returns the
    /// count since the last warning if one is due now, else None.
    pub fn note(&mut self, now: Instant, n: u64) -> Option<u64> {
        self.pending = self.pending.saturating_add(n);
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= self.every);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
#[path = "reserve_tests.rs"]
mod tests;
