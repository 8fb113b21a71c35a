//! The round button that opens and closes the chat, with the unread count.

use super::dom::{attrs, bind_attr, bind_text, on, slot, tag, tag_text};
use crate::chat::Chat;
use leptos::prelude::*;
use web_sys::{Element, Node};

/// Draws the launcher into `parent` and hands it back (focus returns to it on close).
pub fn launcher(parent: &Node, chat: &'static Chat) -> Element {
    let strings = chat.strings;
    let open = chat.open;
    let unread = move || {
        let read = chat.view.with(|v| v.read.visitor);
        chat.thread.with(|t| t.unread(read))
    };
    let button = tag(parent, "button", "cw-launcher");
    attrs(&button, &[("type", "button"), ("aria-controls", "cw-panel")]);
    bind_attr(&button, "aria-expanded", move || Some(open.get().to_string()));
    bind_attr(&button, "aria-label", move || {
        Some(match (open.get(), unread()) {
            (true, _) => strings.close_chat().to_owned(),
            (false, 0) => strings.open_chat().to_owned(),
            (false, n) => strings.open_chat_unread().replace("{n}", &n.to_string()),
        })
    });
    on(&button, "click", move |_| open.update(|o| *o = !*o));
    // Closed, the stylesheet draws a speech bubble.
    let icon = tag(&button, "span", "");
    attrs(&icon, &[("aria-hidden", "true")]);
    bind_text(&icon, move || if open.get() { "×" } else { "" }.to_owned());
    slot(&button, move |at| {
        let count = if open.get() { 0 } else { unread() };
        if count > 0 {
            let badge = tag_text(at, "span", "cw-badge", &count.to_string());
            attrs(&badge, &[("aria-hidden", "true")]);
        }
    });
    button
}
