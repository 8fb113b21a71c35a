//! HTTP routes and bodies. Paths are built here so relay, widget and tests agree on them.

use crate::content::Contact;
use crate::error::{ErrorCode, ProtocolError};
use crate::ids::{ConversationId, Seq, SiteId};
use serde::{Deserialize, Serialize};

/// Optional body of `POST /api/sites/{site}/conversations`: what the visitor already told us
/// (the pre-chat form, or the site's `identify` call).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartConversation {
    #[serde(default)]
    pub contact: Contact,
    /// The page the visitor started on: email links lead back there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<crate::content::SafeUrl>,
    /// The site's signed-in user (`identify` with `user_id` and `user_hash`): required when the
    /// site verifies identities; a verified user gets their open conversation back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::content::Identity>,
}

/// Answer to `GET /api/agent/sites/{site}/identity-secret`: the key a site's server signs
/// user ids with (hex HMAC-SHA256 of the user id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentitySecret {
    pub secret: String,
}

/// `DELETE` with agent credentials: erase a conversation (a visitor's request by other means).
pub fn agent_conversation_path(conversation: &ConversationId) -> String {
    format!("/api/agent/conversations/{conversation}")
}

/// `GET` with agent credentials: the site's identity secret.
pub fn identity_secret_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/identity-secret")
}

/// Body of `POST /api/inbound/email`: a reply to one of our emails, as a mail provider's
/// inbound hook delivers it. Signed: the hex HMAC-SHA256 of the body with the relay's
/// inbound secret goes in [`INBOUND_SIGNATURE_HEADER`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEmail {
    /// The address it was sent to: our per-conversation reply address.
    pub to: String,
    pub from: String,
    /// The plain-text body, quotes and signature included.
    pub text: String,
    /// The mail's Message-ID, so a redelivered mail is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

pub const INBOUND_SIGNATURE_HEADER: &str = "X-Chat-Signature";

/// `POST` an [`InboundEmail`].
pub const INBOUND_EMAIL_PATH: &str = "/api/inbound/email";

/// The fragment that carries a resume token in an email link: `…#chat-resume=TOKEN`.
pub const RESUME_FRAGMENT: &str = "chat-resume=";

/// Answer to `POST /api/sites/{site}/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationStarted {
    pub conversation_id: ConversationId,
    /// Signed visitor token: opens this conversation, and only this one.
    pub token: String,
}

/// Body of every HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ProtocolError,
}

/// Query parameter names of the WebSocket routes.
pub mod query {
    pub const TOKEN: &str = "token";
    pub const AFTER_SEQ: &str = "after_seq";
    pub const VERSION: &str = "v";
    /// Filters an agent's conversation list to one contact's.
    pub const EMAIL: &str = "email";
    /// Asks for the closed conversations older than one already listed (its
    /// [`ClosedCursor`](super::ClosedCursor)).
    pub const CLOSED_BEFORE: &str = "closed_before";
    pub const USER_ID: &str = "user_id";
    pub const USER_HASH: &str = "user_hash";
}

/// `POST`: a visitor starts a conversation on a site.
pub fn start_conversation_path(site: &SiteId) -> String {
    format!("/api/sites/{site}/conversations")
}

/// WebSocket: a visitor (re)connects to the conversation its token opens.
pub fn visitor_connect_path(token: &str, after_seq: Seq) -> String {
    format!(
        "/api/connect?{}={token}&{}={after_seq}&{}={}",
        query::TOKEN,
        query::AFTER_SEQ,
        query::VERSION,
        crate::PROTOCOL_VERSION
    )
}

/// The same, for a site that verifies identities: the user comes along.
pub fn verified_connect_path(token: &str, after_seq: Seq, identity: &crate::content::Identity) -> String {
    format!(
        "{}&{}={}&{}={}",
        visitor_connect_path(token, after_seq),
        query::USER_ID,
        percent_encode(&identity.user_id),
        query::USER_HASH,
        identity.user_hash
    )
}

/// `GET`: the widget's settings and whether an agent is online (a `SiteView`).
pub fn widget_view_path(site: &SiteId) -> String {
    format!("/api/sites/{site}/widget")
}

/// WebSocket: live `availability` frames for an open widget.
pub fn availability_path(site: &SiteId) -> String {
    format!("/api/sites/{site}/availability?{}={}", query::VERSION, crate::PROTOCOL_VERSION)
}

/// `GET` (agents) or `PUT` (admins) a site's `WidgetSettings`.
pub fn settings_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/settings")
}

/// `GET` (agents) or `PUT` (admins) a site's `InboxSettings`: routing and time limits.
pub fn inbox_settings_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/inbox-settings")
}

/// `GET` (agents) or `PUT` (admins) a site's `CannedResponses`.
pub fn canned_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/canned")
}

/// `GET` or `PUT` (admins) a site's `Automations`.
pub fn automations_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/automations")
}

/// `GET` (admins) the site's webhook `DeliveryLog`.
pub fn deliveries_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/deliveries")
}

/// `POST` (admins): a delivery that failed for good is sent again (and retried as a new one);
/// answers the `Delivery`.
pub fn delivery_retry_path(site: &SiteId, delivery: u64) -> String {
    format!("/api/agent/sites/{site}/deliveries/{delivery}/retry")
}

/// `GET` (admins) the key webhook calls are signed with (an `IdentitySecret`-shaped answer).
pub fn webhook_secret_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/webhook-secret")
}

/// `POST` an `Outbound`: an online agent writes first to a known contact.
pub fn outbound_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/outbound")
}

/// `GET` the site's `Analytics` for days `from..=to` (`YYYY-MM-DD`, UTC).
pub fn analytics_path(site: &SiteId, from: &str, to: &str) -> String {
    format!("/api/agent/sites/{site}/analytics?from={from}&to={to}")
}

