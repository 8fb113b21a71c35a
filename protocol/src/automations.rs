//! Automations: signed webhook calls when something happens in a site's conversations.
//! Admins configure which events go to which URL; the relay retries each call until it is
//! delivered (for [`WEBHOOK_RETRY_HOURS`]; then an admin can send it again) and keeps a delivery log. Nothing is
//! sent about a conversation marked as spam (blocked).
//!
//! A site may also have a [`Bot`]: new conversations start with it instead of in the queue.
//! It hears them like a webhook, answers through the bot API ([`BotReply`]) and hands each
//! over to the agents when it is done (or an agent takes over).

use crate::content::{validate_suggestions, Contact, SafeUrl};
use crate::error::{ErrorCode, ProtocolError};
use crate::ids::{AgentName, ClientMsgId, ConversationId, SiteId};
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

/// One endpoint, the events it wants, and the body it expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: SafeUrl,
    pub events: Vec<EventKind>,
    /// The body's fields under the names the endpoint expects; none: the whole
    /// [`WebhookEvent`] under its own names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldMapping>,
}

/// What a webhook body can carry, from the [`WebhookEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookField {
    Event,
    SiteName,
    ConversationId,
    /// When it happened, milliseconds since the Unix epoch.
    At,
    VisitorName,
    VisitorEmail,
    PageUrl,
    /// The visitor's message (`visitor_message`); for other events, the conversation's last
    /// message at the time.
    Text,
    /// The agent now responsible (`conversation_assigned`).
    AgentName,
}

impl WebhookField {
    pub const ALL: [WebhookField; 9] = [
        WebhookField::Event,
        WebhookField::SiteName,
        WebhookField::ConversationId,
        WebhookField::At,
        WebhookField::VisitorName,
        WebhookField::VisitorEmail,
        WebhookField::PageUrl,
        WebhookField::Text,
        WebhookField::AgentName,
    ];
}

/// One field of a mapped body: which value, under which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    pub field: WebhookField,
    pub key: String,
}

/// Most webhooks a site keeps.
pub const MAX_WEBHOOKS: usize = 10;
/// Most fields one webhook's body maps.
pub const MAX_MAPPED_FIELDS: usize = 20;
/// Longest key of a mapped field, in characters.
pub const MAX_FIELD_KEY_CHARS: usize = 64;
/// How long a delivery is retried (backing off to one call an hour) before it waits for an
/// admin to send it again: an endpoint down over a long weekend still gets everything.
pub const WEBHOOK_RETRY_HOURS: u64 = 72;
/// The header carrying the call's signature: the hex HMAC-SHA256 of
/// `{timestamp}.{delivery}.{body}`, keyed with the site's webhook secret.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Chat-Signature";
/// When the call was made, in seconds since the Unix epoch: signed, so a receiver can refuse
/// a call recorded and replayed later.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "X-Chat-Timestamp";
/// The delivery's id, the same on every retry of it: a receiver that took a call whose answer
/// was lost can tell the retry apart from a new event.
pub const WEBHOOK_DELIVERY_HEADER: &str = "X-Chat-Delivery";

/// What a webhook call's signature covers.
pub fn webhook_signed_text(timestamp_secs: u64, delivery: &str, body: &str) -> String {
    format!("{timestamp_secs}.{delivery}.{body}")
}

/// A site's automations: `GET` and `PUT` for admins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Automations {
    pub webhooks: Vec<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Bot>,
}

/// The bot new conversations start with. It is called like a webhook (signed the same way,
/// retried, in the delivery log) with the whole [`WebhookEvent`] for [`Bot::EVENTS`] while it
/// has the conversation, and visitors see its answers under `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    pub url: SafeUrl,
    pub name: AgentName,
}

impl Bot {
    pub const EVENTS: [EventKind; 2] = [EventKind::ConversationCreated, EventKind::VisitorMessage];

    /// Called like a webhook that wants the bot's events, with whole events.
    pub fn as_webhook(&self) -> Webhook {
        Webhook { url: self.url.clone(), events: Bot::EVENTS.to_vec(), fields: Vec::new() }
    }
}

/// `POST /api/bot/conversations/{id}/messages`, with `Authorization: Bearer` and the site's
/// bot key: the bot answers the visitor. The client id makes a retried call store nothing new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotReply {
    pub client_id: ClientMsgId,
    pub text: String,
    /// Buttons the visitor may tap to answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

