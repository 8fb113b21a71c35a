//! The visitor's session, persisted in localStorage per site, so a reload or a new tab
//! re-enters the same conversation without signing in.

use protocol::http::ConversationStarted;
use protocol::{ConversationId, SiteId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub conversation_id: ConversationId,
    pub token: String,
}

impl From<ConversationStarted> for Session {
    fn from(started: ConversationStarted) -> Self {
        Self { conversation_id: started.conversation_id, token: started.token }
    }
}

fn key(site: &SiteId) -> String {
    format!("chat-widget:{site}:session")
}

fn storage() -> Option<web_sys::Storage> {
    // Storage can be refused (privacy modes, sandboxed iframes): the chat then works for
    // this page view only.
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(site: &SiteId) -> Option<Session> {
    let raw = storage()?.get_item(&key(site)).ok()??;
    serde_json::from_str(&raw).ok()
}

pub fn save(site: &SiteId, session: &Session) {
    if let (Some(storage), Ok(raw)) = (storage(), serde_json::to_string(session)) {
        let _ = storage.set_item(&key(site), &raw);
    }
}

pub fn forget(site: &SiteId) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&key(site));
    }
}
