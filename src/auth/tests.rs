//! Unit tests for `auth`: the bearer header, the startup warning, the error codes.
use super::*;
use std::path::PathBuf;

#[test]
fn bearer_takes_the_token_with_any_case_of_scheme() {
    assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
    assert_eq!(bearer("bearer abc"), Some("abc"));
    assert_eq!(bearer("BEARER   abc  "), Some("abc"));
    assert_eq!(bearer("  Bearer\tabc"), Some("abc"));
}

#[test]
fn bearer_refuses_other_schemes_and_empty_tokens() {
    assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
    assert_eq!(bearer("Bearer"), None);
    assert_eq!(bearer("Bearer "), None);
    assert_eq!(bearer("Bearerabc"), None);
    assert_eq!(bearer("Bearer a b"), None);
    assert_eq!(bearer(""), None);
    assert_eq!(bearer("Béarer abc"), None);
}

#[test]
fn startup_warning_only_without_an_agent_key() {
    let mut s = AuthSettings::default();
    let w = startup_warning(&s).unwrap();
    assert!(w.starts_with("agents are not authenticated: "), "{w}");
    s.user_secret_file = Some(PathBuf::from("/u"));
    assert!(
        startup_warning(&s).is_some(),
        "user keys do not authenticate agents"
    );
    s.agent_jwks_file = Some(PathBuf::from("/a"));
    assert_eq!(startup_warning(&s), None);
    let s = AuthSettings {
        agent_secret_file: Some(PathBuf::from("/a")),
        ..AuthSettings::default()
    };
    assert_eq!(startup_warning(&s), None);
}

#[test]
fn only_an_expired_token_has_the_token_expired_code() {
    assert_eq!(AuthError::Expired { exp: 1 }.code(), "token_expired");
    for e in [
        AuthError::Missing,
        AuthError::Invalid("x"),
        AuthError::NotConfigured(Role::Agent),
        AuthError::KeyFile {
            path: "/k".into(),
            reason: "r".into(),
        },
    ] {
        assert_eq!(e.code(), "unauthorized", "{e:?}");
    }
}

#[test]
fn key_file_errors_name_the_file() {
    let e = AuthError::KeyFile {
        path: "/etc/support/agent.secret".into(),
        reason: "too short".into(),
    };
    assert_eq!(e.to_string(), "/etc/support/agent.secret: too short");
}
