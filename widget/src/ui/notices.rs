//! What the visitor should know about the conversation right now: nobody is online (and the
//! answer comes by email), the chat ended, or they are blocked; and the in-chat email form.

use super::dom::{attr, on, slot, tag, tag_text, text};
use super::email_form::email_form;
use super::refocus;
use crate::chat::Chat;
use leptos::prelude::*;
use protocol::site::EmailCapture;
use protocol::Status;
use web_sys::Node;

/// What the notice area shows; a memo, so the email form is not rebuilt (and what the
/// visitor typed into it lost) whenever a message arrives.
#[derive(Clone, PartialEq)]
enum Notice {
    None,
    LinkExpired,
    Deleted,
    Blocked,
    Ended,
    /// Nobody online, async on: the answer comes by email (to this address, if known);
    /// `ask` shows the email form.
    Away { email: Option<String>, ask: bool },
}

pub fn notices(parent: &Node, chat: &'static Chat) {
    let strings = chat.strings;
    let editing_email = RwSignal::new(false);
    let notice = Memo::new(move |_| {
        if !chat.ready.get() {
            return Notice::None;
        }
        let (async_mode, capture) = chat.settings.with(|s| (s.async_mode, s.email_capture));
        let empty = chat.thread.with(|t| t.entries().is_empty());
        if chat.deleted.get() && empty {
            return Notice::Deleted;
        }
        if chat.link_expired.get() && empty {
            return Notice::LinkExpired;
        }
        match chat.view.with(|v| v.status) {
            Status::Blocked => Notice::Blocked,
            Status::Deleted => Notice::Deleted,
            Status::Ended => Notice::Ended,
            Status::Open if chat.agents_online.get() || !async_mode => Notice::None,
            Status::Open => {
                let email = chat.contact.with(|c| c.email.as_ref().map(|e| e.to_string()));
                // Ask once the visitor has written, unless we know the email or they said not
                // now; and whenever they asked to change it.
                let ask = editing_email.get()
                    || (capture != EmailCapture::Off
                        && chat.thread.with(|t| t.visitor_wrote())
                        && email.is_none()
                        && !chat.email_skipped.get());
                Notice::Away { email: email.filter(|_| !editing_email.get()), ask }
            }
        }
    });
    slot(parent, move |at| {
        let line = |class: &str, role: &str, text: &str| attr(&tag_text(at, "p", class, text), "role", Some(role));
        match notice.get() {
            Notice::None => {}
            Notice::Deleted => line("cw-notice", "status", strings.deleted()),
            Notice::LinkExpired => line("cw-notice", "alert", strings.link_expired()),
            Notice::Blocked => line("cw-notice cw-notice-strong", "status", strings.blocked()),
            Notice::Ended => line("cw-notice", "status", &[strings.chat_ended(), strings.write_to_start_new()].join(" ")),
            Notice::Away { email, ask } => untrack(|| {
                let notice = tag(at, "div", "cw-notice");
                attr(&notice, "role", Some("status"));
                tag_text(&notice, "p", "", strings.away_async());
                if let Some(email) = email {
                    let reply_to = tag_text(&notice, "p", "cw-reply-to", &strings.reply_to_email().replace("{email}", &email));
                    text(&reply_to, " ");
                    let change = tag_text(&reply_to, "button", "cw-text-button", strings.change_email());
                    attr(&change, "type", Some("button"));
                    on(&change, "click", move |ev| {
                        refocus(&ev, ".cw-email-input");
                        editing_email.set(true);
                    });
                }
                if ask {
                    email_form(at, chat, false, Some(editing_email));
                }
            }),
        }
    });
}
