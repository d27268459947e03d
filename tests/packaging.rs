//! The Debian package's sources against the docs: one cargo-deb install command (the one
//! scripts/check-deb.sh runs) and one build and install command wherever a file names them,
//! every asset present and the docs shipped (and checked by check-deb.sh), and the package's
//! copyright carrying LICENSE. scripts/check-deb.sh checks the built package itself.
use std::fs;
use std::path::{Path, PathBuf};

/// The repository root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text of a repository file.
fn read(path: &str) -> String {
    let full = root().join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every text file of the repository (not build output, dependencies or this file), as
/// (path relative to the root, text).
fn repository_texts() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root(), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path
                .strip_prefix(root())
                .ok()?
                .to_string_lossy()
                .into_owned();
            if rel == "tests/packaging.rs" {
                return None;
            }
            // Binary files and large data (fuzz corpora, reports) name no commands.
            if fs::metadata(&path).ok()?.len() > 1_000_000 {
                return None;
            }
            Some((rel, fs::read_to_string(&path).ok()?))
        })
        .collect()
}

/// The shell command that starts at `at` in `line`: up to a comment, a redirection, a pipe,
/// a closing backtick or parenthesis, or the end of the line.
fn command_at(line: &str, at: usize) -> &str {
    let rest = &line[at..];
    let end = ["#", "`", ")", " 2>", " >", " |", " &&", ";"]
        .iter()
        .filter_map(|stop| rest.find(stop))
        .min()
        .unwrap_or(rest.len());
    rest[..end].trim()
}

/// The command scripts/check-deb.sh installs cargo-deb with, and the version it names.
fn check_deb_install() -> (String, String) {
    let script = read("scripts/check-deb.sh");
    let lines: Vec<&str> = script
        .lines()
        .filter(|l| l.contains("cargo install cargo-deb"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "scripts/check-deb.sh: one cargo-deb install expected"
    );
    let command = lines[0].trim().to_owned();
    let version = command
        .strip_prefix("cargo install cargo-deb --locked --version ")
        .unwrap_or_else(|| panic!("scripts/check-deb.sh installs an unpinned cargo-deb: {command}"))
        .to_owned();
    assert!(
        script.contains(&format!("!= \"cargo-deb {version}\"")),
        "scripts/check-deb.sh does not check that cargo-deb {version} is the one installed"
    );
    (command, version)
}

/// The `x.y.z` version numbers in `text`.
fn versions(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| t.split('.').count() == 3 && t.split('.').all(|p| !p.is_empty()))
        .collect()
}

#[test]
fn every_file_installs_the_cargo_deb_that_check_deb_installs() {
    let (install, version) = check_deb_install();
    let mut named_by = Vec::new();
    for (path, text) in repository_texts() {
        for (n, line) in text.lines().enumerate() {
            if let Some(at) = line.find("cargo install cargo-deb") {
                assert_eq!(
                    command_at(line, at),
                    install,
                    "{path}:{}: a cargo-deb install other than scripts/check-deb.sh's",
                    n + 1
                );
                named_by.push(path.clone());
            }
            if line.contains("cargo-deb") {
                for v in versions(line) {
                    assert_eq!(
                        v,
                        version,
                        "{path}:{}: names cargo-deb {v}; scripts/check-deb.sh installs {version}",
                        n + 1
                    );
                }
            }
        }
    }
    for doc in ["README.md", "docs/operations.md", "docs/deployment.md"] {
        assert!(
            named_by.iter().any(|p| p == doc),
            "{doc} does not say how to install cargo-deb ({install})"
        );
    }
}

#[test]
fn every_file_builds_and_installs_the_package_the_same_way() {
    const BUILD: &str = "cargo deb -p supportd";
    const INSTALL: &str = "sudo apt install ./target/debian/supportd_*.deb";
    const INSTALL_DBGSYM: &str = "sudo apt install ./target/debian/supportd-dbgsym_*.ddeb";
    let mut builds = Vec::new();
    for (path, text) in repository_texts() {
        for (n, line) in text.lines().enumerate() {
            let at = format!("{path}:{}", n + 1);
            for (i, _) in line.match_indices("cargo deb -") {
                let command = command_at(line, i);
                // A command is the build, or scripts/check-deb.sh's version probe.
                let probe = command.starts_with("cargo deb --version");
                assert!(
                    command == BUILD || probe,
                    "{at}: `{command}`, not `{BUILD}`"
                );
                if !probe {
                    builds.push(path.clone());
                }
            }
            for (i, _) in line.match_indices("apt install ./") {
                let start = line[..i].rfind("sudo ").filter(|&s| s + 5 == i);
                let command = command_at(line, start.unwrap_or(i));
                assert!(
                    command == INSTALL || command == INSTALL_DBGSYM,
                    "{at}: `{command}`, not `{INSTALL}` (or `{INSTALL_DBGSYM}`)"
                );
            }
            assert!(
                !line.contains("dpkg -i "),
                "{at}: dpkg -i installs no dependencies; use `{INSTALL}`"
            );
        }
    }
    for doc in ["README.md", "docs/operations.md", "docs/deployment.md"] {
        assert!(
            builds.iter().any(|p| p == doc),
            "{doc} does not show `{BUILD}`"
        );
        assert!(
            read(doc).contains(INSTALL),
            "{doc} does not show `{INSTALL}`"
        );
    }
    // The file name README shows is the one cargo-deb writes: the crate's version, the
    // revision of the Debian changelog.
    let changelog = read("systemd/debian/changelog");
    let top = changelog.lines().next().unwrap_or_default();
    let deb_version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    assert!(
        top.starts_with(&format!("supportd ({deb_version})")),
        "systemd/debian/changelog's top entry is not {deb_version}: {top}"
    );
    let name = format!("target/debian/supportd_{deb_version}_amd64.deb");
    assert!(
        read("README.md").contains(&name),
        "README.md does not name {name}"
    );
}

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml parses");
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// The package's assets as (source, destination).
fn assets() -> Vec<(String, String)> {
    deb_metadata()["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let a = a
                .as_array()
                .expect("an asset is [source, destination, mode]");
            let s = |i: usize| a[i].as_str().expect("a string").to_owned();
            (s(0), s(1))
        })
        .collect()
}