/// WebSocket with a session: the agent's connection to the site (presence, live inbox,
/// alerts).
pub fn agent_site_connect_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/connect?{}={}", query::VERSION, crate::PROTOCOL_VERSION)
}

/// `GET` with a session: the site's `Inbox`, most recently active first.
pub fn agent_conversations_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/conversations")
}

/// Where a page of closed conversations ends: the oldest one listed, by last activity (and
/// id, for those active in the same millisecond). The next page is what comes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedCursor {
    pub updated_at: u64,
    pub conversation_id: ConversationId,
}

impl ClosedCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.updated_at, self.conversation_id)
    }

    pub fn parse(raw: &str) -> Result<ClosedCursor, ProtocolError> {
        let invalid = || ProtocolError::new(ErrorCode::InvalidContent, "closed_before is {updated_at}.{conversation id}");
        let (at, id) = raw.split_once('.').ok_or_else(invalid)?;
        Ok(ClosedCursor { updated_at: at.parse().map_err(|_| invalid())?, conversation_id: ConversationId::parse(id).map_err(|_| invalid())? })
    }
}

/// `GET` with a session: the closed conversations listed after `cursor`, as an `Inbox`.
pub fn older_closed_conversations_path(site: &SiteId, cursor: &ClosedCursor) -> String {
    format!("{}?{}={}", agent_conversations_path(site), query::CLOSED_BEFORE, cursor.encode())
}

/// The same, only the conversations of one contact (earlier conversations).
pub fn contact_conversations_path(site: &SiteId, email: &crate::content::Email) -> String {
    format!("{}?{}={}", agent_conversations_path(site), query::EMAIL, percent_encode(email.as_str()))
}

/// WebSocket with a session: an agent opens a conversation (to read along, or to work it).
pub fn agent_connect_path(conversation: &ConversationId, after_seq: Seq) -> String {
    format!(
        "/api/agent/conversations/{conversation}/connect?{}={after_seq}&{}={}",
        query::AFTER_SEQ,
        query::VERSION,
        crate::PROTOCOL_VERSION
    )
}

/// `POST` a `Login`; the answer sets the session cookie.
pub const LOGIN_PATH: &str = "/api/agent/login";
/// `POST`: ends the session.
pub const LOGOUT_PATH: &str = "/api/agent/logout";
/// `GET`: who is signed in (`SignedIn`).
pub const ME_PATH: &str = "/api/agent/me";
/// `GET` the team's accounts; `POST` a `NewAccount` (admins).
pub const ACCOUNTS_PATH: &str = "/api/agent/accounts";
/// `POST` a `send` or `note` [`crate::ClientFrame`] (agent credentials), for programs that keep
/// no connection open: answers the stored `Message`, `201`, or `200` when its client id was
/// already stored. The same rules as on a connection (only the responsible agent replies).
pub fn agent_messages_path(conversation: &ConversationId) -> String {
    format!("/api/agent/conversations/{conversation}/messages")
}

/// `POST` a `BotReply` (the site's bot, with its key).
pub fn bot_message_path(conversation: &ConversationId) -> String {
    format!("/api/bot/conversations/{conversation}/messages")
}

/// `POST`, no body (the site's bot, with its key): the conversation joins the agents' queue.
pub fn bot_handover_path(conversation: &ConversationId) -> String {
    format!("/api/bot/conversations/{conversation}/handover")
}

/// `GET` (admins): `IdentitySecret` holding the key the site's bot answers with.
pub fn bot_key_path(site: &SiteId) -> String {
    format!("/api/agent/sites/{site}/bot-key")
}

/// `PATCH` an `AccountChange`, or `DELETE`: one account (admins).
pub fn account_path(account: &crate::inbox::AgentId) -> String {
    format!("{ACCOUNTS_PATH}/{account}")
}

/// The session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "chat_session";

/// Percent-encodes everything but unreserved URL characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn error_body_shape() {
        let body = ErrorBody { error: ProtocolError::new(ErrorCode::UnknownSite, "no such site") };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(json, r#"{"error":{"code":"unknown_site","message":"no such site"}}"#);
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), body);
    }

    #[test]
    fn closed_cursors_read_back_and_refuse_anything_else() {
        let cursor = ClosedCursor { updated_at: 1_795_305_600_000, conversation_id: ConversationId::parse(&"ab".repeat(32)).unwrap() };
        assert_eq!(ClosedCursor::parse(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "12", "x.abab", &format!("12.{}", "zz".repeat(32)), &format!("-1.{}", "ab".repeat(32))] {
            assert_eq!(ClosedCursor::parse(bad).unwrap_err().code, ErrorCode::InvalidContent, "{bad}");
        }
    }

    #[test]
    fn paths() {
        let site = SiteId::parse("demo").unwrap();
        assert_eq!(start_conversation_path(&site), "/api/sites/demo/conversations");
        assert_eq!(visitor_connect_path("t.k", 4), "/api/connect?token=t.k&after_seq=4&v=1");
        let conv = ConversationId::parse(&"0f".repeat(32)).unwrap();
        assert!(agent_connect_path(&conv, 0).ends_with("/connect?after_seq=0&v=1"));
        assert_eq!(percent_encode("Ana María"), "Ana%20Mar%C3%ADa");
    }

    #[test]
    fn started_round_trips() {
        let started = ConversationStarted { conversation_id: ConversationId::parse(&"0f".repeat(32)).unwrap(), token: "v1.x".into() };
        let json = serde_json::to_string(&started).unwrap();
        assert_eq!(serde_json::from_str::<ConversationStarted>(&json).unwrap(), started);
    }
}
