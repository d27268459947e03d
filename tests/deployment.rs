//! docs/deployment.md against the files it documents: the nginx and Caddy configs it shows
//! are the shipped ones, verbatim (scripts/nginx-test.sh runs those files, so the doc shows
//! what is tested), and the packaged config is the documented defaults bound to loopback.
use std::fs;
use std::path::Path;
use std::process::Command;

/// The text of a repository file.
fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The body of the fenced block of `lang` in `doc` that follows the first mention of `file`.
fn block_after(doc: &str, file: &str, lang: &str) -> String {
    let at = doc
        .find(file)
        .unwrap_or_else(|| panic!("the doc never names {file}"));
    let fence = format!("```{lang}\n");
    let start = doc[at..]
        .find(&fence)
        .unwrap_or_else(|| panic!("no ```{lang} block after {file}"))
        + at
        + fence.len();
    let end = doc[start..].find("```").expect("unclosed block") + start;
    doc[start..end].to_string()
}

#[test]
fn doc_shows_the_nginx_config_verbatim() {
    let doc = read("docs/deployment.md");
    let shown = block_after(&doc, "`etc/nginx/supportd.conf`", "nginx");
    assert_eq!(
        shown,
        read("etc/nginx/supportd.conf"),
        "docs/deployment.md's nginx block differs from etc/nginx/supportd.conf"
    );
}

#[test]
fn doc_shows_the_caddyfile_verbatim() {
    let doc = read("docs/deployment.md");
    let shown = block_after(&doc, "`etc/caddy/Caddyfile`", "caddyfile");
    assert_eq!(
        shown,
        read("etc/caddy/Caddyfile"),
        "docs/deployment.md's Caddy block differs from etc/caddy/Caddyfile"
    );
}

#[test]
fn doc_names_what_the_proxies_need() {
    let doc = read("docs/deployment.md");
    for needle in [
        "limits.trusted_proxies",
        "server.cors_origins",
        "auth.agent_secret_file",
        "operations.md#authentication",
        "X-Forwarded-For",
        "sticky",
    ] {
        assert!(
            doc.contains(needle),
            "docs/deployment.md does not mention {needle}"
        );
    }
}

#[test]
fn packaged_config_is_the_defaults_bound_to_loopback() {
    let defaults = read("etc/config.toml");
    let packaged = read("etc/packaged/config.toml");
    let public = "\nbind = \"0.0.0.0\"\n";
    assert_eq!(
        defaults.matches(public).count(),
        1,
        "etc/config.toml: one server.bind line expected"
    );
    let start = packaged
        .find("\n# The package binds loopback only")
        .expect("the packaged bind comment");
    let end = packaged
        .find("\nbind = \"127.0.0.1\"\n")
        .expect("the packaged bind line")
        + "\nbind = \"127.0.0.1\"\n".len();
    let unpackaged = format!("{}{public}{}", &packaged[..start], &packaged[end..]);
    assert!(
        unpackaged == defaults,
        "etc/packaged/config.toml must be etc/config.toml with only the server.bind line changed; \
         copy etc/config.toml over it and put the bind comment and line back"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_supportd"))
        .args(["--check", "--config", "etc/packaged/config.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run supportd --check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
