//! Wire formats.
pub mod engineio;
pub mod native;
pub mod socketio;

use serde::de::DeserializeSeed;

/// Parses all of `text` with the seed `make(true)`, which reads message-event data as
/// `MessageData` in the same pass. Valid JSON that `MessageData` cannot hold (a lone
/// surrogate, 1e400) fails that read; it is read again with `make(false)`, data kept raw, so
/// the router answers as for any bad payload.
fn parse_one_pass<'de, S: DeserializeSeed<'de>>(
    text: &'de str,
    make: impl Fn(bool) -> S,
) -> serde_json::Result<S::Value> {
    let parse = |one_pass| {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = make(one_pass).deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    };
    parse(true).or_else(|_| parse(false))
}
