//! A small stderr logger for the `log` facade: one line per record. Under systemd
//! (JOURNAL_STREAM set) each line starts with a `<N>` priority prefix and no timestamp;
//! otherwise it carries a UTC timestamp and the level name.
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable that overrides the configured level.
pub const LEVEL_ENV: &str = "SUPPORTD_LOG";

struct StderrLogger {
    journal: bool,
}

static JOURNAL_LOGGER: StderrLogger = StderrLogger { journal: true };
static PLAIN_LOGGER: StderrLogger = StderrLogger { journal: false };

/// Installs the logger once; later calls only change the level.
pub fn init(level: LevelFilter) {
    let logger = if std::env::var_os("JOURNAL_STREAM").is_some() {
        &JOURNAL_LOGGER
    } else {
        &PLAIN_LOGGER
    };
    let _ = log::set_logger(logger);
    set_level(level);
}

/// Sets the level, letting SUPPORTD_LOG override the configured one.
pub fn set_level(configured: LevelFilter) {
    let level = std::env::var(LEVEL_ENV)
        .ok()
        .and_then(|v| crate::config::parse_level(&v))
        .unwrap_or(configured);
    log::set_max_level(level);
}

/// The syslog priority systemd's journal reads from a `<N>` prefix.
fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = if self.journal {
            format!("<{}>{}\n", priority(record.level()), record.args())
        } else {
            format!("{} {:5} {}\n", utc_now(), record.level(), record.args())
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn utc_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
