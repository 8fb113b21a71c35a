//! Ids and their validation. Each id type has one `parse` that every party uses.

use crate::error::{ErrorCode, ProtocolError};
use crate::limits::{MAX_AGENT_NAME_CHARS, MAX_CLIENT_ID_LEN, MAX_SITE_ID_LEN};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Order of a message in its conversation, assigned by the relay: 1, 2, 3, ...
/// `0` means "before the first message" (`after_seq = 0` replays everything).
pub type Seq = u64;

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        // Read through `parse`, so an id in any body (a program's HTTP call, a stored
        // setting) is as valid as one typed into a frame.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ProtocolError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

string_id!(
    /// A site, as named in the embed tag's `data-site`: 1–64 of `[A-Za-z0-9_-]`.
    SiteId
);
string_id!(
    /// A conversation: the 64 lowercase hex digits of its Durable Object id.
    ConversationId
);
string_id!(
    /// A client-generated message id, unique per author within a conversation:
    /// 1–64 of `[A-Za-z0-9_-]`. Resending the same id never stores a second message.
    ClientMsgId
);
string_id!(
    /// An agent's display name as shown to visitors: 1–64 characters, no control characters.
    AgentName
);

impl SiteId {
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        if s.is_empty() || s.len() > MAX_SITE_ID_LEN || !s.chars().all(is_token_char) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidId,
                format!("a site id is 1 to {MAX_SITE_ID_LEN} of A-Z a-z 0-9 _ -"),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl ConversationId {
    pub const LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        if s.len() != Self::LEN || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidId,
                "a conversation id is 64 lowercase hex digits",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl ClientMsgId {
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        if s.is_empty() || s.len() > MAX_CLIENT_ID_LEN || !s.chars().all(is_token_char) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidClientId,
                format!("a client id is 1 to {MAX_CLIENT_ID_LEN} of A-Z a-z 0-9 _ -"),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl AgentName {
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let trimmed = s.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > MAX_AGENT_NAME_CHARS || trimmed.chars().any(char::is_control) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidId,
                format!("an agent name is 1 to {MAX_AGENT_NAME_CHARS} printable characters"),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_from_json_are_checked_like_parsed_ones() {
        assert!(serde_json::from_str::<ClientMsgId>(r#""not valid!""#).is_err());
        assert!(serde_json::from_str::<AgentName>(r#""   ""#).is_err());
        assert_eq!(serde_json::from_str::<AgentName>(r#"" Ana ""#).unwrap().as_str(), "Ana");
        assert_eq!(serde_json::from_str::<SiteId>(r#""demo""#).unwrap(), SiteId::parse("demo").unwrap());
    }

    #[test]
    fn site_id_edges() {
        assert!(SiteId::parse("demo").is_ok());
        assert!(SiteId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(SiteId::parse("").unwrap_err().code, ErrorCode::InvalidId);
        assert_eq!(SiteId::parse(&"a".repeat(65)).unwrap_err().code, ErrorCode::InvalidId);
        assert_eq!(SiteId::parse("de.mo").unwrap_err().code, ErrorCode::InvalidId);
        assert_eq!(SiteId::parse("démo").unwrap_err().code, ErrorCode::InvalidId);
    }

    #[test]
    fn conversation_id_is_64_lowercase_hex() {
        assert!(ConversationId::parse(&"0a".repeat(32)).is_ok());
        assert!(ConversationId::parse(&"0A".repeat(32)).is_err());
        assert!(ConversationId::parse(&"0a".repeat(31)).is_err());
        assert!(ConversationId::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn client_id_edges() {
        assert!(ClientMsgId::parse("m-1_x").is_ok());
        assert!(ClientMsgId::parse(&"x".repeat(MAX_CLIENT_ID_LEN)).is_ok());
        for bad in ["", "has space", "<script>", &"x".repeat(MAX_CLIENT_ID_LEN + 1)] {
            assert_eq!(ClientMsgId::parse(bad).unwrap_err().code, ErrorCode::InvalidClientId, "{bad:?}");
        }
    }

    #[test]
    fn agent_name_is_trimmed_and_printable() {
        assert_eq!(AgentName::parse("  Ana  ").unwrap().as_str(), "Ana");
        assert!(AgentName::parse("   ").is_err());
        assert!(AgentName::parse("A\u{7}na").is_err());
        assert!(AgentName::parse(&"é".repeat(64)).is_ok());
        assert!(AgentName::parse(&"é".repeat(65)).is_err());
    }
}
