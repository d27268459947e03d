//! What a verified token says about a party beyond its id, given to the router with
//! `Router::attest` just before the registration it proves.
//!
//! Why: a claim the operator's issuer signed (an agent's capacity) must win over what the
//! client asserts in `connectAgent`, and the core never sees tokens; the loop verifies them
//! and hands over only the attributes. Invariant: it applies to the next registration of
//! that connection only (`Router::handle_register` clears it whatever the outcome).

/// The attributes of a verified token that routing uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attested {
    /// The token's `capacity` claim (chats at once, agents only); None: the default.
    pub capacity: Option<u32>,
}
