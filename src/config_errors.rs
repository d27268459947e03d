//! Config errors in the operator's words: turns the messages serde and toml give for a file
//! that does not fit the structs (`invalid type: string "8080", expected u16`) into ones that
//! name the key and say what it takes (`server.port: expected an integer from 0 to 65535,
//! found the string "8080"`). Pure text in, text out. Invariant: a message this does not
//! recognise is passed on unchanged (still with the key when it can be found), never lost.
use std::ops::Range;

/// The operator-facing reason for a toml/serde `message` about the text at `span` of `text`.
pub(super) fn translate(text: &str, span: Option<Range<usize>>, message: &str) -> String {
    let at = span.map(|s| s.start.min(text.len()));
    let place = at.map(|at| locate(text, at)).unwrap_or_default();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return unknown_key(&place, rest);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let key = join(&place.table, field);
        return format!("{key}: missing; this table needs it");
    }
    let reason = if let Some(rest) = message.strip_prefix("invalid type: ") {
        match rest.split_once(", expected ") {
            Some((found, expected)) => format!(
                "expected {}, found {}",
                expected_words(expected),
                found_words(found)
            ),
            None => message.to_owned(),
        }
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        match rest.split_once(", expected ") {
            Some((found, expected)) => {
                let found = match found.strip_prefix("integer `") {
                    Some(n) => n.trim_end_matches('`').to_owned(),
                    None => found_words(found),
                };
                format!("expected {}, found {found}", expected_words(expected))
            }
            None => message.to_owned(),
        }
    } else if message.starts_with("data did not match any variant of untagged enum Urls") {
        "expected a string or an array of strings".to_owned()
    } else {
        // A TOML syntax error: its own words are already about the text.
        return message.trim_end().to_owned();
    };
    match place.key() {
        Some(key) => format!("{key}: {reason}"),
        None => reason,
    }
}

/// Where an offset is: the table header above it and the key being set there.
#[derive(Debug, Default)]
struct Place {
    /// The dotted name of the enclosing `[table]`, or `[[array]]` entry with its index
    /// (`calls.ice_servers[1]`, as the checks after parsing name it); "" at the top level.
    table: String,
    /// The enclosing header as written (`[server]`, `[[calls.ice_servers]]`).
    header: String,
    /// The key on the offset's line (or the nearest line above that sets one), as written.
    key: Option<String>,
    /// The key the offset's line sets, as written (dotted keys whole), for an unknown key.
    key_here: Option<String>,
    /// The offset is on a `[table]` header line.
    on_header: bool,
}

impl Place {
    /// The dotted path of the key at the offset, when there is one.
    fn key(&self) -> Option<String> {
        if self.on_header {
            return (!self.table.is_empty()).then(|| self.table.clone());
        }
        self.key.as_deref().map(|k| join(&self.table, k))
    }
}

/// `table.key`, or `key` at the top level.
fn join(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_owned()
    } else {
        format!("{table}.{key}")
    }
}

/// The header name of a `[a.b]` or `[[a.b]]` line, and whether it is an array entry.
fn header(line: &str) -> Option<(String, bool)> {
    let l = line.trim();
    let inner = l.strip_prefix('[')?;
    let (inner, array) = match inner.strip_prefix('[') {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    let name = inner.split(']').next()?;
    Some((
        name.split('.').map(str::trim).collect::<Vec<_>>().join("."),
        array,
    ))
}

/// Enters the table of header `(name, array)`, counting array entries in `seen`.
fn enter(place: &mut Place, (name, array): (String, bool), seen: &mut Vec<(String, usize)>) {
    if !array {
        place.header = format!("[{name}]");
        place.table = name;
        return;
    }
    let index = match seen.iter_mut().find(|(n, _)| *n == name) {
        Some((_, count)) => {
            *count += 1;
            *count - 1
        }
        None => {
            seen.push((name.clone(), 1));
            0
        }
    };
    place.header = format!("[[{name}]]");
    place.table = format!("{name}[{index}]");
}

/// The key a `key = value` line (or line prefix) sets, when it sets one.
fn key_of(line: &str) -> Option<String> {
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | ' '));
    ok.then(|| k.replace(' ', ""))
}

/// Finds the table and key around byte `at` of `text`.
fn locate(text: &str, at: usize) -> Place {
    let mut place = Place::default();
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut last_key = None;
    let mut seen = Vec::new();
    for line in text[..line_start].lines() {
        if let Some(h) = header(line) {
            enter(&mut place, h, &mut seen);
            last_key = None;
        } else if let Some(k) = key_of(line) {
            last_key = Some(k);
        }
    }
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = &text[line_start..line_end];
    if let Some(h) = header(line) {
        enter(&mut place, h, &mut seen);
        place.on_header = true;
        return place;
    }
    place.key = key_of(&text[line_start..at]).or(last_key);
    place.key_here = key_of(line);
    place
}

/// `unknown field `x`, expected one of `a`, `b`` (the part after "unknown field `") in
/// words: the key, and the keys its table accepts.
fn unknown_key(place: &Place, rest: &str) -> String {
    let (field, known) = rest.split_once('`').unwrap_or((rest, ""));
    let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
    let written = place.key_here.as_deref().filter(|k| k.ends_with(field));
    let (owner, key) = if place.on_header {
        let owner = match place.table.rsplit_once('.') {
            Some((parent, _)) => format!("[{parent}]"),
            None => String::new(),
        };
        (owner, place.table.clone())
    } else if let Some((parent, _)) = written.and_then(|k| k.rsplit_once('.')) {
        // A dotted key (`server.prot = 1`): its table is in the key.
        (
            format!("[{}]", join(&place.table, parent)),
            join(&place.table, written.unwrap_or(field)),
        )
    } else {
        (place.header.clone(), join(&place.table, field))
    };
    let what = if place.on_header { "table" } else { "key" };
    let owner = if owner.is_empty() {
        "the top level".to_owned()
    } else {
        owner
    };
    if known.is_empty() {
        format!("{key}: unknown {what}; {owner} has no keys")
    } else {
        format!(
            "{key}: unknown {what}; {owner} accepts {}",
            known.join(", ")
        )
    }
}

/// What serde's "expected …" names, in words.
fn expected_words(expected: &str) -> String {
    let e = expected.trim();
    let words = match e {
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" => "a string in quotes",
        "path string" => "a file path in quotes",
        "a sequence" => "an array, like [\"a\", \"b\"]",
        "a map" => "a table",
        _ if e.starts_with("struct ") => "a table",
        _ => e,
    };
    words.to_owned()
}

/// What serde's `Unexpected` names ("string \"x\"", "integer `5`"), in words.
fn found_words(found: &str) -> String {
    let f = found.trim();
    let bare = |prefix: &str| {
        f.strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    if let Some(s) = f.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = bare("integer ") {
        format!("the integer {n}")
    } else if let Some(b) = bare("boolean ") {
        format!("the boolean {b}")
    } else if let Some(n) = bare("floating point ") {
        format!("the number {n}")
    } else if f == "sequence" {
        "an array".to_owned()
    } else if f == "map" {
        "a table".to_owned()
    } else {
        f.to_owned()
    }
}
