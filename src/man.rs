//! The man page, supportd(1), rendered from the usage text (`cli::USAGE`) plus a few fixed
//! sections, so that `man supportd` and `supportd --help` cannot disagree.
//!
//! Why test-only: the binary never prints roff. The rendered page is committed as
//! docs/supportd.1, which the Debian package ships (cargo-deb gzips it into
//! /usr/share/man/man1/supportd.1.gz), and `committed_page_is_rendered_from_usage` fails
//! when that file differs from [`page`]. After changing USAGE, rewrite the file with
//! `SUPPORTD_BLESS_MAN=1 cargo test --lib man`.
//!
//! Invariant: every line of USAGE reaches the page: the `Usage:` block is the SYNOPSIS, the
//! first free paragraph opens the DESCRIPTION, each `Options:` entry is one `.TP` item, and
//! each other `Heading: text` line is the opening of the section HEADING. Text is escaped
//! for roff (`\`, `-`, a leading `.` or `'`), so no USAGE wording can inject requests.
use super::{Exit, USAGE};
use std::fmt::Write;

/// Where the committed page lives, relative to the crate root.
const PAGE_PATH: &str = "docs/supportd.1";

/// NAME's one-line summary.
const SUMMARY: &str = "real-time support router for website visitors and agents";

/// What DESCRIPTION says after USAGE's own paragraph.
const DESCRIPTION: &[&str] = &[
    "A single-threaded event loop accepts visitors (users) and support agents over the \
     native WebSocket protocol and Socket.IO v4 (WebSocket and long-polling transports), \
     queues users until an agent is free, offers each call to an agent, relays chat, and \
     handles mute, transfer and wrap-up. Prometheus metrics (/metrics) and a health check \
     (/healthz) are served on a separate port ([metrics] bind and port, 127.0.0.1:9102 by \
     default).",
    "Without agent keys in [auth], anyone who reaches the port can register as any agent: \
     before exposing it, set [auth] agent_secret_file or agent_jwks_file, put a TLS reverse \
     proxy in front and set server.cors_origins (deployment.md, see SEE ALSO). \
     supportd --check warns about both.",
];

/// What SIGNALS says after USAGE's `Signals:` line.
const SIGNALS: &[&str] = &[
    "A reload is all or nothing: a valid file takes effect at once (except the listener and \
     metrics addresses and ports, which need a restart), an invalid one is logged and the \
     running config stays in force. systemctl reload runs --check first, then sends SIGHUP.",
    "With [sessions] drain_ms set, SIGTERM stops accepting connections, closes clients with \
     WebSocket close code 1012 (service restart) and exits once every client is gone or \
     drain_ms is up; otherwise clients get 1001 (going away) and the process exits within 2 s.",
];

/// What ENVIRONMENT says after USAGE's `Environment:` line.
const ENVIRONMENT: &[&str] = &[
    "Logs go to stderr, one line per record. Under systemd (JOURNAL_STREAM set) each line \
     starts with a <N> priority prefix that journald reads as the level; otherwise it \
     carries a UTC timestamp and the level name.",
];

/// FILES: (path, what it is).
const FILES: &[(&str, &str)] = &[
    (
        "/etc/support/config.toml",
        "The config file used when --config is not given; without it, built-in defaults \
         apply. The package installs it as a conffile bound to 127.0.0.1, every key \
         commented with its default.",
    ),
    (
        "/usr/lib/systemd/system/supportd.service",
        "The systemd unit (Type=notify, watchdog, dynamic user); it checks the config before \
         every start and reload.",
    ),
    (
        "/usr/share/doc/supportd/",
        "The documentation, prometheus/ with a scrape config and alerting rules, and \
         grafana/ with a dashboard.",
    ),
];

/// SEE ALSO: documents shipped under /usr/share/doc/supportd/, then other pages.
const SEE_ALSO_DOCS: &[(&str, &str)] = &[
    (
        "operations.md",
        "install, metrics, alerts, limits, signals, logging",
    ),
    (
        "deployment.md",
        "TLS reverse proxies (nginx, Caddy) and the security model",
    ),
    (
        "protocol.md",
        "the client protocol: every event with an example",
    ),
    ("README.md", "overview"),
];

/// Other man pages named in SEE ALSO.
const SEE_ALSO_PAGES: &str = "systemctl(1), journalctl(1)";

/// Every exit status, in order.
const EXITS: [Exit; 4] = [Exit::Ok, Exit::Config, Exit::Usage, Exit::Startup];

/// What an exit status means (exhaustive, so a new status cannot be left out of the page).
fn exit_meaning(exit: Exit) -> &'static str {
    match exit {
        Exit::Ok => {
            "Ran and stopped cleanly, --check found the config valid, or --help or --version \
             printed."
        }
        Exit::Config => "The config file (or an [auth] key file) is invalid or unreadable.",
        Exit::Usage => "Bad command line; the usage text is printed on stderr.",
        Exit::Startup => "Could not bind a listener or start the event loop, or the loop failed.",
    }
}

