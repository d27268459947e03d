//! Reading request payloads, and the rejections the routing rules share.
//!
//! Why: every rule reads its `data` the same way (an object; ids that are non-empty strings or
//! integers; self-naming fields that must be the sender's own) and refuses with the same
//! codes and messages, so those live here once. Invariant: these functions only read; a
//! rejection built here never comes with a change of routing state.
use super::event::{ErrorCode, Rejection, Role};
use super::ids::PeerId;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What a routing rule returns: Ok, or a refusal that changed nothing.
pub(super) type Handled = Result<(), Rejection>;

/// The sender has not registered.
pub(super) fn not_registered() -> Rejection {
    Rejection::new(
        ErrorCode::NotRegistered,
        "register first with connectUser or connectAgent",
    )
}

/// The sender has no (such) call.
pub(super) fn not_in_call() -> Rejection {
    Rejection::new(ErrorCode::NotInCall, "not in a call")
}

/// The named room is not the sender's.
pub(super) fn not_your_room() -> Rejection {
    Rejection::new(ErrorCode::Forbidden, "roomId is not a call of yours")
}

/// The roomId is not an id.
pub(super) fn bad_room() -> Rejection {
    Rejection::new(
        ErrorCode::BadPayload,
        "roomId must be a non-empty string or an integer",
    )
}

/// An agent with several calls named none of them.
pub(super) fn room_required() -> Rejection {
    Rejection::new(
        ErrorCode::BadPayload,
        "roomId is required with more than one call",
    )
}

/// The event belongs to the other role.
pub(super) fn wrong_role(needed: Role) -> Rejection {
    match needed {
        Role::User => Rejection::new(ErrorCode::Forbidden, "only a user may send this event"),
        Role::Agent => Rejection::new(ErrorCode::Forbidden, "only an agent may send this event"),
    }
}

/// A self-naming field that names someone else.
pub(super) fn not_own_id(key: &str) -> Rejection {
    Rejection::with(
        ErrorCode::Forbidden,
        format!("{key} is not this connection's id"),
    )
}

/// The deepest nesting of arrays and objects allowed in an event's data and in a relayed
/// `messageInput` (`[]` is one level); deeper is `bad_payload`. Receivers' JSON parsers
/// (and serde_json's own default) stop near here.
pub const MAX_JSON_DEPTH: usize = 128;

/// Whether already-validated JSON text nests arrays and objects deeper than `max` levels.
/// One byte scan, no parse: brackets inside strings are skipped (the text is valid JSON,
/// so a string ends at the first quote not escaped by a backslash). A scalar costs one
/// byte's look.
pub fn nested_deeper_than(json: &str, max: usize) -> bool {
    let b = json.as_bytes();
    let mut i = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    if !matches!(b.get(i), Some(b'[' | b'{')) {
        return false;
    }
    let mut depth = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i += 1;
                while let Some(&s) = b.get(i) {
                    match s {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// A value nested past MAX_JSON_DEPTH (`what`: "data", "messageInput").
pub(super) fn too_deep(what: &str) -> Rejection {
    Rejection::with(
        ErrorCode::BadPayload,
        format!("{what} is nested deeper than {MAX_JSON_DEPTH} levels"),
    )
}

/// The event's data as an object; omitted or null data is an empty object. Data nested
/// past MAX_JSON_DEPTH is refused before it is parsed (so the parse, whose own recursion
/// limit is off, recurses at most that deep).
pub(super) fn object(data: Option<&RawValue>) -> Result<Map<String, Value>, Rejection> {
    let Some(raw) = data else {
        return Ok(Map::new());
    };
    if nested_deeper_than(raw.get(), MAX_JSON_DEPTH) {
        return Err(too_deep("data"));
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de).and_then(|v: Value| de.end().map(|()| v));
    match value {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        _ => Err(Rejection::new(
            ErrorCode::BadPayload,
            "data must be an object",
        )),
    }
}

/// An id field of the wrong type (or empty, or too long).
pub(super) fn bad_id(key: &str) -> Rejection {
    Rejection::with(
        ErrorCode::BadPayload,
        format!("{key} must be a non-empty string or an integer"),
    )
}

/// An optional id field: None when absent or null, a rejection when not an id.
pub(super) fn optional_id(
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<PeerId>, Rejection> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => PeerId::from_json(v).map(Some).ok_or_else(|| bad_id(key)),
    }
}

/// A required id field: a rejection when absent, null or not an id.
pub(super) fn required_id(obj: &Map<String, Value>, key: &str) -> Result<PeerId, Rejection> {
    optional_id(obj, key)?.ok_or_else(|| {
        Rejection::with(
            ErrorCode::BadPayload,
            format!("{key} is required (a non-empty string or an integer)"),
        )
    })
}

/// A self-naming id field, if present, must be the sender's own.
pub(super) fn check_own_id(obj: &Map<String, Value>, key: &str, own: &PeerId) -> Handled {
    match optional_id(obj, key)? {
        Some(id) if &id != own => Err(not_own_id(key)),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
