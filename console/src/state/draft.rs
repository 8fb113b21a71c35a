//! Unsent replies, kept per conversation in localStorage so a reload loses nothing.

use crate::browser;
use protocol::ConversationId;

fn key(conversation: &ConversationId) -> String {
    format!("console-draft:{conversation}")
}

pub fn load(conversation: &ConversationId) -> String {
    browser::load(&key(conversation)).unwrap_or_default()
}

pub fn save(conversation: &ConversationId, draft: &str) {
    if draft.is_empty() {
        clear(conversation);
    } else {
        browser::save(&key(conversation), draft);
    }
}

pub fn clear(conversation: &ConversationId) {
    browser::forget(&key(conversation));
}
