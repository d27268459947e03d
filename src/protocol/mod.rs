//! Wire formats.
pub mod engineio;
pub mod native;
pub mod socketio;