impl BotReply {
    pub fn validated(self) -> Result<BotReply, ProtocolError> {
        Ok(BotReply {
            client_id: ClientMsgId::parse(self.client_id.as_str())?,
            text: crate::frames::validate_body(&self.text)?,
            suggestions: validate_suggestions(self.suggestions)?,
        })
    }
}

impl Automations {
    pub fn validated(self) -> Result<Self, ProtocolError> {
        if self.webhooks.len() > MAX_WEBHOOKS {
            return Err(ProtocolError::new(ErrorCode::InvalidContent, format!("at most {MAX_WEBHOOKS} webhooks")));
        }
        if self.webhooks.iter().any(|w| w.events.is_empty()) {
            return Err(ProtocolError::new(ErrorCode::InvalidContent, "a webhook needs at least one event"));
        }
        // Calls carry visitors' names, addresses and words: never in clear over the internet.
        let urls = self.webhooks.iter().map(|w| &w.url).chain(self.bot.as_ref().map(|b| &b.url));
        if let Some(open) = urls.into_iter().find(|url| !url.is_private_in_transit()) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidUrl,
                format!("{open} is not https: webhooks and bots are called over https (http only on this machine, for testing)"),
            ));
        }
        let webhooks = self.webhooks.into_iter().map(Webhook::with_checked_fields).collect::<Result<_, _>>()?;
        Ok(Automations { webhooks, bot: self.bot })
    }

    /// The webhooks that want this event.
    pub fn webhooks_for(&self, kind: EventKind) -> impl Iterator<Item = &Webhook> {
        self.webhooks.iter().filter(move |w| w.events.contains(&kind))
    }
}

impl Webhook {
    /// Keys trimmed, each present, short and used once.
    fn with_checked_fields(mut self) -> Result<Self, ProtocolError> {
        let invalid = |why: String| Err(ProtocolError::new(ErrorCode::InvalidContent, why));
        if self.fields.len() > MAX_MAPPED_FIELDS {
            return invalid(format!("a webhook maps at most {MAX_MAPPED_FIELDS} fields"));
        }
        let mut seen: Vec<&str> = Vec::new();
        for mapping in &mut self.fields {
            mapping.key = mapping.key.trim().to_owned();
        }
        for mapping in &self.fields {
            let key = mapping.key.as_str();
            if key.is_empty() || key.chars().count() > MAX_FIELD_KEY_CHARS || key.chars().any(char::is_control) {
                return invalid(format!("a field's name is 1 to {MAX_FIELD_KEY_CHARS} characters"));
            }
            if seen.contains(&key) {
                return invalid(format!("the field name \"{key}\" is used twice"));
            }
            seen.push(key);
        }
        Ok(self)
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
    /// The visitor's message, for `visitor_message`; for other events the conversation's last
    /// message then (none when it has none, and never after an erasure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The agent now responsible, for `conversation_assigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::inbox::Assignee>,
}

impl WebhookEvent {
    /// The body a webhook is called with: the fields it maps, under its keys (`null` where
    /// this event has no value), or the whole event when it maps none.
    pub fn body_for(&self, webhook: &Webhook) -> String {
        if webhook.fields.is_empty() {
            return serde_json::to_string(self).unwrap_or_default();
        }
        let body: serde_json::Map<String, serde_json::Value> =
            webhook.fields.iter().map(|m| (m.key.clone(), self.value(m.field))).collect();
        serde_json::Value::Object(body).to_string()
    }

