//! Replies and notes the relay has not acknowledged, kept per conversation in localStorage:
//! an agent who switches to another chat (or reloads) while one is on its way finds it sent
//! when this conversation opens again, with the same client id, so it is stored once.

use crate::browser;
use crate::state::thread::Outgoing;
use protocol::ConversationId;

pub const PREFIX: &str = "console-outbox";

fn key(conversation: &ConversationId) -> String {
    format!("{PREFIX}:{conversation}")
}

pub fn load(conversation: &ConversationId) -> Vec<Outgoing> {
    browser::load(&key(conversation)).and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default()
}

pub fn save(conversation: &ConversationId, outbox: &[Outgoing]) {
    match serde_json::to_string(outbox) {
        Ok(json) if !outbox.is_empty() => browser::save(&key(conversation), &json),
        _ => browser::forget(&key(conversation)),
    }
}
