//! The launcher and the panel around the conversation.

use super::composer::Composer;
use super::messages::MessageList;
use crate::config::WidgetConfig;
use crate::connection::{Link, LinkStatus};
use leptos::html;
use leptos::prelude::*;

#[component]
pub fn App(config: WidgetConfig) -> impl IntoView {
    let open = RwSignal::new(config.open);
    let link = Link::new(config);
    let status = link.status;
    let launcher: NodeRef<html::Button> = NodeRef::new();

    let close = move || {
        open.set(false);
        // Focus goes back to where the visitor opened the chat from.
        if let Some(button) = launcher.get_untracked() {
            let _ = button.focus();
        }
    };
    let status_text = move || match status.get() {
        LinkStatus::Reconnecting => "Reconnecting…",
        LinkStatus::Connecting => "Connecting…",
        LinkStatus::Idle | LinkStatus::Connected => "",
    };

    view! {
        <div class="cw" class:cw-open=move || open.get()>
            <section
                id="cw-panel"
                class="cw-panel"
                role="dialog"
                aria-label="Chat"
                hidden=move || !open.get()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        close();
                    }
                }
            >
                <header class="cw-header">
                    <h2 class="cw-title">"Chat with us"</h2>
                    <p class="cw-status" role="status">{status_text}</p>
                    <button class="cw-close" type="button" aria-label="Close chat" on:click=move |_| close()>
                        "×"
                    </button>
                </header>
                <MessageList link=link/>
                <Composer link=link open=open/>
            </section>
            <button
                node_ref=launcher
                class="cw-launcher"
                type="button"
                aria-controls="cw-panel"
                aria-expanded=move || open.get().to_string()
                aria-label=move || if open.get() { "Close chat" } else { "Open chat" }
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span aria-hidden="true">{move || if open.get() { "×" } else { "💬" }}</span>
            </button>
        </div>
    }
}
