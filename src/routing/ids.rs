//! Identifiers. `ConnId` names a connection (the loop's token); `PeerId` is a client-chosen
//! user, agent or room id, a JSON string or integer compared as a JSON value (7 != "7").
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::rc::Rc;

/// Longest id (in bytes) a client may choose.
pub const MAX_ID_BYTES: usize = 256;

/// One connection, as numbered by the event loop; never reused while the daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// One call, numbered by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// A user, agent or room id as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerId {
    Int(i64),
    Str(Rc<str>),
}

impl PeerId {
    /// Reads an id from JSON: a non-empty string of at most MAX_ID_BYTES, or an integer.
    pub fn from_json(v: &Value) -> Option<PeerId> {
        match v {
            Value::String(s) if !s.is_empty() && s.len() <= MAX_ID_BYTES => {
                Some(PeerId::Str(s.as_str().into()))
            }
            Value::Number(n) => n.as_i64().map(PeerId::Int),
            _ => None,
        }
    }

    /// The id as a JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            PeerId::Int(i) => Value::from(*i),
            PeerId::Str(s) => Value::String(s.to_string()),
        }
    }
}

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PeerId::Int(i) => s.serialize_i64(*i),
            PeerId::Str(v) => s.serialize_str(v),
        }
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerId::Int(i) => write!(f, "{i}"),
            PeerId::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<&str> for PeerId {
    fn from(s: &str) -> Self {
        PeerId::Str(s.into())
    }
}

impl From<i64> for PeerId {
    fn from(i: i64) -> Self {
        PeerId::Int(i)
    }
}
