//! Typed error codes. Clients and tests branch on the code, never on the message text.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every way a request or frame can be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or JSON of the wrong shape for its frame type.
    MalformedFrame,
    /// A frame whose `type` this protocol does not know.
    UnknownFrameType,
    /// A frame larger than [`crate::limits::MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// A message body that is empty once trimmed.
    EmptyBody,
    /// A message body longer than [`crate::limits::MAX_BODY_CHARS`].
    BodyTooLong,
    /// A client message id that is empty, too long or has characters outside `[A-Za-z0-9_-]`.
    InvalidClientId,
    /// An invalid id in a path or parameter (site, conversation, agent name).
    InvalidId,
    /// An email address the parser refuses.
    InvalidEmail,
    /// A link that is not an http(s) URL.
    InvalidUrl,
    /// A card, label, suggestion or setting that breaks its limits.
    InvalidContent,
    /// Allowed to someone, but not to this connection (a visitor sending a card, a visitor
    /// ending the chat).
    Forbidden,
    /// The conversation has ended or the visitor is blocked: nothing more can be written.
    ConversationClosed,
    /// Too many requests; try again after `retry_after_secs`. Nothing was stored.
    RateLimited,
    /// The site requires a verified identity and none was given.
    IdentityRequired,
    /// The identity's hash does not match, or it is not the conversation's user.
    InvalidIdentity,
    /// A query parameter that is missing or not of its form (e.g. `after_seq`).
    InvalidParameter,
    /// A missing, malformed, forged or expired conversation token.
    InvalidToken,
    /// Missing or wrong agent credentials.
    Unauthorized,
    /// A site this relay does not serve.
    UnknownSite,
    /// A conversation that does not exist.
    UnknownConversation,
    /// A protocol version the relay does not speak.
    UnsupportedVersion,
    /// A route that does not exist.
    NotFound,
    /// A route that exists but not for this HTTP method.
    MethodNotAllowed,
    /// A public reply or action that only the conversation's responsible agent may take.
    NotResponsible,
    /// The conversation already has a responsible agent.
    AlreadyAssigned,
    /// An agent who is offline cannot do this (start a conversation).
    AgentOffline,
    /// An admin's action, asked by an agent.
    AdminOnly,
    /// An account with this email already exists.
    AccountExists,
    /// Email or password wrong (which one is not said).
    BadCredentials,
    /// Something failed inside the relay; nothing was stored.
    Internal,
}

impl ErrorCode {
    /// The HTTP status that goes with this code when it is answered over HTTP.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedFrame
            | ErrorCode::UnknownFrameType
            | ErrorCode::EmptyBody
            | ErrorCode::BodyTooLong
            | ErrorCode::InvalidClientId
            | ErrorCode::InvalidId
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidEmail
            | ErrorCode::InvalidUrl
            | ErrorCode::InvalidContent
            | ErrorCode::UnsupportedVersion => 400,
            ErrorCode::Forbidden | ErrorCode::NotResponsible | ErrorCode::AdminOnly | ErrorCode::AgentOffline => 403,
            ErrorCode::AlreadyAssigned | ErrorCode::AccountExists => 409,
            ErrorCode::BadCredentials => 401,
            ErrorCode::ConversationClosed => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::FrameTooLarge => 413,
            ErrorCode::InvalidToken | ErrorCode::Unauthorized | ErrorCode::IdentityRequired | ErrorCode::InvalidIdentity => 401,
            ErrorCode::UnknownSite | ErrorCode::UnknownConversation | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Internal => 500,
        }
    }

    /// Every code, for reading one back from its wire name.
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::MalformedFrame,
        ErrorCode::UnknownFrameType,
        ErrorCode::FrameTooLarge,
        ErrorCode::EmptyBody,
        ErrorCode::BodyTooLong,
        ErrorCode::InvalidClientId,
        ErrorCode::InvalidId,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidUrl,
        ErrorCode::InvalidContent,
        ErrorCode::Forbidden,
        ErrorCode::ConversationClosed,
        ErrorCode::RateLimited,
        ErrorCode::IdentityRequired,
        ErrorCode::InvalidIdentity,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidToken,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownSite,
        ErrorCode::UnknownConversation,
        ErrorCode::UnsupportedVersion,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotResponsible,
        ErrorCode::AlreadyAssigned,
        ErrorCode::AgentOffline,
        ErrorCode::AdminOnly,
        ErrorCode::AccountExists,
        ErrorCode::BadCredentials,
        ErrorCode::Internal,
    ];

    /// The code with this wire name.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::UnknownFrameType => "unknown_frame_type",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::EmptyBody => "empty_body",
            ErrorCode::BodyTooLong => "body_too_long",
            ErrorCode::InvalidClientId => "invalid_client_id",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::InvalidContent => "invalid_content",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ConversationClosed => "conversation_closed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::IdentityRequired => "identity_required",
            ErrorCode::InvalidIdentity => "invalid_identity",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnknownSite => "unknown_site",
            ErrorCode::UnknownConversation => "unknown_conversation",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotResponsible => "not_responsible",
            ErrorCode::AlreadyAssigned => "already_assigned",
            ErrorCode::AgentOffline => "agent_offline",
            ErrorCode::AdminOnly => "admin_only",
            ErrorCode::AccountExists => "account_exists",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused input: a code for programs and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: when trying again makes sense.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u32>,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_secs: None }
    }

    pub fn rate_limited(what: &str, retry_after_secs: u32) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("too many {what}; try again in {retry_after_secs} s"),
            retry_after_secs: Some(retry_after_secs.max(1)),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ProtocolError {}
