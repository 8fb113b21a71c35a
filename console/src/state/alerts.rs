//! Alerts from the relay: a toast until dismissed, a line for screen readers, and a system
//! notification when the agent allowed them and is looking elsewhere. A conversation has one
//! toast (its newest alert), gone once the agent opens the conversation; an alert about the
//! conversation the agent is looking at is only said to screen readers.

use super::desk::{Desk, Page, Toast};
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
        self.announcement.set(text.clone());
        if self.looking_at(&conversation_id) {
            return;
        }
        let contact = self.inbox.with_untracked(|i| i.get(&conversation_id).map(|e| contact_label(&e.contact)));
        self.toasts.update(|toasts| {
            let id = toasts.iter().map(|t| t.id + 1).max().unwrap_or(1);
            toasts.retain(|t| t.conversation_id != conversation_id);
            toasts.push(Toast { id, conversation_id: conversation_id.clone(), text: text.clone(), contact: contact.clone() });
            let excess = toasts.len().saturating_sub(MAX_TOASTS);
            toasts.drain(..excess);
        });
        let desk = *self;
        let tag = conversation_id.to_string();
        browser::notify(&text, contact.as_deref().unwrap_or(""), &tag, move || desk.open_conversation(conversation_id));
    }

    /// The conversation is open on the inbox page, in a window the agent is using.
    fn looking_at(&self, conversation_id: &ConversationId) -> bool {
        self.page.get_untracked() == Page::Inbox
            && self.open.with_untracked(|open| open.as_ref() == Some(conversation_id))
            && self.page_visible.get_untracked()
            && browser::page_has_focus()
    }

    /// The agent has the conversation in front of them: its alert has done its work.
    pub fn dismiss_for(&self, conversation_id: &ConversationId) {
        if self.toasts.with_untracked(|toasts| toasts.iter().any(|t| &t.conversation_id == conversation_id)) {
            self.toasts.update(|toasts| toasts.retain(|t| &t.conversation_id != conversation_id));
        }
    }

    pub fn dismiss(&self, id: u64) {
        self.toasts.update(|toasts| toasts.retain(|t| t.id != id));
    }
}
