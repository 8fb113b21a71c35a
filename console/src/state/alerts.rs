//! Alerts from the relay: a toast until dismissed, a line for screen readers, and a system
//! notification when the agent allowed them and is looking elsewhere.

use super::desk::{Desk, Toast};
use super::words::{alert_text, contact_label};
use crate::browser;
use leptos::prelude::*;
use protocol::inbox::Alert;
use protocol::ConversationId;

/// Older toasts give way beyond this many.
const MAX_TOASTS: usize = 5;

impl Desk {
    pub fn raise(&self, conversation_id: ConversationId, alert: Alert) {
        let text = alert_text(&alert, self.unanswered_minutes.get_untracked());
        let contact = self.inbox.with_untracked(|i| i.get(&conversation_id).map(|e| contact_label(&e.contact)));
        self.toasts.update(|toasts| {
            let id = toasts.iter().map(|t| t.id + 1).max().unwrap_or(1);
            toasts.push(Toast { id, conversation_id: conversation_id.clone(), text: text.clone(), contact: contact.clone() });
            let excess = toasts.len().saturating_sub(MAX_TOASTS);
            toasts.drain(..excess);
        });
        self.announcement.set(text.clone());
        let desk = *self;
        browser::notify(&text, contact.as_deref().unwrap_or(""), move || desk.open_conversation(conversation_id));
    }

    pub fn dismiss(&self, id: u64) {
        self.toasts.update(|toasts| toasts.retain(|t| t.id != id));
    }
}