/// The rendered page for `usage` (normally `USAGE`) and `version`.
pub fn page(usage: &str, version: &str) -> String {
    let parts = parse(usage);
    let mut out = String::new();
    out.push_str(".\\\" Generated from USAGE in src/cli.rs by src/man.rs: do not edit.\n");
    out.push_str(".\\\" Regenerate with: SUPPORTD_BLESS_MAN=1 cargo test --lib man\n");
    let _ = writeln!(
        out,
        ".TH SUPPORTD 1 \"\" \"supportd {version}\" \"User Commands\""
    );
    out.push_str(".SH NAME\n");
    let _ = writeln!(out, "supportd \\- {}", escape(SUMMARY));

    out.push_str(".SH SYNOPSIS\n");
    for (i, line) in parts.synopsis.iter().enumerate() {
        if i > 0 {
            out.push_str(".br\n");
        }
        let _ = writeln!(out, "{}", markup(line));
    }

    out.push_str(".SH DESCRIPTION\n");
    for para in parts
        .text
        .iter()
        .map(String::as_str)
        .chain(DESCRIPTION.iter().copied())
    {
        paragraph(&mut out, para);
    }

    out.push_str(".SH OPTIONS\n");
    for (term, text) in &parts.options {
        let _ = writeln!(out, ".TP\n{}\n{}", markup(term), escape(text));
    }

    for (heading, text) in &parts.sections {
        let _ = writeln!(out, ".SH {}", heading.to_uppercase());
        paragraph(&mut out, text);
        let more = match heading.as_str() {
            "Signals" => SIGNALS,
            "Environment" => ENVIRONMENT,
            _ => &[],
        };
        for para in more {
            paragraph(&mut out, para);
        }
    }

    out.push_str(".SH EXIT STATUS\n");
    for exit in EXITS {
        let _ = writeln!(
            out,
            ".TP\n.B {}\n{}",
            exit.code(),
            escape(exit_meaning(exit))
        );
    }

    out.push_str(".SH FILES\n");
    for (path, text) in FILES {
        let _ = writeln!(out, ".TP\n.I {}\n{}", escape(path), escape(text));
    }

    out.push_str(".SH SEE ALSO\n");
    for (file, text) in SEE_ALSO_DOCS {
        let _ = writeln!(
            out,
            ".TP\n.I /usr/share/doc/supportd/{}\n{}",
            escape(file),
            escape(text)
        );
    }
    out.push_str(".PP\n");
    let _ = writeln!(out, "{}", markup_pages(SEE_ALSO_PAGES));
    out
}

/// USAGE split into the parts the page places.
#[derive(Debug, Default, PartialEq)]
struct Parts {
    /// The `Usage:` lines, without `Usage:` and the indentation.
    synopsis: Vec<String>,
    /// Free paragraphs, each joined into one line.
    text: Vec<String>,
    /// `Options:` entries: (the flags, their text joined into one line).
    options: Vec<(String, String)>,
    /// `Heading: text` lines (with their continuation lines), in order.
    sections: Vec<(String, String)>,
}

/// Splits a usage text into its parts (see the module doc). Panics on a shape it cannot
/// place, so a USAGE edit that would lose text fails the test instead.
fn parse(usage: &str) -> Parts {
    let mut parts = Parts::default();
    for block in usage.split("\n\n") {
        let mut lines = block.lines();
        let Some(first) = lines.next() else { continue };
        if let Some(rest) = first.strip_prefix("Usage: ") {
            parts.synopsis.push(rest.trim().to_owned());
            parts.synopsis.extend(lines.map(|l| l.trim().to_owned()));
        } else if first == "Options:" {
            for line in lines {
                let trimmed = line.trim_start();
                if trimmed.starts_with('-') {
                    let (term, text) = trimmed
                        .split_once("  ")
                        .unwrap_or_else(|| panic!("option without a text: {line:?}"));
                    parts
                        .options
                        .push((term.to_owned(), text.trim().to_owned()));
                } else {
                    let Some((_, text)) = parts.options.last_mut() else {
                        panic!("text before the first option: {line:?}")
                    };
                    push_words(text, trimmed);
                }
            }
        } else {
            // What the previous line of this block went to, for its continuation lines.
            let mut last = Into::Nothing;
            for line in block.lines() {
                if let Some((name, text)) = heading(line) {
                    parts.sections.push((name.to_owned(), text.to_owned()));
                    last = Into::Section;
                } else {
                    let target = match (last, parts.sections.last_mut(), parts.text.last_mut()) {
                        (Into::Section, Some((_, text)), _) if line.starts_with(' ') => text,
                        (Into::Text, _, Some(text)) => text,
                        _ => {
                            parts.text.push(String::new());
                            last = Into::Text;
                            parts.text.last_mut().expect("just pushed")
                        }
                    };
                    push_words(target, line.trim());
                }
            }
        }
    }
    assert!(!parts.synopsis.is_empty(), "USAGE has no `Usage:` block");
    assert!(!parts.options.is_empty(), "USAGE has no `Options:` block");
    parts
}

/// Where a line of a free block goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Into {
    /// The block's first line is still to come.
    Nothing,
    /// The last section's text (an indented line continues it).
    Section,
    /// The last free paragraph.
    Text,
}

