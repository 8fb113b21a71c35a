//! What the widget keeps in localStorage, per site, so a reload, a new tab or a lost
//! connection picks up where the visitor was, without signing in:
//! - the session (conversation id and token),
//! - the contact the visitor gave (email, name), reused instead of asked again,
//! - the outbox: messages written but not yet acknowledged, resent with the same client ids,
//! - the conversation before the current one, when an agent ended it, so it stays readable,
//! - the site's look (side and colour), so the loader's launcher has it before the widget loads.
//!
//! Storage can be refused (privacy modes, sandboxed frames): the chat then lasts the page view.
//! In consent mode (`data-consent="required"`), nothing is written until the visitor opens
//! the widget.

use protocol::http::ConversationStarted;
use protocol::{ClientMsgId, Contact, ConversationId, SiteId};
use protocol::json_tree::{field, write_object, FromTree, ToJson, Tree};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub conversation_id: ConversationId,
    pub token: String,
}

impl From<ConversationStarted> for Session {
    fn from(started: ConversationStarted) -> Self {
        Self { conversation_id: started.conversation_id, token: started.token }
    }
}

/// One unacknowledged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub client_id: ClientMsgId,
    pub body: String,
}

impl FromTree for Session {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(Session { conversation_id: field(tree, "conversation_id")?, token: field(tree, "token")? })
    }
}

impl ToJson for Session {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| {
            o.text("conversation_id", self.conversation_id.as_str()).text("token", &self.token);
        });
    }
}

impl FromTree for Outgoing {
    fn from_tree<T: Tree>(tree: &T) -> Option<Self> {
        Some(Outgoing { client_id: field(tree, "client_id")?, body: field(tree, "body")? })
    }
}

impl ToJson for Outgoing {
    fn write_json(&self, out: &mut String) {
        write_object(out, |o| {
            o.text("client_id", self.client_id.as_str()).text("body", &self.body);
        });
    }
}

/// The keys, so a change seen in another tab can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Session,
    Contact,
    Outbox,
    Earlier,
    /// `"left #1f5fbf"`: the launcher's side and colour, as the loader reads them.
    Look,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Slot::Session => "session",
            Slot::Contact => "contact",
            Slot::Outbox => "outbox",
            Slot::Earlier => "earlier",
            Slot::Look => "look",
        }
    }

    pub fn key(self, site: &SiteId) -> String {
        format!("chat-widget:{site}:{}", self.name())
    }
}

thread_local! {
    static CONSENTED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Consent mode: hold every write until [`grant_consent`].
pub fn require_consent() {
    CONSENTED.set(false);
}

/// The visitor opened the widget: storing is allowed from now on.
pub fn grant_consent() {
    CONSENTED.set(true);
}

pub fn consented() -> bool {
    CONSENTED.get()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load<T: FromTree>(site: &SiteId, slot: Slot) -> Option<T> {
    let raw = storage()?.get_item(&slot.key(site)).ok()??;
    crate::json::parse(&raw)
}

pub fn save<T: ToJson + ?Sized>(site: &SiteId, slot: Slot, value: &T) {
    if !consented() {
        return;
    }
    if let Some(storage) = storage() {
        let _ = storage.set_item(&slot.key(site), &value.to_json());
    }
}

pub fn forget(site: &SiteId, slot: Slot) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&slot.key(site));
    }
}

pub fn load_contact(site: &SiteId) -> Contact {
    load(site, Slot::Contact).unwrap_or_default()
}

pub fn load_outbox(site: &SiteId) -> Vec<Outgoing> {
    load(site, Slot::Outbox).unwrap_or_default()
}

/// `shutdown`: a shared computer forgets everything about this visitor.
pub fn forget_all(site: &SiteId) {
    for slot in [Slot::Session, Slot::Contact, Slot::Outbox, Slot::Earlier] {
        forget(site, slot);
    }
}