    fn value(&self, field: WebhookField) -> serde_json::Value {
        let text = |value: Option<&str>| value.map_or(serde_json::Value::Null, |v| v.into());
        match field {
            WebhookField::Event => serde_json::to_value(self.event).unwrap_or_default(),
            WebhookField::SiteName => self.site_name.as_str().into(),
            WebhookField::ConversationId => self.conversation_id.as_str().into(),
            WebhookField::At => self.at.into(),
            WebhookField::VisitorName => text(self.contact.name.as_deref()),
            WebhookField::VisitorEmail => text(self.contact.email.as_ref().map(|e| e.as_str())),
            WebhookField::PageUrl => text(self.page_url.as_deref()),
            WebhookField::Text => text(self.text.as_deref()),
            WebhookField::AgentName => text(self.agent.as_ref().map(|a| a.name.as_str())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Not taken in [`WEBHOOK_RETRY_HOURS`] of retries: it waits for an admin to send it again.
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
        let hook = |url: &str, events: Vec<EventKind>| Webhook { url: SafeUrl::parse(url).unwrap(), events, fields: vec![] };
        let automations = Automations {
            bot: None,
            webhooks: vec![
                hook("https://crm.example/hook", vec![EventKind::ConversationCreated, EventKind::ConversationErased]),
                hook("https://audit.example/hook", vec![EventKind::ConversationErased]),
            ],
        };
        let erased: Vec<_> = automations.webhooks_for(EventKind::ConversationErased).map(|w| w.url.as_str()).collect();
        assert_eq!(erased, ["https://crm.example/hook", "https://audit.example/hook"]);
        assert_eq!(automations.webhooks_for(EventKind::VisitorMessage).count(), 0);
        let json = r#"{"webhooks":[{"url":"https://x.example/h","events":["visitor_message"]}]}"#;
        assert!(serde_json::from_str::<Automations>(json).unwrap().validated().is_ok());
        let none = Automations { webhooks: vec![hook("https://x.example/h", vec![])], bot: None };
        assert_eq!(none.validated().unwrap_err().code, ErrorCode::InvalidContent);

        // In clear only to this machine.
        for (url, allowed) in [
            ("http://crm.example/hook", false),
            ("http://127.0.0.1.evil.example/hook", false),
            ("http://localhost.evil.example/", false),
            ("http://user@crm.example/", false),
            ("http://127.0.0.1:8080/hook", true),
            ("http://localhost/hook", true),
            ("http://[::1]:9000/hook", true),
            ("HTTPS://crm.example/hook", true),
        ] {
            let one = Automations { webhooks: vec![hook(url, vec![EventKind::VisitorMessage])], bot: None };
            assert_eq!(one.validated().is_ok(), allowed, "{url}");
        }
        let clear_bot = Automations {
            webhooks: vec![],
            bot: Some(Bot { url: SafeUrl::parse("http://bot.example/").unwrap(), name: AgentName::parse("Sunny").unwrap() }),
        };
        assert_eq!(clear_bot.validated().unwrap_err().code, ErrorCode::InvalidUrl);
        let js = r#"{"webhooks":[{"url":"javascript:alert(1)","events":["visitor_message"]}]}"#;
        assert!(serde_json::from_str::<Automations>(js).is_err());
    }

    fn mapped<K: Into<String>>(fields: impl IntoIterator<Item = (WebhookField, K)>) -> Webhook {
        Webhook {
            url: SafeUrl::parse("https://crm.example/hook").unwrap(),
            events: vec![EventKind::VisitorMessage],
            fields: fields.into_iter().map(|(field, key)| FieldMapping { field, key: key.into() }).collect(),
        }
    }

    #[test]
    fn a_webhook_gets_the_fields_it_maps_under_its_own_names() {
        let event = WebhookEvent {
            event: EventKind::VisitorMessage,
            site: SiteId::parse("site-01").unwrap(),
            site_name: "Shop".into(),
            conversation_id: ConversationId::parse(&"0a".repeat(32)).unwrap(),
            at: 1_700_000_000_000,
            contact: Contact { email: Some(crate::Email::parse("kim@example.com").unwrap()), name: None },
            page_url: None,
            text: Some("Where is my order?".into()),
            agent: None,
        };
        let hook = mapped([(WebhookField::Event, "type"), (WebhookField::VisitorEmail, "email"), (WebhookField::Text, "message"), (WebhookField::VisitorName, "name")]);
        let body: serde_json::Value = serde_json::from_str(&event.body_for(&hook)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "visitor_message", "email": "kim@example.com", "message": "Where is my order?", "name": null})
        );
        // Nothing mapped: the whole event, as before mappings existed.
        let whole: WebhookEvent = serde_json::from_str(&event.body_for(&mapped::<&str>([]))).unwrap();
        assert_eq!(whole, event);
    }

    #[test]
    fn mapped_names_are_checked() {
        let check = |fields: Vec<(WebhookField, String)>| Automations { webhooks: vec![mapped(fields)], bot: None }.validated();
        let trimmed = check(vec![(WebhookField::Text, "  message ".into())]).unwrap();
        assert_eq!(trimmed.webhooks[0].fields[0].key, "message");
        for bad in [
            vec![(WebhookField::Text, " ".into())],
            vec![(WebhookField::Text, "a".into()), (WebhookField::At, "a".into())],
            vec![(WebhookField::Text, "x".repeat(MAX_FIELD_KEY_CHARS + 1))],
            vec![(WebhookField::Text, "line\nbreak".into())],
            (0..=MAX_MAPPED_FIELDS).map(|n| (WebhookField::Text, format!("k{n}"))).collect(),
        ] {
            assert_eq!(check(bad.clone()).unwrap_err().code, ErrorCode::InvalidContent, "{bad:?}");
        }
    }
}
