//! The round button that opens and closes the chat, with the unread count.

use crate::chat::Chat;
use leptos::html;
use leptos::prelude::*;

#[component]
pub fn Launcher(chat: &'static Chat, node_ref: NodeRef<html::Button>) -> impl IntoView {
    let strings = chat.strings;
    let open = chat.open;
    let unread = move || {
        let read = chat.view.with(|v| v.read.visitor);
        chat.thread.with(|t| t.unread(read))
    };
    let label = move || match (open.get(), unread()) {
        (true, _) => strings.close_chat().to_owned(),
        (false, 0) => strings.open_chat().to_owned(),
        (false, n) => strings.open_chat_unread().replace("{n}", &n.to_string()),
    };
    view! {
        <button
            node_ref=node_ref
            class="cw-launcher"
            type="button"
            aria-controls="cw-panel"
            aria-expanded=move || if open.get() { "true" } else { "false" }
            aria-label=label
            on:click=move |_| open.update(|o| *o = !*o)
        >
            // Closed, the stylesheet draws a speech bubble.
            <span aria-hidden="true">{move || if open.get() { "×" } else { "" }}</span>
            {move || (!open.get() && unread() > 0).then(|| view! { <span class="cw-badge" aria-hidden="true">{unread}</span> })}
        </button>
    }
}
