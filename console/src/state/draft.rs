//! Unsent replies, kept per conversation in localStorage so a reload loses nothing.

use crate::browser;
use protocol::ConversationId;

/// Every key of this store starts so (the notes' flags too).
pub const PREFIX: &str = "console-draft";

fn key(conversation: &ConversationId) -> String {
    format!("{PREFIX}:{conversation}")
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

fn note_key(conversation: &ConversationId) -> String {
    format!("{PREFIX}-note:{conversation}")
}

/// Whether the composer was writing a private note here: a note comes back as a note.
pub fn is_note(conversation: &ConversationId) -> bool {
    browser::load(&note_key(conversation)).is_some()
}

pub fn set_note(conversation: &ConversationId, note: bool) {
    if note {
        browser::save(&note_key(conversation), "1");
    } else {
        browser::forget(&note_key(conversation));
    }
}
