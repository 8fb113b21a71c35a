//! Automations: signed webhook calls when something happens in a site's conversations.
//! Admins configure which events go to which URL; the relay retries each call until it is
//! delivered (or gives up after [`WEBHOOK_ATTEMPTS`]) and keeps a delivery log. Nothing is
//! sent about a conversation marked as spam (blocked).

use crate::content::{Contact, SafeUrl};
use crate::error::{ErrorCode, ProtocolError};
use crate::ids::{ConversationId, SiteId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ConversationCreated,
    VisitorMessage,
    ConversationAssigned,
    ConversationClosed,
    /// Its data was erased (the visitor asked, an agent did it, or the site's retention).
    ConversationErased,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::ConversationCreated,
        EventKind::VisitorMessage,
        EventKind::ConversationAssigned,
        EventKind::ConversationClosed,
        EventKind::ConversationErased,
    ];
}

/// One endpoint and the events it wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: SafeUrl,
    pub events: Vec<EventKind>,
}

/// Most webhooks a site keeps.
pub const MAX_WEBHOOKS: usize = 10;
/// Calls to an endpoint before a delivery is given up.
pub const WEBHOOK_ATTEMPTS: u32 = 8;
/// The header carrying the hex HMAC-SHA256 of the body, keyed with the site's webhook secret.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Chat-Signature";

/// A site's automations: `GET` and `PUT` for admins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Automations {
    pub webhooks: Vec<Webhook>,
}

impl Automations {
    pub fn validated(self) -> Result<Self, ProtocolError> {
        if self.webhooks.len() > MAX_WEBHOOKS {
            return Err(ProtocolError::new(ErrorCode::InvalidContent, format!("at most {MAX_WEBHOOKS} webhooks")));
        }
        if self.webhooks.iter().any(|w| w.events.is_empty()) {
            return Err(ProtocolError::new(ErrorCode::InvalidContent, "a webhook needs at least one event"));
        }
        Ok(self)
    }

    /// The endpoints that want this event.
    pub fn endpoints_for(&self, kind: EventKind) -> impl Iterator<Item = &SafeUrl> {
        self.webhooks.iter().filter(move |w| w.events.contains(&kind)).map(|w| &w.url)
    }
}

/// The body of a webhook call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub event: EventKind,
    pub site: SiteId,
    pub site_name: String,
    pub conversation_id: ConversationId,
    /// When it happened, milliseconds since the Unix epoch.
    pub at: u64,
    /// The visitor's email and name, when known (never after an erasure).
    #[serde(default)]
    pub contact: Contact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// The visitor's message, for `visitor_message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The agent now responsible, for `conversation_assigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::inbox::Assignee>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Given up after [`WEBHOOK_ATTEMPTS`] calls.
    Failed,
}

/// One call (and its retries) in the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub event: EventKind,
    pub conversation_id: ConversationId,
    pub url: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// Why the last call failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the event happened.
    pub at: u64,
}

/// Answer to `GET /api/agent/sites/{site}/deliveries` (admins): newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLog {
    pub deliveries: Vec<Delivery>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_chosen_by_event() {
        let hook = |url: &str, events: Vec<EventKind>| Webhook { url: SafeUrl::parse(url).unwrap(), events };
        let automations = Automations {
            webhooks: vec![
                hook("https://crm.example/hook", vec![EventKind::ConversationCreated, EventKind::ConversationErased]),
                hook("https://audit.example/hook", vec![EventKind::ConversationErased]),
            ],
        };
        let erased: Vec<_> = automations.endpoints_for(EventKind::ConversationErased).map(|u| u.as_str()).collect();
        assert_eq!(erased, ["https://crm.example/hook", "https://audit.example/hook"]);
        assert_eq!(automations.endpoints_for(EventKind::VisitorMessage).count(), 0);
        let json = r#"{"webhooks":[{"url":"https://x.example/h","events":["visitor_message"]}]}"#;
        assert!(serde_json::from_str::<Automations>(json).unwrap().validated().is_ok());
        let none = Automations { webhooks: vec![hook("https://x.example/h", vec![])] };
        assert_eq!(none.validated().unwrap_err().code, ErrorCode::InvalidContent);
        let js = r#"{"webhooks":[{"url":"javascript:alert(1)","events":["visitor_message"]}]}"#;
        assert!(serde_json::from_str::<Automations>(js).is_err());
    }
}