/// Where `source` lands for an asset `destination` (a directory when it ends with `/`).
fn installed_path(source: &str, destination: &str) -> String {
    match destination.strip_suffix('/') {
        Some(dir) => format!("/{dir}/{}", source.rsplit('/').next().unwrap_or(source)),
        None => format!("/{destination}"),
    }
}

#[test]
fn the_docs_and_the_prometheus_files_are_shipped_and_checked() {
    let assets = assets();
    let shipped: Vec<String> = assets.iter().map(|(s, d)| installed_path(s, d)).collect();
    for (source, destination) in [
        ("README.md", "/usr/share/doc/supportd/README.md"),
        (
            "docs/operations.md",
            "/usr/share/doc/supportd/operations.md",
        ),
        (
            "docs/deployment.md",
            "/usr/share/doc/supportd/deployment.md",
        ),
        ("docs/protocol.md", "/usr/share/doc/supportd/protocol.md"),
        (
            "etc/prometheus/scrape.yml",
            "/usr/share/doc/supportd/prometheus/scrape.yml",
        ),
        (
            "etc/prometheus/alerts.yml",
            "/usr/share/doc/supportd/prometheus/alerts.yml",
        ),
        ("docs/supportd.1", "/usr/share/man/man1/supportd.1"),
    ] {
        assert!(
            assets
                .iter()
                .any(|(s, d)| s == source && installed_path(s, d) == destination),
            "Cargo.toml does not ship {source} as {destination}"
        );
    }
    let script = read("scripts/check-deb.sh");
    for (source, destination) in &assets {
        if source.starts_with("target/") {
            continue;
        }
        assert!(
            root().join(source).is_file(),
            "asset {source} does not exist"
        );
        // Every file shipped as documentation is checked in the built package.
        if destination.starts_with("usr/share/doc/") {
            assert!(
                script.contains(&format!("{source}:")),
                "scripts/check-deb.sh does not check that the package holds {source}"
            );
        }
    }
    // What the man page points readers at is in the package.
    let page = read("docs/supportd.1");
    for line in page.lines() {
        if let Some(path) = line.strip_prefix(".I /usr/share/doc/supportd/") {
            if !path.is_empty() {
                let path = format!("/usr/share/doc/supportd/{path}");
                assert!(
                    shipped.contains(&path),
                    "the man page names {path}, not shipped"
                );
            }
        }
    }
}

#[test]
fn the_debian_copyright_carries_license() {
    let meta = deb_metadata();
    let holder = meta["copyright"].as_str().expect("copyright");
    let license = read("LICENSE");
    let mut lines = license.lines();
    assert_eq!(lines.next(), Some("MIT License"));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(
        lines.next(),
        Some(format!("Copyright (c) {holder}").as_str())
    );
    assert_eq!(lines.next(), Some(""));
    let terms: Vec<&str> = lines.collect();
    assert!(terms[0].starts_with("Permission is hereby granted, free of charge"));

    // cargo-deb copies license-file verbatim to /usr/share/doc/supportd/copyright.
    let path = meta["license-file"].as_str().expect("license-file");
    let copyright = read(path);
    assert!(copyright.starts_with(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    ));
    let files = copyright
        .split("\n\n")
        .find(|p| p.starts_with("Files: *\n"))
        .unwrap_or_else(|| panic!("{path} has no `Files: *` paragraph"));
    let mut fields = files.lines().skip(1);
    assert_eq!(fields.next(), Some(format!("Copyright: {holder}").as_str()));
    let cargo_license = read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .map(|l| l.trim_matches('"').to_owned());
    assert_eq!(cargo_license.as_deref(), Some("MIT"));
    assert_eq!(fields.next(), Some("License: MIT"));
    // The text: each line indented by one space, an empty line as ` .`.
    let text: Vec<&str> = fields
        .map(|l| match l {
            " ." => "",
            l => l.strip_prefix(' ').expect("a continuation line"),
        })
        .collect();
    assert_eq!(text, terms, "{path}'s MIT text differs from LICENSE");
}
