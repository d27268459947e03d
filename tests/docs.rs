//! The README's performance figures are docs/performance.md's.
//!
//! Why: the README quotes a few figures from docs/performance.md, which gains a new section
//! with every measured change; a figure typed into the README by hand, or a README left
//! quoting an older run, goes stale without anyone noticing. Rule checked here: every number
//! in the README's "Performance" section is one of the figures (as rounded) of the
//! docs/performance.md sections it links to, every link names a heading that exists, and
//! the newest paired run (the last heading with "paired") is among them.

/// The text of `path` in the repository.
fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The sections of a Markdown file outside code blocks: (level, title, text from the
/// heading to the next heading of the same or a higher level).
fn sections(doc: &str) -> Vec<(usize, String, String)> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut heads = Vec::new();
    let mut fenced = false;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && l.starts_with('#') {
            let level = l.chars().take_while(|c| *c == '#').count();
            heads.push((i, level, l[level..].trim().to_string()));
        }
    }
    heads
        .iter()
        .map(|(i, level, title)| {
            let end = heads
                .iter()
                .find(|(j, l, _)| j > i && l <= level)
                .map_or(lines.len(), |(j, _, _)| *j);
            (*level, title.clone(), lines[*i..end].join("\n"))
        })
        .collect()
}

/// The numbers of a text (`328,131`, `12.2`, `0.29`), as written (thousands commas
/// dropped); a number followed by a letter or digit run such as `5m` counts too.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let prev_word = i > 0 && (chars[i - 1].is_ascii_alphabetic() || chars[i - 1] == '_');
        if chars[i].is_ascii_digit() && !prev_word {
            let mut n = String::new();
            while i < chars.len() {
                let c = chars[i];
                let inner =
                    (c == ',' || c == '.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
                if c.is_ascii_digit() || inner {
                    if c != ',' {
                        n.push(c);
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(n);
        } else if chars[i].is_ascii_digit() {
            // Part of a word (p99, x86_64): not a figure.
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Whether README figure `shown` is `measured` as rounded to `shown`'s decimals.
fn agrees(shown: &str, measured: &str) -> bool {
    let decimals = shown.split_once('.').map_or(0, |(_, d)| d.len());
    let (Ok(s), Ok(m)) = (shown.parse::<f64>(), measured.parse::<f64>()) else {
        return false;
    };
    let scale = 10f64.powi(decimals as i32);
    ((m * scale).round() - s * scale).abs() < 1e-6
}

/// The README's "Performance" section, and the docs/performance.md anchors it links to.
fn readme_performance() -> (String, Vec<String>) {
    let readme = read("README.md");
    let (_, _, text) = sections(&readme)
        .into_iter()
        .find(|(level, title, _)| *level == 2 && title == "Performance")
        .expect("README.md has a \"## Performance\" section");
    let anchors = text
        .match_indices("(docs/performance.md#")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest[..rest.find(')').expect("a closed link")].to_string()
        })
        .collect();
    (text, anchors)
}

/// The text with Markdown link targets `](…)` removed (anchors carry digits too).
fn without_link_targets(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 2..];
        rest = &rest[rest.find(')').map_or(rest.len(), |j| j + 1)..];
    }
    out.push_str(rest);
    out
}

#[test]
fn readme_links_existing_sections_and_the_newest_paired_run() {
    let perf = sections(&read("docs/performance.md"));
    let (_, anchors) = readme_performance();
    assert!(!anchors.is_empty(), "the README links no section");
    for a in &anchors {
        assert!(
            perf.iter().any(|(_, t, _)| slug(t) == *a),
            "README.md links docs/performance.md#{a}, which is no heading there"
        );
    }
    let newest = perf
        .iter()
        .rev()
        .find(|(_, t, _)| t.to_lowercase().contains("paired"))
        .map(|(_, t, _)| t.clone())
        .expect("docs/performance.md has a paired run");
    assert!(
        anchors.contains(&slug(&newest)),
        "the newest paired run in docs/performance.md is \"{newest}\": quote its figures in \
         README.md's Performance section and link #{}",
        slug(&newest)
    );
}

#[test]
fn readme_figures_are_those_of_the_sections_it_links() {
    let perf = sections(&read("docs/performance.md"));
    let (text, anchors) = readme_performance();
    let measured: Vec<String> = perf
        .iter()
        .filter(|(_, t, _)| anchors.contains(&slug(t)))
        .flat_map(|(_, _, body)| numbers(body))
        .collect();
    let shown = numbers(&without_link_targets(&text));
    assert!(shown.len() >= 10, "too few figures found: {shown:?}");
    let stray: Vec<&String> = shown
        .iter()
        // Single digits are counts in words ("one message", "16 in flight" has two).
        .filter(|n| n.len() > 1)
        .filter(|n| !measured.iter().any(|m| agrees(n, m)))
        .collect();
    assert!(
        stray.is_empty(),
        "README.md's Performance section shows {stray:?}, which the docs/performance.md \
         sections it links ({anchors:?}) do not"
    );
}

#[test]
fn helpers_read_markdown_as_github_does() {
    assert_eq!(
        slug("Several chats, priorities, skills and calls (issue 14): paired, within budget"),
        "several-chats-priorities-skills-and-calls-issue-14-paired-within-budget"
    );
    assert_eq!(
        numbers("relay 328,131 (12.2×), K=16, p99 0.29x, 5m."),
        ["328131", "12.2", "16", "0.29", "5"]
    );
    assert!(agrees("116", "116.09") && agrees("12.2", "12.21") && !agrees("12.2", "12.6"));
    assert_eq!(without_link_targets("[a](x#b-14) c"), "[a] c");
}