/// `Heading: text` when `line` starts with one capitalised word and a colon.
fn heading(line: &str) -> Option<(&str, &str)> {
    let (name, text) = line.split_once(": ")?;
    let mut chars = name.chars();
    let capital = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    (capital && chars.all(|c| c.is_ascii_lowercase())).then_some((name, text))
}

/// Appends `words` to `text` with one space between.
fn push_words(text: &mut String, words: &str) {
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(words);
}

/// Writes one `.PP` paragraph.
fn paragraph(out: &mut String, text: &str) {
    let _ = writeln!(out, ".PP\n{}", escape(text));
}

/// `text` escaped for roff: backslashes, hyphens (as `\-`, the minus of options) and a
/// leading control character.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// A synopsis line or option term with fonts: the program name and flags in bold,
/// placeholders (all-capital words) in italics, brackets and bars in roman.
fn markup(line: &str) -> String {
    let words: Vec<String> = line
        .split(' ')
        .map(|word| {
            let core = word.trim_start_matches('[').trim_end_matches([']', ',']);
            let start = word.len() - word.trim_start_matches('[').len();
            let (open, close) = (&word[..start], &word[start + core.len()..]);
            let font = if core == "supportd" || core.starts_with('-') {
                "B"
            } else if !core.is_empty() && core.chars().all(|c| c.is_ascii_uppercase()) {
                "I"
            } else {
                return escape(word);
            };
            format!("{open}\\f{font}{}\\fR{close}", escape(core))
        })
        .collect();
    words.join(" ")
}

/// `name(1), other(8)` with each page name in bold.
fn markup_pages(pages: &str) -> String {
    let items: Vec<String> = pages
        .split(", ")
        .map(|page| match page.split_once('(') {
            Some((name, section)) => format!("\\fB{}\\fR({section}", escape(name)),
            None => escape(page),
        })
        .collect();
    items.join(", ")
}

#[test]
fn committed_page_is_rendered_from_usage() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE_PATH);
    let want = page(USAGE, env!("CARGO_PKG_VERSION"));
    if std::env::var_os("SUPPORTD_BLESS_MAN").is_some() {
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{PAGE_PATH} is out of step with USAGE in src/cli.rs; rewrite it with \
         `SUPPORTD_BLESS_MAN=1 cargo test --lib man`"
    );
}

#[test]
fn every_usage_line_reaches_the_page() {
    let parts = parse(USAGE);
    assert_eq!(parts.synopsis.len(), 3, "{:?}", parts.synopsis);
    assert_eq!(
        parts.synopsis[0],
        "supportd [-c PATH | --config PATH] [--check]"
    );
    let terms: Vec<&str> = parts.options.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        terms,
        [
            "-c, --config PATH",
            "--check",
            "-h, --help",
            "-V, --version"
        ]
    );
    assert!(parts.options[0]
        .1
        .ends_with("else built-in defaults); also --config=PATH"));
    let headings: Vec<&str> = parts.sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(headings, ["Signals", "Environment"]);
    assert_eq!(parts.text.len(), 1, "{:?}", parts.text);

    // Every word of USAGE is in the page, escaped (fonts aside; headings in capitals).
    let page = page(USAGE, "0.0.0")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .to_lowercase();
    for word in USAGE
        .split_whitespace()
        .filter(|w| *w != "Usage:" && *w != "Options:")
    {
        let word = escape(word.trim_end_matches(':')).to_lowercase();
        assert!(page.contains(&word), "the page lost {word:?}");
    }
}

#[test]
fn page_has_the_sections_a_reader_looks_for() {
    let page = page(USAGE, "1.2.3");
    let sections: Vec<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .collect();
    assert_eq!(
        sections,
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "SIGNALS",
            "ENVIRONMENT",
            "EXIT STATUS",
            "FILES",
            "SEE ALSO"
        ]
    );
    assert!(page.contains(".TH SUPPORTD 1 \"\" \"supportd 1.2.3\""));
    assert!(page.contains("\nsupportd \\- real\\-time support router"));
    assert!(page.contains(".TP\n\\fB\\-c\\fR, \\fB\\-\\-config\\fR \\fIPATH\\fR\n"));
    for exit in EXITS {
        assert!(page.contains(&format!(".TP\n.B {}\n", exit.code())));
    }
    assert!(page.contains(".I /etc/support/config.toml\n"));
    assert!(page.contains(".I /usr/share/doc/supportd/operations.md\n"));
}

#[test]
fn escape_keeps_usage_text_out_of_roff_requests() {
    assert_eq!(escape("a-b \\n"), "a\\-b \\en");
    assert_eq!(escape(".SH evil"), "\\&.SH evil");
    assert_eq!(escape("'x"), "\\&'x");
    let parts = parse("Usage: supportd\n\nOptions:\n  -x  x\n\n.SH NOPE");
    assert_eq!(parts.text, [".SH NOPE"]);
    assert!(
        page("Usage: supportd\n\nOptions:\n  -x  x\n\n.SH NOPE", "0").contains("\n\\&.SH NOPE\n")
    );
}
