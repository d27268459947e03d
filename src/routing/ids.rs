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
            Value::String(s) if valid_str_id(s) => Some(PeerId::Str(s.as_str().into())),
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

/// An id as it appears in a request, borrowed from the frame when it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRef<'a> {
    Int(i64),
    Str(std::borrow::Cow<'a, str>),
    /// Present but not an id (wrong type, empty, too long).
    Invalid,
}

impl IdRef<'_> {
    /// Whether this names `id`.
    pub fn is(&self, id: &PeerId) -> bool {
        match (self, id) {
            (IdRef::Int(a), PeerId::Int(b)) => a == b,
            (IdRef::Str(a), PeerId::Str(b)) => **a == **b,
            _ => false,
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for IdRef<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = IdRef<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(str_id(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(str_id(std::borrow::Cow::Owned(s.to_owned())))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Self::Value, E> {
                Ok(IdRef::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(u).map_or(IdRef::Invalid, IdRef::Int))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(IdRef::Invalid)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(IdRef::Invalid)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(IdRef::Invalid)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(IdRef::Invalid)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(IdRef::Invalid)
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a string may be an id: non-empty and at most MAX_ID_BYTES.
fn valid_str_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_BYTES
}

/// A string id, or Invalid when empty or too long.
fn str_id(s: std::borrow::Cow<'_, str>) -> IdRef<'_> {
    if valid_str_id(&s) {
        IdRef::Str(s)
    } else {
        IdRef::Invalid
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

#[cfg(test)]
#[path = "ids_tests.rs"]
mod tests;
